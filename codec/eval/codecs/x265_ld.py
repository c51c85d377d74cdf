"""HEVC with x265 through PyAV, low delay: preset medium, constant QP, tuned for PSNR."""

from __future__ import annotations

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_ld import PyAvLowDelay

LOW_DELAY = "bframes=0:rc-lookahead=0:scenecut=0:keyint=-1:frame-threads=1:pools=none:info=0:log-level=error"


class X265LowDelay(PyAvLowDelay):
    name = "x265-medium-ld"
    label = "HEVC x265 medium (low delay)"
    encoder = "libx265"
    muxer = "hevc"
    extension = "hevc"
    rate_parameter = "qp"
    rate_points = (42, 38, 34, 30, 26, 22)

    def settings(self) -> dict:
        return {"encoder": "libx265", "preset": "medium", "tune": "psnr",
                "x265-params": f"qp=<rate point>:{LOW_DELAY}", "structure": "IPPP..., one intra frame",
                "file": "raw HEVC Annex B elementary stream"}

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        return {"preset": "medium", "tune": "psnr", "x265-params": f"qp={rate_point}:{LOW_DELAY}"}


def codecs(**tools) -> list[Codec]:
    """x265 medium, low delay (``tools`` are not used)."""
    return [X265LowDelay()]
