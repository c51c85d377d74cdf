"""Lossy WebP through Pillow (libwebp)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pillow_formats import load_rgb, pillow_version, save


class WebP(Codec):
    name = "webp"
    label = "WebP"
    extension = "webp"
    rate_parameter = "quality"
    rate_points = (0, 10, 25, 45, 65, 80, 90, 95)

    def version(self) -> str:
        return pillow_version("webp")

    def settings(self) -> dict:
        return {"lossless": False, "method": 6,
                "colour": "libwebp internal: BT.601 limited-range Y'CbCr 4:2:0"}

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        save(item, path, "WEBP", quality=rate_point, method=6)

    def decode(self, path: Path) -> np.ndarray:
        return load_rgb(path)


def codecs(**tools: str | None) -> list[Codec]:
    """This module's codecs (it needs no external tool, so ``tools`` is not used)."""
    return [WebP()]
