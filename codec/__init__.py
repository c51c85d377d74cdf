"""Neural media codec: learned compression of images, video and audio.

The data path is media -> ``codec.io`` -> model -> ``codec.entropy`` (rANS)
-> ``codec.container`` (the file format of ``bitstream/SPEC.md``) -> file,
and back. Each layer raises the exceptions of ``codec.errors``.

>>> import codec
>>> data, pixels = codec.round_trip("photo.png", quality=4)
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # The image API needs torch; import it on first use so the container and
    # entropy layers stay usable (and fast to import) without it.
    if name in ("encode_image", "decode_image", "round_trip"):
        from codec import api

        return getattr(api, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
