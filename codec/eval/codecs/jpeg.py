"""JPEG through Pillow (libjpeg-turbo), with 4:2:0 or 4:4:4 chroma."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pillow_formats import load_rgb, pillow_version, save

# Pillow's ``subsampling`` codes.
_SUBSAMPLING = {"420": 2, "444": 0}


class Jpeg(Codec):
    extension = "jpg"
    rate_parameter = "quality"

    def __init__(self, chroma: str) -> None:
        self.chroma = chroma
        self.name = f"jpeg-{chroma}"
        self.label = f"JPEG {chroma[0]}:{chroma[1]}:{chroma[2]}"
        # 4:4:4 spends more on chroma, so the same span of bpp needs lower qualities
        self.rate_points = (5, 10, 20, 35, 50, 70, 85, 92) if chroma == "420" else (3, 6, 12, 25, 40, 60, 80, 88)

    def version(self) -> str:
        return pillow_version("jpg")

    def settings(self) -> dict:
        return {"subsampling": self.chroma, "optimize": True, "progressive": False,
                "colour": "Pillow/libjpeg default: JFIF BT.601 full-range Y'CbCr"}

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        save(item, path, "JPEG", quality=rate_point, subsampling=_SUBSAMPLING[self.chroma], optimize=True)

    def decode(self, path: Path) -> np.ndarray:
        return load_rgb(path)


def codecs(**tools: str | None) -> list[Codec]:
    """This module's codecs (it needs no external tool, so ``tools`` is not used)."""
    return [Jpeg("420"), Jpeg("444")]
