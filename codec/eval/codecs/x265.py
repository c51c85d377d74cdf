"""HEVC intra with x265 in 4:4:4, through PyAV: the encoder and chroma format of BPG."""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_intra import PyAvIntraCodec, ffmpeg_version
from codec.eval.colour import Conversion

PRESET = "medium"


@functools.cache
def _x265_build() -> str:
    """x265's own version, read from the SEI message it writes into a stream when asked (``info=1``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.hevc"
        X265(info=True).encode(np.zeros((16, 16, 3), np.uint8), 51, path)
        match = re.search(rb"x265 \(build \d+\) - [0-9][^:]*", path.read_bytes())
    return match.group().decode("ascii", "replace") if match else "x265 (version not found in stream)"


class X265(PyAvIntraCodec):
    name = "x265-444"
    label = "HEVC intra (x265 4:4:4)"
    extension = "hevc"
    rate_parameter = "qp"
    rate_points = (50, 46, 42, 37, 33, 29, 25, 21)
    encoder = "libx265"
    muxer = "hevc"
    conversion = Conversion(matrix="bt601", full_range=True, chroma="444")

    def __init__(self, *, info: bool = False) -> None:
        super().__init__()
        # x265 writes its version and every setting as a 2.2 kB SEI message into each stream unless
        # told not to: a fixed cost no user pays (BPG and HEIF strip it), 40 % of a small file.
        self.info = info

    def version(self) -> str:
        return f"{ffmpeg_version()}, {_x265_build()}"

    def _params(self, qp: int) -> str:
        return f"qp={qp}:keyint=1:preset={PRESET}:info={int(self.info)}:log-level=error"

    def settings(self) -> dict:
        return {"encoder": "libx265", "x265-params": self._params(0).replace("qp=0:", "qp=<rate point>:"),
                "profile": "main444-8", "frames": 1, "file": "raw HEVC Annex B elementary stream"}

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        return {"x265-params": self._params(rate_point)}


def codecs(**tools: str | None) -> list[Codec]:
    """This module's codecs (it needs no external tool, so ``tools`` is not used)."""
    return [X265()]
