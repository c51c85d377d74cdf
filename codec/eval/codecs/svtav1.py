"""AV1 intra with SVT-AV1 through PyAV (4:2:0: SVT-AV1 codes nothing else)."""

from __future__ import annotations



from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_intra import PyAvIntraCodec, ffmpeg_version
from codec.eval.colour import Conversion

PRESET = 6


class SvtAv1(PyAvIntraCodec):
    name = "svtav1-420"
    label = "AV1 intra (SVT-AV1 4:2:0)"
    extension = "obu"
    rate_parameter = "crf"
    rate_points = (60, 52, 45, 38, 31, 24, 16, 8)
    encoder = "libsvtav1"
    muxer = "obu"
    conversion = Conversion(matrix="bt601", full_range=True, chroma="420")

    def version(self) -> str:
        return f"{ffmpeg_version()}, SVT-AV1 (libsvtav1 in that FFmpeg build)"

    def settings(self) -> dict:
        return {"encoder": "libsvtav1", "preset": PRESET, "crf": "<rate point>", "frames": 1,
                "file": "raw AV1 low-overhead OBU stream"}

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        return {"preset": str(PRESET), "crf": str(rate_point)}


def codecs(**tools: str | None) -> list[Codec]:
    """This module's codecs (it needs no external tool, so ``tools`` is not used)."""
    return [SvtAv1()]
