"""Declaration of the DCVC-style video family: released models, rate controls, header and frame parameters.

Kept free of torch: the registry imports it to list models and ``codec info``
reads files with it. Normative layout: ``bitstream/models/dcvc.md``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.source import ChromaFormat, MediaType
from codec.errors import CorruptStreamError
from codec.models.base import Exactness, Family, Model, ModelEntry, Option, RateControl, TrainRequest
from codec.models.video.dcvc.schedule import LEVELS, QPS, level_of

WEIGHTS_DIR = Path(__file__).resolve().parents[3] / "weights"
FORMAT = "nmc-dcvc-v1"
PARAMS_VERSION = 1
FRAME_INTRA, FRAME_INTER = 0, 1
DEFAULT_INTRA_PERIOD_SECONDS = 4
MAX_INTRA_PERIOD = 1 << 20
_PARAMS = struct.Struct("<BBBI I")   # version, qps, base qp, intra period (0: first frame only), kbit/s target
_FRAME = struct.Struct("<BB")        # frame type, qp


def encode_params(base_qp: int, intra_period: int, target_kbps: int = 0) -> bytes:
    """``codec_params``: u8 version 1, u8 qps, u8 base qp, u32 intra period (0: none), u32 target kbit/s (0: none)."""
    return _PARAMS.pack(PARAMS_VERSION, QPS, base_qp, intra_period, target_kbps)


def decode_params(data: bytes) -> dict[str, int]:
    if len(data) != _PARAMS.size or data[0] != PARAMS_VERSION:
        raise CorruptStreamError(f"codec parameters are not those of a dcvc model ({_PARAMS.size} bytes, version 1)")
    _, qps, base, period, kbps = _PARAMS.unpack(data)
    if qps != QPS or base >= QPS or period > MAX_INTRA_PERIOD:
        raise CorruptStreamError(f"invalid dcvc parameters: {qps} quality indexes, base {base}, intra period {period}")
    return {"base_qp": base, "intra_period": period, "target_kbps": kbps}


def encode_frame_header(kind: int, qp: int) -> bytes:
    return _FRAME.pack(kind, qp)


def decode_frame_header(data: bytes) -> tuple[int, int]:
    if len(data) != _FRAME.size:
        raise CorruptStreamError(f"frame header of {len(data)} bytes, expected {_FRAME.size}")
    kind, qp = _FRAME.unpack(data)
    if kind not in (FRAME_INTRA, FRAME_INTER) or qp >= QPS:
        raise CorruptStreamError(f"invalid frame header: type {kind}, quality index {qp}")
    return kind, qp


def _intra_period(text: str) -> int:
    from codec.errors import UsageError

    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--intra-period takes a number of frames (-1 for none), got {text!r}") from None
    if value < -1 or value == 0 or value > MAX_INTRA_PERIOD:
        raise UsageError(f"--intra-period must be -1 (one intra frame) or 1..{MAX_INTRA_PERIOD}, got {value}")
    return value


class DcvcFamily(Family):
    name = "dcvc"
    media = MediaType.VIDEO
    formats = (FORMAT,)
    default_rank = 0
    exactness = Exactness.ENTROPY
    weights_dir = WEIGHTS_DIR
    models = (
        ModelEntry("dcvc-small", 1, "dcvc-small.r1.safetensors",
                   "218bd3a3fdd95a3bb961cbe1d2a1d9556ca2949926777dd2655c02036a8be21a",
                   "64-channel feature, 96-channel latent; CPU-trained"),
        ModelEntry("dcvc-small", 2, "dcvc-small.r2.safetensors",
                   "0a0cf33c4fa2395f1b8faed90db61cdbc664994c97c1cf57e708ee2c175323dc",
                   "revision 1 trained 6,000 more CPU steps (3- then 5-frame rollouts)"),
    )
    encode_options = (
        Option(("--intra-period",), "intra_period",
               f"frames between intra (random-access) frames; -1: only the first (default: about "
               f"{DEFAULT_INTRA_PERIOD_SECONDS} s of frames)", type=_intra_period, metavar="N"),
    )

    def rate_control(self, entry: ModelEntry) -> RateControl:
        return RateControl(qualities=LEVELS, default_quality=4, continuous=True, target="bitrate",
                           presets=("fast",))

    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        from codec.models.video.dcvc.session import DcvcModel

        return DcvcModel(self, entry, weights)

    def train(self, request: TrainRequest) -> None:
        from codec.models.video.dcvc.training import train

        train(request)

    def check_params(self, header: FileHeader) -> dict[str, Any]:
        params = decode_params(header.codec_params)
        src = header.source
        if src.chroma_format is not ChromaFormat.YUV420 or src.bit_depth != 8:
            raise CorruptStreamError("dcvc files hold 8-bit YUV 4:2:0 video")
        period = params["intra_period"]
        return {"quality": round(level_of(params["base_qp"]), 2), "base_qp": params["base_qp"],
                "gop": period if period else "first frame only",
                **({"target_kbps": params["target_kbps"]} if params["target_kbps"] else {})}


FAMILY = DcvcFamily()
