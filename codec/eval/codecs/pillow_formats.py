"""Shared plumbing of the still-image codecs that Pillow writes (JPEG, WebP, AVIF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Pillow is imported where used: it is an optional dependency (the ``eval`` extra).


def pillow_version(codec: str) -> str:
    """Pillow's version and that of the library behind ``codec`` (e.g. "jpg", "webp", "avif")."""
    import PIL
    from PIL import features

    return f"Pillow {PIL.__version__}, lib{codec} {features.version(codec)}"


def save(item: np.ndarray, path: Path, format: str, **options) -> None:
    from PIL import Image

    Image.fromarray(item, "RGB").save(path, format=format, **options)


def load_rgb(path: Path) -> np.ndarray:
    """Decode with Pillow to 8-bit RGB."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
