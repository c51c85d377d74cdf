"""AV1 intra with SVT-AV1 through PyAV (4:2:0: SVT-AV1 codes nothing else)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_intra import decode_intra, encode_intra, encoder_missing, ffmpeg_version
from codec.eval.colour import Conversion

PRESET = 6


class SvtAv1(Codec):
    name = "svtav1-420"
    label = "AV1 intra (SVT-AV1 4:2:0)"
    extension = "obu"
    rate_parameter = "crf"
    rate_points = (60, 52, 45, 38, 31, 24, 16, 8)
    conversion = Conversion(matrix="bt601", full_range=True, chroma="420")

    def unavailable(self) -> str | None:
        return encoder_missing("libsvtav1")

    def version(self) -> str:
        return f"{ffmpeg_version()}, SVT-AV1 (libsvtav1 in that FFmpeg build)"

    def settings(self) -> dict:
        return {"encoder": "libsvtav1", "preset": PRESET, "crf": "<rate point>", "frames": 1,
                "file": "raw AV1 low-overhead OBU stream"}

    def colour(self) -> dict:
        return self.conversion.describe()

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        encode_intra(item, path, encoder="libsvtav1", muxer="obu", conversion=self.conversion,
                     options={"preset": str(PRESET), "crf": str(rate_point)})

    def decode(self, path: Path) -> np.ndarray:
        return decode_intra(path, self.conversion)


def codecs(**tools: str | None) -> list[Codec]:
    """This module's codecs (it needs no external tool, so ``tools`` is not used)."""
    return [SvtAv1()]
