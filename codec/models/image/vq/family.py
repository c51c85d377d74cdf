"""Declaration of the token (VQ) family: released models, rate controls, header parameters.

Kept free of torch: the registry imports it to list models and to check files.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.source import MediaType, SourceInfo
from codec.errors import BadInputError, CorruptStreamError
from codec.models.base import Exactness, Family, Model, ModelEntry, RateControl, TrainRequest

WEIGHTS_DIR = Path(__file__).resolve().parents[3] / "weights"
FORMAT = "nmc-vq-v1"
LEVELS = 6            # -q 1..6 (granularity.FRACTIONS)
PARAMS_VERSION = 1
LEVEL_STEPS = 256     # the quality is stored in 1/256 steps
SEGMENTS = 4          # block levels, coarse, fine and finest tokens
PRESETS = ("fast",)


def encode_params(level: float, bits: int) -> bytes:
    """``codec_params`` (bitstream/models/vq.md): u8 layout 1, u8 token bits, u16 level in 1/256 steps."""
    return struct.pack("<BBH", PARAMS_VERSION, bits, round(level * LEVEL_STEPS))


def decode_params(data: bytes, levels: int = LEVELS) -> tuple[float, int]:
    """(level, token bits) from ``codec_params``; CorruptStreamError when they are not valid."""
    if len(data) != 4 or data[0] != PARAMS_VERSION:
        raise CorruptStreamError("codec parameters are not those of a vq model (4 bytes, version 1)")
    _, bits, steps = struct.unpack("<BBH", data)
    if steps > (levels - 1) * LEVEL_STEPS:
        raise CorruptStreamError(f"quality level {steps / LEVEL_STEPS} out of range 0..{levels - 1}")
    if not 2 <= bits <= 14:
        raise CorruptStreamError(f"{bits}-bit tokens: a vq file has 2 to 14")
    return steps / LEVEL_STEPS, bits


def check_source(source: SourceInfo, *, decoding: bool = False) -> None:
    """8-bit sources of 1 to 4 components; anything else is refused, never silently changed."""
    error = CorruptStreamError if decoding else BadInputError
    if source.bit_depth != 8:
        raise error(f"{source.bit_depth}-bit samples: the vq model codes 8-bit images")
    if source.components not in (1, 2, 3, 4):
        raise error(f"{source.components} components: the vq model codes 1 to 4")


class VqFamily(Family):
    name = "vq"
    media = MediaType.IMAGE
    formats = (FORMAT,)
    default_rank = 40
    exactness = Exactness.ENTROPY
    weights_dir = WEIGHTS_DIR
    models = (
        ModelEntry("vq-small", 1, "vq-small.r1.safetensors",
                   "ed7ed9b0c847c904de7a8867f78ec857646eeee0f2e8cbc3e7196343166f47fd",
                   "10-bit binary tokens at 1/32, 1/16, 1/8 by region; exact integer prior; 5.9 k CPU steps"),
    )

    def rate_control(self, entry: ModelEntry) -> RateControl:
        return RateControl(qualities=LEVELS, default_quality=3, continuous=True, target="bpp", presets=PRESETS)

    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        from codec.models.image.vq.session import VqCodecModel

        return VqCodecModel(self, entry, weights)

    def train(self, request: TrainRequest) -> None:
        from codec.models.image.vq.training import train

        train(request)

    def check_params(self, header: FileHeader) -> dict[str, Any]:
        check_source(header.source, decoding=True)
        level, bits = decode_params(header.codec_params)
        return {"level": level, "quality": level + 1, "token_bits": bits}


FAMILY = VqFamily()
