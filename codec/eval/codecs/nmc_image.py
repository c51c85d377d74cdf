"""Our learned image codecs, run through the same public API as users call."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec import __version__
from codec.eval.codecs.base import Codec
from codec.zoo import IMAGE_MODELS


class NmcImage(Codec):
    extension = "nmc"
    rate_parameter = "quality"
    rate_points = (1, 2, 3, 4, 5, 6, 7, 8)

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.name = f"nmc-{model_id}"
        self.label = f"ours: {model_id}"

    def version(self) -> str:
        from codec.zoo import load_image_model

        return f"codec {__version__}, weights sha256 {load_image_model(self.model_id).model.digest.hex()[:16]}"

    def settings(self) -> dict:
        return {"model": self.model_id, "entropy_coder": "rANS, 16-bit tables, integer entropy path",
                "colour": "RGB in, RGB out (no conversion)"}

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        from codec.api import encode_image

        path.write_bytes(encode_image(item, quality=rate_point, model=self.model_id))

    def decode(self, path: Path) -> np.ndarray:
        from codec.api import decode_image

        return decode_image(path.read_bytes())


def codecs(**tools: str | None) -> list[Codec]:
    """One entry per shipped image model (``tools`` is not used)."""
    return [NmcImage(model_id) for model_id in IMAGE_MODELS]
