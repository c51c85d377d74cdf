"""The hierarchical VAE image family (``hvae``): coarse-to-fine latent groups, progressive decoding.

``family.py`` declares it (torch-free, so listing models stays fast);
``network.py`` is the float model for training, ``conversion.py`` turns its
top-down path into exact integer modules, ``integer_path.py`` runs that
path (every probability of the file), ``model_file.py`` is the shipped
weights file, ``coder.py`` compresses one image, ``session.py`` implements
the codec contract's sessions, ``trainer.py``/``training.py`` train and
``export.py`` writes the weights file from a checkpoint.
"""

from codec.models.image.hvae.family import FAMILY

__all__ = ["FAMILY"]
