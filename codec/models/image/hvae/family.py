"""Declaration of the hierarchical VAE family: released models, rate controls, options, header parameters.

Kept free of torch: the registry imports it to list models and to check files.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.source import MediaType, SourceInfo
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.models.base import Exactness, Family, Model, ModelEntry, Option, RateControl, TrainRequest

WEIGHTS_DIR = Path(__file__).resolve().parents[3] / "weights"
FORMAT = "nmc-hvae-v1"
LEVELS = 8            # -q 1..8
PARAMS_VERSION = 1
LEVEL_STEPS = 256     # the level is stored in 1/256 steps
MAX_GROUPS = 64       # a data packet holds at most 64 segments (SPEC 4.2)
PRESETS = ("fast", "medium", "slow")   # medium and slow search the latents at encode time (refine.py)
# Kodak bits per pixel of each quality level, per revision (the model card's table): where a target-rate
# search starts; the search measures the image's own sizes.
KODAK_BPP: dict[int, tuple[float, ...]] = {
    4: (0.114, 0.184, 0.282, 0.407, 0.558, 0.735, 0.941, 1.172),
    5: (0.107, 0.175, 0.271, 0.395, 0.548, 0.731, 0.943, 1.178),
}


def encode_params(level: float, groups: int) -> bytes:
    """``codec_params`` (bitstream/models/hvae.md): u8 layout 1, u16 level in 1/256 steps, u8 group count."""
    return struct.pack("<BHB", PARAMS_VERSION, round(level * LEVEL_STEPS), groups)


def decode_params(data: bytes, levels: int = LEVELS) -> tuple[float, int]:
    """(level, group count) from ``codec_params``; CorruptStreamError when they are not valid."""
    if len(data) != 4 or data[0] != PARAMS_VERSION:
        raise CorruptStreamError("codec parameters are not those of an hvae model (4 bytes, version 1)")
    _, steps, groups = struct.unpack("<BHB", data)
    if steps > (levels - 1) * LEVEL_STEPS:
        raise CorruptStreamError(f"quality level {steps / LEVEL_STEPS} out of range 0..{levels - 1}")
    if not 1 <= groups <= MAX_GROUPS:
        raise CorruptStreamError(f"{groups} latent groups: an hvae file holds 1 to {MAX_GROUPS}")
    return steps / LEVEL_STEPS, groups


def check_source(source: SourceInfo, *, decoding: bool = False) -> None:
    """8-bit sources of 1 to 4 components; anything else is refused, never silently changed."""
    error = CorruptStreamError if decoding else BadInputError
    if source.bit_depth != 8:
        raise error(f"{source.bit_depth}-bit samples: the hvae model codes 8-bit images")
    if source.components not in (1, 2, 3, 4):
        raise error(f"{source.components} components: the hvae model codes 1 to 4")


def groups_option(text: str) -> int:
    """``--groups K``: decode only the first K latent groups (a coarse preview)."""
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--groups takes a whole number of latent groups, got {text!r}") from None
    if value < 1:
        raise UsageError(f"--groups must be at least 1, got {value}")
    return value


class HvaeFamily(Family):
    name = "hvae"
    media = MediaType.IMAGE
    formats = (FORMAT,)
    default_rank = 20
    exactness = Exactness.ENTROPY
    weights_dir = WEIGHTS_DIR
    decode_options = (
        Option(("--groups",), "groups", "hvae: decode only the first K latent groups, coarse to fine (a preview "
                                        "from the first bytes of the file; the rest is filled with the prior's "
                                        "means)", groups_option, None, "K"),
    )
    models = (
        ModelEntry("hvae-small", 1, "hvae-small.r1.safetensors",
                   "307ac376db1e085959b31963f4c4803c640d656157a38990675f1c99924557c6",
                   "8 latent groups 1/64..1/8, progressive; 5 k CPU steps; +11.2 % BD-rate vs JPEG (4 Kodak images)"),
        ModelEntry("hvae-small", 2, "hvae-small.r2.safetensors",
                   "efb4104f8e72a25957bdaa3d70218b170731e5139d6c9df36adf2742f6dd0289",
                   "r1 trained 9 k more CPU steps (14 k in all); +0.3 % BD-rate vs JPEG, +16.5 % vs the hyperprior (4 Kodak images)"),
        ModelEntry("hvae-small", 3, "hvae-small.r3.safetensors",
                   "d3e96c45a6b497da1ea6a4f03b3fdbed83201079fb8a4b2cc28560d514f21ccb",
                   "r2 trained 9 k more CPU steps (23 k in all)"),
        ModelEntry("hvae-small", 4, "hvae-small.r4.safetensors",
                   "877576b3b574e1d490a26ec86a7eefccac5ca80a32d21d0c330e613a7f2a461a",
                   "r3 trained 9 k more CPU steps (32 k in all)"),
        ModelEntry("hvae-small", 5, "hvae-small.r5.safetensors",
                   "006e0afd01edc02cb1ff4eeaf9e7034b881fe0d505cc4c7db0a9bfb8b339207f",
                   "r4 trained 9 k more CPU steps (41 k in all)"),
    )

    def preset_work(self, preset: str) -> str:
        from codec.models.image.hvae.refine import BUDGETS

        return repr(BUDGETS[preset]) if preset in BUDGETS else "one pass"

    def rate_control(self, entry: ModelEntry) -> RateControl:
        return RateControl(qualities=LEVELS, default_quality=4, continuous=True, target="bpp", presets=PRESETS)

    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        from codec.models.image.hvae.session import HvaeCodecModel

        return HvaeCodecModel(self, entry, weights)

    def train(self, request: TrainRequest) -> None:
        from codec.models.image.hvae.training import train

        train(request)

    def check_params(self, header: FileHeader) -> dict[str, Any]:
        check_source(header.source, decoding=True)
        level, groups = decode_params(header.codec_params)
        return {"level": level, "quality": level + 1, "groups": groups}


FAMILY = HvaeFamily()
