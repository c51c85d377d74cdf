"""Declaration of the hyperprior family: its released models, rate controls and header parameters.

Kept free of torch: the registry imports it to list models and to check files.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.source import MediaType, SourceInfo
from codec.errors import BadInputError, CorruptStreamError
from codec.models.base import PRESETS, Exactness, Family, Model, ModelEntry, RateControl, TrainRequest

WEIGHTS_DIR = Path(__file__).resolve().parents[3] / "weights"
FORMAT = "nmc-hyperprior-v1"
LEVELS = 8            # -q 1..8 in every released revision
PARAMS_VERSION = 1
LEVEL_STEPS = 256     # the level is stored in 1/256 steps
# Kodak bits per pixel of each quality level (the model cards' tables): where a target-rate search
# starts. Only a starting point: the search measures the image's own sizes.
KODAK_BPP = {
    1: (0.321, 0.447, 0.597, 0.772, 0.963, 1.172, 1.397, 1.630),
    2: (0.120, 0.167, 0.255, 0.397, 0.596, 0.848, 1.140, 1.479),
}


def encode_params(level: float) -> bytes:
    """``codec_params`` (SPEC 7.1): u8 layout version 1, u16 level in 1/256 steps."""
    return struct.pack("<BH", PARAMS_VERSION, round(level * LEVEL_STEPS))


def decode_params(data: bytes, levels: int = LEVELS) -> float:
    if len(data) != 3 or data[0] != PARAMS_VERSION:
        raise CorruptStreamError("codec parameters are not those of a hyperprior model (3 bytes, version 1)")
    (steps,) = struct.unpack_from("<H", data, 1)
    if steps > (levels - 1) * LEVEL_STEPS:
        raise CorruptStreamError(f"quality level {steps / LEVEL_STEPS} out of range 0..{levels - 1}")
    return steps / LEVEL_STEPS


def check_source(source: SourceInfo, *, decoding: bool = False) -> None:
    """8-bit sources of 1 to 4 components (SPEC 7.1); anything else is refused, never silently changed."""
    error = CorruptStreamError if decoding else BadInputError
    if source.bit_depth != 8:
        raise error(f"{source.bit_depth}-bit samples: the hyperprior model codes 8-bit images")
    if source.components not in (1, 2, 3, 4):
        raise error(f"{source.components} components: the hyperprior model codes 1 to 4")


class HyperpriorFamily(Family):
    name = "hyperprior"
    media = MediaType.IMAGE
    formats = (FORMAT,)
    default_rank = 0
    exactness = Exactness.ENTROPY
    weights_dir = WEIGHTS_DIR
    models = (
        ModelEntry("hyperprior-vr-small", 1, "hyperprior-vr-small.r1.safetensors",
                   "ce98c7b395336a80080435e5b3343148f7e01d7b139322066ade19ab46a4ddc7",
                   "128 latent channels, 18 k CPU steps (2026-11-26 interim release)"),
        ModelEntry("hyperprior-vr-small", 2, "hyperprior-vr-small.r2.safetensors",
                   "c5d4bb580937a111664d89f285d04c4b7f78506f3b7aaa75c1c8b106b8a641b5",
                   "256 latent channels, 38 k CPU steps; -9.7 % BD-rate vs JPEG on Kodak"),
    )

    def preset_work(self, preset: str) -> str:
        from codec.models.image.hyperprior.refine import BUDGETS

        return repr(BUDGETS[preset]) if preset in BUDGETS else "one pass"

    def rate_control(self, entry: ModelEntry) -> RateControl:
        # Refinement (medium, slow) needs the integer entropy path and the float synthesis, which every
        # revision has; its search of z also the hyper-latent's float distribution, which revision 1
        # lacks: there medium codes the one-pass symbols and slow refines y only.
        return RateControl(qualities=LEVELS, default_quality=4, continuous=True, target="bpp", presets=PRESETS)

    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        from codec.models.image.hyperprior.session import HyperpriorModel

        return HyperpriorModel(self, entry, weights)

    def train(self, request: TrainRequest) -> None:
        from codec.models.image.hyperprior.training import train

        train(request)

    def check_params(self, header: FileHeader) -> dict[str, Any]:
        check_source(header.source, decoding=True)
        level = decode_params(header.codec_params)
        return {"level": level, "quality": level + 1}


FAMILY = HyperpriorFamily()
