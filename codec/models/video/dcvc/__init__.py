"""A DCVC-style learned video codec (after DCVC-RT, CVPR 2025): low-delay P frames, YUV 4:2:0, exact decoding.

``family.py`` declares it (torch-free); ``network.py`` is the float model,
``schedule.py`` the per-frame quality indexes, ``data.py`` / ``trainer.py``
/ ``training.py`` the training, ``integer_path.py`` the exact part of
coding, ``model_file.py`` the shipped weights bundle, ``coder.py`` the
coding of one frame, ``rate.py`` the per-frame rate controller and
``session.py`` the codec contract's sessions.
"""

from codec.models.video.dcvc.family import FAMILY

__all__ = ["FAMILY"]
