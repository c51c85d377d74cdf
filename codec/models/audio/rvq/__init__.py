"""The RVQ audio family (``rvq-audio-small``): a causal STFT-domain encoder and decoder around residual VQ.

``family.py`` declares it (torch-free); ``network.py`` is the float network,
``quantizer.py`` the residual VQ, ``prior.py`` the exact entropy prior,
``channels.py`` the joint channel transform, ``resample.py`` the exact
resampler, ``coder.py`` streaming packet coding, ``session.py`` the codec
contract's sessions, ``model_file.py`` the weights file; ``config.py``,
``data.py``, ``losses.py``, ``discriminator.py``, ``training.py`` and
``export.py`` make the weights.
"""

from codec.models.audio.rvq.family import FAMILY

__all__ = ["FAMILY"]
