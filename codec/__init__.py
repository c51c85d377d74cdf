"""Neural media codec: learned compression of images, video and audio.

The data path is media (``codec.media``) -> model family (``codec.models``,
found through ``codec.zoo``) -> rANS (``codec.entropy``) -> the file format
of ``bitstream/SPEC.md`` (``codec.container``) -> file, and back. Each layer
raises the exceptions of ``codec.errors``; :class:`codec.errors.CodecError`
catches them all.

>>> import codec
>>> data, pixels = codec.round_trip("astronaut.png", quality=4)
>>> with codec.open("clip.nmc") as f:
...     for item in f: ...

Public API: :func:`open` (streaming reader and writer), :func:`encode` and
:func:`decode` (whole files, any medium), :func:`encode_image`,
:func:`decode_image` and :func:`round_trip` (images in one call),
:func:`list_models` (what is installed).
"""

__version__ = "0.2.0"

# The API needs torch only when a model runs; importing it lazily keeps
# ``import codec`` (and the container and entropy layers) fast and light.
_LAZY = {
    "open": "codec.stream",
    "encode": "codec.stream",
    "decode": "codec.stream",
    "encode_image": "codec.api",
    "decode_image": "codec.api",
    "round_trip": "codec.api",
    "list_models": "codec.zoo",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return getattr(module, "installed_models" if name == "list_models" else name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
