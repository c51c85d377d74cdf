"""Choosing the networks' quantization steps for rate-distortion (Cool-chic's step search, ours by coordinates).

Each group's step ``2^-e`` trades the bits of its integers against what the
rounding costs: for the context model, the latents' exact coded bits under
the integer model (distortion does not depend on it); for the upsampler and
the synthesis, the distortion of the decoded image. The loss is the fit's
``D + lambda R`` with ``R`` counting latents and parameters. Exponents are
searched one group at a time by walking from a typical value in the
direction that lowers the loss until it stops improving, twice over.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from codec.models.base import Progress
from codec.models.image.overfit.architecture import ARM_FRACTION, STEP_RANGES
from codec.models.image.overfit.fit import Fitted
from codec.models.image.overfit.latent_coding import latent_bits
from codec.models.image.overfit.network_coding import (
    GROUPS, CodedNetworks, cheapest_table, dequantize, float_groups, limit_of, load_groups, quantize,
)
from codec.models.image.overfit.tables import LatentTables

START = {"arm.weight": 8, "arm.bias": 10, "upsampling.weight": 8, "synthesis.weight": 8, "synthesis.bias": 10}


def walk(cost: Callable[[int], float], start: int, lo: int, hi: int) -> int:
    """A local minimum of ``cost`` over the integers of [lo, hi], walking from ``start``.

    Moves to a neighbour one or two steps away while that lowers the cost (the
    second step lets the walk cross a one-step bump). ``inf`` marks an exponent
    that cannot represent the parameters; if the start has one, the finest
    finite exponent is taken first.
    """
    memo: dict[int, float] = {}

    def c(e: int) -> float:
        if e not in memo:
            memo[e] = cost(e)
        return memo[e]

    best = min(max(start, lo), hi)
    if c(best) == float("inf"):
        best = next((e for e in range(hi, lo - 1, -1) if c(e) != float("inf")), None)
        if best is None:
            raise ValueError("no quantization step can represent these parameters")
    moved = True
    while moved:
        moved = False
        for e in (best - 1, best + 1, best - 2, best + 2):
            if lo <= e <= hi and c(e) < c(best):
                best, moved = e, True
                break
    return best


class StepSearch:
    """The search for one fitted image (see the module docstring)."""

    def __init__(self, fitted: Fitted, lam: float, tables: LatentTables, pixels: int, target: torch.Tensor,
                 progress: Progress | None = None) -> None:
        self.fitted, self.lam, self.tables, self.pixels, self.target = fitted, lam, tables, pixels, target
        self.progress = progress or Progress()
        self.values = float_groups(fitted.decoder)
        self.exponents = dict(START)
        self.ints: dict[str, list[np.ndarray]] = {}
        self.device = target.device
        self.float_grids = [g.to(self.device, torch.float32).reshape(1, 1, *g.shape[-2:]) for g in fitted.grids]
        self._stack_cache: dict[int, torch.Tensor] = {}
        self._bits: dict[tuple[str, int], float] = {}

    def _ints(self, group: str, e: int) -> list[np.ndarray] | None:
        return quantize(self.values[group], e, limit_of(group))

    def _param_bits(self, group: str, e: int) -> float:
        """Bits of a group's integers at exponent ``e`` (memoized: the walks revisit exponents)."""
        key = (group, e)
        if key not in self._bits:
            self._bits[key] = cheapest_table(self._ints(group, e), self.tables)[1]
        return self._bits[key]

    # -- context model: latent bits + its own bits ----------------------------------------------
    def _arm_cost(self, e_w: int, e_b: int) -> float:
        if e_b > ARM_FRACTION + e_w:
            return float("inf")
        w, b = self._ints("arm.weight", e_w), self._ints("arm.bias", e_b)
        if w is None or b is None:
            return float("inf")
        coded = CodedNetworks(self.fitted.arch, {"arm.weight": w, "arm.bias": b},
                              {"arm.weight": e_w, "arm.bias": e_b}, {})
        try:
            context = coded.integer_context()
        except Exception:
            return float("inf")
        bits = latent_bits(self.fitted.grids, context, self.tables)
        self.progress.advance()
        return bits + self._param_bits("arm.weight", e_w) + self._param_bits("arm.bias", e_b)

    # -- upsampler and synthesis: distortion + their bits ----------------------------------------
    @torch.no_grad()
    def _pixel_cost(self, exponents: dict[str, int]) -> float:
        decoder = self.fitted.decoder
        values, bits = {}, 0.0
        for g in ("upsampling.weight", "synthesis.weight", "synthesis.bias"):
            ints = self._ints(g, exponents[g])
            if ints is None:
                return float("inf")
            values[g] = dequantize(ints, exponents[g])
            bits += self._param_bits(g, exponents[g])
        values["arm.weight"], values["arm.bias"] = self.values["arm.weight"], self.values["arm.bias"]
        load_groups(decoder, values)
        key = exponents["upsampling.weight"]
        stack = self._stack_cache.get(key)
        if stack is None:
            stack = decoder.upsampling(self.float_grids)
            self._stack_cache = {key: stack}
        x = decoder.synthesis(stack).clamp(0, 1)
        mse = float(torch.mean((x - self.target) ** 2))
        self.progress.advance()
        return mse + self.lam * bits / self.pixels

    def run(self) -> CodedNetworks:
        self.progress.start(None, "trial", "quantizing the networks")
        e = self.exponents
        for _ in range(2):
            (w_lo, w_hi), (b_lo, b_hi) = STEP_RANGES["arm"]
            e["arm.weight"] = walk(lambda v: self._arm_cost(v, e["arm.bias"]), e["arm.weight"], w_lo, w_hi)
            e["arm.bias"] = walk(lambda v: self._arm_cost(e["arm.weight"], v), e["arm.bias"], b_lo, b_hi)
            for g in ("upsampling.weight", "synthesis.weight", "synthesis.bias"):
                network, kind = g.split(".")
                lo, hi = STEP_RANGES[network][0 if kind == "weight" else 1]
                e[g] = walk(lambda v: self._pixel_cost({**e, g: v}), e[g], lo, hi)
        ints = {g: self._ints(g, e[g]) for g in GROUPS}
        scales = {g: cheapest_table(ints[g], self.tables)[0] for g in GROUPS}
        coded = CodedNetworks(self.fitted.arch, ints, dict(e), scales)
        load_groups(self.fitted.decoder, {g: dequantize(ints[g], e[g]) for g in GROUPS})
        self.progress.finish()
        return coded
