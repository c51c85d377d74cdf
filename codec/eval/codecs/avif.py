"""AVIF through Pillow (libavif, with whichever AV1 encoder libavif was built with)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pillow_formats import load_rgb, pillow_version, save


class Avif(Codec):
    name = "avif"
    label = "AVIF 4:4:4"
    extension = "avif"
    rate_parameter = "quality"
    rate_points = (5, 15, 30, 45, 60, 72, 82, 90)

    def unavailable(self) -> str | None:
        from PIL import features

        return None if features.check("avif") else "this Pillow was built without AVIF support"

    def version(self) -> str:
        return pillow_version("avif")

    def settings(self) -> dict:
        return {"subsampling": "444", "speed": 6,
                "colour": "Pillow AVIF plugin defaults (Y'CbCr, 8-bit)"}

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        save(item, path, "AVIF", quality=rate_point, subsampling="4:4:4", speed=6)

    def decode(self, path: Path) -> np.ndarray:
        return load_rgb(path)


def codecs(**tools: str | None) -> list[Codec]:
    """This module's codecs (it needs no external tool, so ``tools`` is not used)."""
    return [Avif()]
