"""H.264 with x264 through PyAV, low delay: presets medium and veryslow, constant QP, tuned for PSNR."""

from __future__ import annotations

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_ld import PyAvLowDelay

LOW_DELAY = "bframes=0:rc-lookahead=0:sync-lookahead=0:scenecut=0:keyint=infinite:threads=1"


class X264(PyAvLowDelay):
    encoder = "libx264"
    muxer = "h264"
    extension = "264"
    rate_parameter = "qp"
    rate_points = (42, 38, 34, 30, 26, 22)

    def __init__(self, preset: str) -> None:
        self.preset = preset
        self.name = f"x264-{preset}-ld"
        self.label = f"H.264 x264 {preset} (low delay)"

    def settings(self) -> dict:
        return {"encoder": "libx264", "preset": self.preset, "tune": "psnr",
                "x264-params": f"qp=<rate point>:{LOW_DELAY}", "structure": "IPPP..., one intra frame",
                "file": "raw H.264 Annex B elementary stream"}

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        return {"preset": self.preset, "tune": "psnr", "x264-params": f"qp={rate_point}:{LOW_DELAY}"}


def codecs(**tools) -> list[Codec]:
    """x264 medium and veryslow (``tools`` are not used)."""
    return [X264("medium"), X264("veryslow")]
