"""``codec_params`` of the overfitted family: the rate level, the network shapes and their quantization.

Layout (bitstream/models/overfit.md, section 2), 18 bytes:

====  ======  ====================================================================
u8    1       layout version
u16   level   the rate level in 1/256 steps (0 .. 7 * 256; quality = level + 1)
u8    G       latent grids (1..7)
u8    C       causal neighbours of the context model (1..24)
u8    W       context model width (1..64)
u8    L       context model hidden layers (0..3)
u8    S       synthesis width (1..64)
u8 x5 e       quantization exponents: step 2^-e of each parameter group
u8 x5 t       Laplace scale index (0..63) of the table coding each parameter group
====  ======  ====================================================================

Groups, in order: context-model weights, context-model biases, upsampler
weights, synthesis weights, synthesis biases. Torch-free, for ``codec info``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from codec.errors import CorruptStreamError
from codec.models.image.overfit.architecture import ARM_FRACTION, SCALE_COUNT, STEP_RANGES, Architecture

VERSION = 1
LEVELS = 8
LEVEL_STEPS = 256
GROUPS = ("arm.weight", "arm.bias", "upsampling.weight", "synthesis.weight", "synthesis.bias")
_LAYOUT = struct.Struct("<BHBBBBB5B5B")

#: lambda of level 0 (-q 1) and of level 7 (-q 8); levels between are spaced evenly in log(lambda).
LAMBDA_FIRST = 0.02
LAMBDA_LAST = 6e-5


def lambda_for(level: float) -> float:
    """The rate-distortion trade-off ``lambda`` (MSE of [0, 1] RGB + lambda * bpp) of a rate level."""
    return LAMBDA_FIRST * (LAMBDA_LAST / LAMBDA_FIRST) ** (level / (LEVELS - 1))


@dataclass(frozen=True)
class CodecParams:
    level: float
    arch: Architecture
    exponents: dict[str, int]
    table_scales: dict[str, int]

    def to_bytes(self) -> bytes:
        a = self.arch
        return _LAYOUT.pack(VERSION, round(self.level * LEVEL_STEPS), a.grids, a.arm_context, a.arm_hidden,
                            a.arm_layers, a.synthesis_hidden, *(self.exponents[g] for g in GROUPS),
                            *(self.table_scales[g] for g in GROUPS))

    @classmethod
    def from_bytes(cls, data: bytes) -> "CodecParams":
        if len(data) != _LAYOUT.size or data[0] != VERSION:
            raise CorruptStreamError(f"codec parameters are not those of an overfitted image "
                                     f"({_LAYOUT.size} bytes, version {VERSION})")
        values = _LAYOUT.unpack(data)
        steps = values[1]
        if steps > (LEVELS - 1) * LEVEL_STEPS:
            raise CorruptStreamError(f"rate level {steps / LEVEL_STEPS} outside 0..{LEVELS - 1}")
        arch = Architecture(*values[2:7]).validate()
        exponents = dict(zip(GROUPS, values[7:12]))
        scales = dict(zip(GROUPS, values[12:17]))
        for g in GROUPS:
            network, kind = g.split(".")
            lo, hi = STEP_RANGES[network][0 if kind == "weight" else 1]
            if not lo <= exponents[g] <= hi:
                raise CorruptStreamError(f"overfit parameters: {g} step exponent {exponents[g]} outside {lo}..{hi}")
            if scales[g] >= SCALE_COUNT:
                raise CorruptStreamError(f"overfit parameters: {g} table {scales[g]} outside 0..{SCALE_COUNT - 1}")
        if exponents["arm.bias"] > ARM_FRACTION + exponents["arm.weight"]:
            raise CorruptStreamError("overfit parameters: context-model bias step finer than its accumulator")
        return cls(steps / LEVEL_STEPS, arch, exponents, scales)

    def describe(self) -> dict:
        a = self.arch
        return {"level": self.level, "quality": self.level + 1, "lambda": lambda_for(self.level),
                "grids": a.grids, "context": a.arm_context, "context_model": f"{a.arm_layers} x {a.arm_hidden}",
                "synthesis_width": a.synthesis_hidden,
                "steps": {g: f"2^-{e}" for g, e in self.exponents.items()}}
