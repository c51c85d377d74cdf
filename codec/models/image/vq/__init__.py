"""The token image family (``vq``): binary-token grids of variable granularity, a generative decoder.

For very low rates (about 0.01-0.1 bpp). ``family.py`` declares it
(torch-free); ``network.py`` is the float model (encoder, synthesis, the
context models of the prior), ``granularity.py`` chooses where the fine
grids go, ``discriminator.py`` is the training-only adversary,
``softmax.py`` turns exact integer logits into rANS tables, ``prior.py``
codes the tokens with the integer context models, ``model_file.py`` is the
shipped weights file, ``coder.py`` compresses one image, ``session.py``
implements the codec contract's sessions, ``trainer.py``/``training.py``
train and ``export.py`` writes the weights file from a checkpoint.
"""

from codec.models.image.vq.family import FAMILY

__all__ = ["FAMILY"]
