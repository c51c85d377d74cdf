"""The one-call Python API for images: pictures to ``.nmc`` bytes and back.

>>> import codec
>>> data = codec.encode_image("photo.png", quality=4)
>>> pixels = codec.decode_image(data)               # numpy HxWx3 uint8

These are thin wrappers over the streaming sessions of :mod:`codec.stream`
(``codec.open``, ``codec.encode``, ``codec.decode``), which take any medium.
Every misuse raises :class:`~codec.errors.UsageError` before any work.
"""

from __future__ import annotations

import os
from typing import Any

from codec.errors import UsageError
from codec.stream import Reader, encode


def encode_image(image: Any, *, quality: float | None = None, bpp: float | None = None, model: str | None = None,
                 preset: str = "fast", threads: int = 1, device: str = "cpu", time_limit: float | None = None,
                 max_pixels: int | None = None) -> bytes:
    """Encode a path, bytes of an image file, numpy array, PIL image or tensor to the bytes of an ``.nmc`` file.

    Give ``quality`` (1 = smallest .. 8 = best; a fraction between levels
    is allowed) or a target ``bpp`` (bits per pixel of the whole file; the
    largest setting that fits is chosen). Default: quality 4.
    """
    if image is None:
        raise UsageError("encode_image needs an image: a path, bytes, numpy array, PIL image or tensor")
    if model is not None and not isinstance(model, str):
        raise UsageError(f"model must be a model id string, got {model!r}")
    source_options = {} if max_pixels is None else {"max_pixels": max_pixels}
    return encode(image, media="image", source_options=source_options, quality=quality, bpp=bpp, model=model,
                  preset=preset, threads=threads, device=device, time_limit=time_limit)


def decode_image(data: bytes | str | os.PathLike[str], *, output: str = "numpy", threads: int = 1,
                 device: str = "cpu") -> Any:
    """Decode ``.nmc`` bytes (or a path) to 'numpy' (HxW[xC] uint8), 'pil' or 'torch' (CxHxW uint8)."""
    if not isinstance(data, (bytes, bytearray, memoryview, str, os.PathLike)):
        raise UsageError(f"decode_image takes the bytes of an .nmc file or its path, not {type(data).__name__}")
    with Reader(data, threads=threads, device=device, output=output) as reader:
        if reader.medium.name != "image":
            raise UsageError(f"the file holds {reader.medium.name}, not an image: use codec.decode or codec.open")
        return next(iter(reader))


def round_trip(image: Any, **options: Any) -> tuple[bytes, Any]:
    """Encode then decode: the file's bytes and the decoded pixels (numpy)."""
    data = encode_image(image, **options)
    return data, decode_image(data)
