"""AV1 with SVT-AV1 through PyAV in its low-delay prediction structure (preset 8, CRF)."""

from __future__ import annotations

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_ld import PyAvLowDelay

PRESET = 8
LOW_DELAY = "pred-struct=1:keyint=-1:scd=0:lp=1"


class SvtAv1LowDelay(PyAvLowDelay):
    name = "svtav1-ld"
    label = f"AV1 SVT-AV1 preset {PRESET} (low delay)"
    encoder = "libsvtav1"
    muxer = "obu"
    extension = "obu"
    rate_parameter = "crf"
    rate_points = (58, 52, 46, 40, 34, 28)

    def settings(self) -> dict:
        return {"encoder": "libsvtav1", "preset": PRESET, "crf": "<rate point>", "svtav1-params": LOW_DELAY,
                "structure": "low delay (pred-struct=1), one intra frame", "file": "raw AV1 low-overhead OBU stream"}

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        return {"preset": str(PRESET), "crf": str(rate_point), "svtav1-params": LOW_DELAY}


def codecs(**tools) -> list[Codec]:
    """SVT-AV1 low delay (``tools`` are not used)."""
    return [SvtAv1LowDelay()]
