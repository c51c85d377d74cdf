"""The fixed definition of the overfitted family: what every file of ``overfit-coolchic-small@1`` assumes.

Nothing here is learned or stored in a weights file: the networks travel in
each coded file, so the "model" a file names is this definition (grid
layout, context neighbourhood, arithmetic rules, CDF tables). Its digest is
the SHA-256 of :data:`DEFINITION`, a text that names every constant below;
changing any of them is a new revision (bitstream/models/overfit.md, section 1).

Torch-free: the family declaration and ``codec info`` import it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from codec.errors import CorruptStreamError

MODEL_ID = "overfit-coolchic-small"
REVISION = 1

#: Latent grids: grid g has ceil(H / 2^g) x ceil(W / 2^g) integers, g = 0 (full resolution) .. 6 (1/64).
MAX_GRIDS = 7
#: A decoded latent outside +-LATENT_LIMIT is a corrupt stream (the encoder clamps to it).
LATENT_LIMIT = (1 << 15) - 1
#: Largest image (width x height) the family codes: fitting needs several GB beyond this on a CPU.
MAX_PIXELS = 1 << 23

#: Causal neighbours of the context model, in priority order (row offset, column offset): a file uses the
#: first ``arm_context`` of them. All lie in the rows above or to the left in the current row.
CONTEXT_OFFSETS: tuple[tuple[int, int], ...] = (
    (0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
    (-2, -1), (-2, 1), (0, -3), (-3, 0), (-2, -2), (-2, 2), (-1, -3), (-1, 3),
    (-3, -1), (-3, 1), (0, -4), (-4, 0), (-2, -3), (-2, 3), (-3, -2), (-3, 2),
)
#: Values of the next coarser grid (already decoded) that join the context, (row, column) offsets around
#: the co-sited position (y // 2, x // 2); zero for the coarsest grid and outside the coarser grid.
COARSE_OFFSETS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))

#: Fraction bits of every activation of the integer context model (its inputs, the latents, have 0).
ARM_FRACTION = 8
#: Scale of the Laplace law: b = exp(r + LOG_SCALE_OFFSET) for the model's second output r, and the tables
#: cover b in [SCALE_MIN, SCALE_MAX] with SCALE_COUNT scales evenly spaced in log(b).
LOG_SCALE_OFFSET = -4.0
SCALE_MIN = 0.01
SCALE_MAX = 64.0
SCALE_COUNT = 64
#: Each scale has MEAN_PHASES tables, centred at k / MEAN_PHASES for k = 0 .. MEAN_PHASES - 1.
MEAN_PHASES = 8
TABLE_PRECISION = 16
TAIL_MASS = 1e-6

#: Upsampler: per level, a symmetric separable 8-tap transposed filter (x2) and a symmetric separable
#: 7-tap pre-concatenation filter with a residual path, each given by its half (4 values).
UPSAMPLE_TAPS = 8
PRECONCAT_TAPS = 7

#: Ranges codec_params may take (bitstream/models/overfit.md, section 2).
ARM_CONTEXT_RANGE = (1, len(CONTEXT_OFFSETS))
ARM_HIDDEN_RANGE = (1, 64)
ARM_LAYERS_RANGE = (0, 3)
SYNTHESIS_HIDDEN_RANGE = (1, 64)
#: Quantization steps are 2^-e with e in these ranges (weights, biases) per network.
STEP_RANGES = {
    "arm": ((0, 16), (0, 24)),
    "upsampling": ((0, 16), (0, 0)),
    "synthesis": ((0, 16), (0, 30)),
}
#: Largest |integer| of a coded network parameter (weights of the integer context model: SPEC 7.2's limit).
ARM_WEIGHT_LIMIT = (1 << 11) - 1
PARAMETER_LIMIT = (1 << 24) - 1

DEFINITION = (
    f"nmc-overfit-v1: latent grids 1/1..1/{1 << (MAX_GRIDS - 1)} (1 channel each, |y| <= {LATENT_LIMIT}); "
    f"context offsets {CONTEXT_OFFSETS}; coarse offsets {COARSE_OFFSETS}; "
    f"integer context model: linear+relu, residual linear+relu layers, linear output plus linear stabiliser, "
    f"activations {ARM_FRACTION} fraction bits, round half up, saturation 2^20-1; "
    f"Laplace tables: {SCALE_COUNT} scales {SCALE_MIN}..{SCALE_MAX} log-spaced, offset {LOG_SCALE_OFFSET}, "
    f"{MEAN_PHASES} mean phases, precision {TABLE_PRECISION}, tail {TAIL_MASS}; "
    f"upsampler {UPSAMPLE_TAPS}-tap transposed and {PRECONCAT_TAPS}-tap residual symmetric separable filters, "
    f"replicate padding; synthesis 1x1 relu, 1x1, 3x3 residual relu, 3x3 residual, 1x1 stabiliser, "
    f"replicate padding; float32 synthesis"
).encode()
DIGEST = hashlib.sha256(DEFINITION).hexdigest()


@dataclass(frozen=True)
class Architecture:
    """The per-file shape of the networks (codec_params), validated against the ranges above."""

    grids: int = MAX_GRIDS
    arm_context: int = 12
    arm_hidden: int = 16
    arm_layers: int = 2
    synthesis_hidden: int = 16

    def validate(self) -> "Architecture":
        checks = (("grids", self.grids, (1, MAX_GRIDS)), ("arm_context", self.arm_context, ARM_CONTEXT_RANGE),
                  ("arm_hidden", self.arm_hidden, ARM_HIDDEN_RANGE), ("arm_layers", self.arm_layers, ARM_LAYERS_RANGE),
                  ("synthesis_hidden", self.synthesis_hidden, SYNTHESIS_HIDDEN_RANGE))
        for name, value, (lo, hi) in checks:
            if not lo <= value <= hi:
                raise CorruptStreamError(f"overfit parameters: {name} {value} is outside {lo}..{hi}")
        return self

    @property
    def arm_inputs(self) -> int:
        return self.arm_context + len(COARSE_OFFSETS)


def grid_shapes(height: int, width: int, grids: int) -> list[tuple[int, int]]:
    """(rows, columns) of each latent grid, finest first."""
    return [(-(-height // (1 << g)), -(-width // (1 << g))) for g in range(grids)]


def multiplications_per_pixel(arch: Architecture) -> dict[str, float]:
    """Multiplications per decoded pixel of each stage (large images; bitstream/models/overfit.md, 4-5).

    Context model: its weights once per latent, ``sum_g 4^-g`` latents per
    pixel. Upsampler at level l, per pixel of that level: each of the ``G-1-l``
    channels from below is upsampled x2 with 4 taps along columns (at half the
    rows) then 4 along rows (6), and grid l is pre-filtered with 7 + 7 taps.
    Synthesis: its weights once per pixel. The model card quotes these.
    """
    n_in, width, layers, grids = arch.arm_inputs, arch.arm_hidden, arch.arm_layers, arch.grids
    per_latent = 2 * n_in + (n_in * width + (layers - 1) * width * width + 2 * width if layers else 0)
    latents = sum(4.0 ** -g for g in range(grids))
    upsampler = sum((6 * (grids - 1 - level) + 2 * PRECONCAT_TAPS) * 4.0 ** -level for level in range(grids - 1))
    s = arch.synthesis_hidden
    synthesis = s * grids + 3 * s + 2 * 81 + 3 * grids
    return {"context model": per_latent * latents, "upsampler": upsampler, "synthesis": float(synthesis),
            "total": per_latent * latents + upsampler + synthesis}
