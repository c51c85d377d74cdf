"""The variable-rate mean-scale hyperprior image family (``hyperprior-vr-small``).

``family.py`` declares it (torch-free, so listing models stays fast);
``network.py`` is the float model for training, ``integer_path.py`` its exact
entropy path, ``model_file.py`` the shipped weights file, ``coder.py``
compression of one image, ``session.py`` the codec contract's sessions and
``export.py`` the step from a training checkpoint to a weights file.
"""

from codec.models.image.hyperprior.family import FAMILY

__all__ = ["FAMILY"]
