"""The media kinds a batch job can code, each a registry entry.

The engine knows nothing about pixels: it asks a :class:`MediaKind` which
source extensions it reads, how to encode one file, how to decode one
``.nmc`` file of its media type, and how to check that a decoded file it
wrote is whole. Video and audio become batchable by calling
:func:`register` with their entry; no engine code changes.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codec.batch.items import ItemOptions
from codec.container import FILE_EXTENSION, MediaType
from codec.errors import BadInputError, UsageError


@dataclass(frozen=True)
class MediaKind:
    name: str
    media_type: MediaType
    source_extensions: Callable[[], frozenset[str]]  # lower-case, with the dot; computed lazily
    output_formats: tuple[str, ...]                  # decoded formats; the first is the default
    encode: Callable[[Path, ItemOptions], bytes]     # media file -> .nmc bytes
    decode: Callable[[bytes, str], bytes]            # .nmc bytes, format -> media file bytes
    verify_media: Callable[[Path], None]             # raises BadInputError when a decoded file is not whole


_KINDS: dict[str, MediaKind] = {}


def register(kind: MediaKind) -> None:
    """Make a kind available to every batch job (idempotent per name)."""
    _KINDS[kind.name] = kind


def all_kinds() -> tuple[MediaKind, ...]:
    return tuple(_KINDS.values())


def kind_named(name: str) -> MediaKind:
    return _KINDS[name]


def kind_for_source(path: Path) -> MediaKind | None:
    """The kind that encodes a file with this extension, or None."""
    ext = path.suffix.lower()
    return next((k for k in _KINDS.values() if ext in k.source_extensions()), None)


def kind_for_media_type(media_type: MediaType) -> MediaKind:
    for kind in _KINDS.values():
        if kind.media_type is media_type:
            return kind
    raise BadInputError(f"file holds {media_type.name.lower()}, which this installation cannot decode in batch")


def is_coded_file(path: Path) -> bool:
    return path.suffix.lower() == FILE_EXTENSION.lower()


def check_format(kind: MediaKind, fmt: str | None) -> str:
    """The decoded format to write: ``fmt`` if the kind supports it, else the kind's default."""
    if fmt is None:
        return kind.output_formats[0]
    fmt = fmt.lower().lstrip(".")
    if fmt not in kind.output_formats:
        raise UsageError(f"{kind.name} cannot be decoded to {fmt!r}; choose from {', '.join(kind.output_formats)}")
    return fmt


# --- images -----------------------------------------------------------------------------------------

_PIL_FORMATS = {"png": "PNG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}  # lossless only: decoding adds no loss


@functools.lru_cache(maxsize=1)
def _image_extensions() -> frozenset[str]:
    from PIL import Image

    Image.init()
    readable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    return frozenset(readable - {FILE_EXTENSION.lower()})


def _encode_image(path: Path, options: ItemOptions) -> bytes:
    from codec.api import encode_image
    from codec.zoo import DEFAULT_IMAGE_MODEL

    return encode_image(path, quality=options.quality, bpp=options.bpp, model=options.model or DEFAULT_IMAGE_MODEL)


def _decode_image(data: bytes, fmt: str) -> bytes:
    from codec.api import decode_image

    image = decode_image(data, output="pil")
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "webp" else {}
    image.save(buf, format=_PIL_FORMATS[fmt], **extra)
    return buf.getvalue()


def _verify_image(path: Path) -> None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as exc:  # Pillow raises many types for damaged files
        raise BadInputError(f"{path.name} is not a complete image: {exc}") from None


register(MediaKind(
    name="image",
    media_type=MediaType.IMAGE,
    source_extensions=_image_extensions,
    output_formats=tuple(_PIL_FORMATS),
    encode=_encode_image,
    decode=_decode_image,
    verify_media=_verify_image,
))
