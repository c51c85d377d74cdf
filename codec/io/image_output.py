"""Writing decoded images to image files: every format takes every decoded layout.

Lossless formats (PNG, WebP lossless, TIFF, BMP, PPM/PGM) keep the decoded
pixels exactly; JPEG re-encodes them (quality 95, 4:4:4) and cannot hold an
alpha channel, so the opaque alpha that the image models restore is
dropped there (it carries no information).
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
from PIL import Image

from codec.errors import UsageError

# extension -> (Pillow format, save options)
FORMATS: dict[str, tuple[str, dict]] = {
    "png": ("PNG", {}),
    "webp": ("WEBP", {"lossless": True}),
    "tiff": ("TIFF", {}),
    "tif": ("TIFF", {}),
    "bmp": ("BMP", {}),
    "ppm": ("PPM", {}),
    "pgm": ("PPM", {}),
    "jpg": ("JPEG", {"quality": 95, "subsampling": 0}),
    "jpeg": ("JPEG", {"quality": 95, "subsampling": 0}),
}
LOSSLESS = ("png", "webp", "tiff", "tif", "bmp", "ppm", "pgm")


def write_image(pixels: np.ndarray, fmt: str, stream: BinaryIO) -> None:
    """Write HxW or HxWxC uint8 ``pixels`` as ``fmt`` (an extension of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise UsageError(f"cannot write images as {fmt!r}; use one of {', '.join(FORMATS)}")
    pillow_format, options = FORMATS[fmt]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if pillow_format in ("JPEG", "PPM") and channels in (2, 4):
        pixels = pixels[:, :, 0] if channels == 2 else pixels[:, :, :3]  # the alpha is opaque by construction
    if fmt == "pgm" and pixels.ndim == 3:
        raise UsageError("a .pgm file holds grey images only; this image is in colour: use .ppm or .png")
    Image.fromarray(pixels).save(stream, format=pillow_format, **options)
