"""Neural media codec: learned compression of images, video and audio.

The data path is media -> ``codec.io`` -> model -> ``codec.entropy`` (rANS)
-> ``codec.container`` (the file format of ``bitstream/SPEC.md``) -> file,
and back. Each layer raises the exceptions of ``codec.errors``.
"""

__version__ = "0.1.0"
