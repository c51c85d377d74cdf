"""Encode-time refinement of the latent for the hyperprior (presets ``medium`` and ``slow``).

A trained encoder gives a good latent, not the best one for this image: the
symbols it sends can be chosen to cost fewer bits for the same distortion
(Yang, Bamler and Mandt, "Improving Inference for Neural Image Compression",
NeurIPS 2020). Refinement searches them with the decoder unchanged, so the
file and every decoder stay the same; it only spends encoder time.

Three phases; each keeps its result only where the exact path measures a gain:

0. ``medium`` and ``slow``: the hyper-latent ``z`` is searched for the
   fewest bits of ``z`` and ``y`` (``refine_hyper.py``); this is most of
   the gain at low rates.
1. ``slow``: stochastic Gumbel annealing (SGA) of ``y``. The gained latent ``u``
   is optimised with Adam on ``lambda * 255^2 * MSE(g_s(y)) + bits(y) / pixels``,
   with ``y = mean + sga_round(u - mean)``: a rounding relaxed to a random
   choice between the two neighbouring integers whose softness (temperature)
   anneals towards hard rounding. Means and table scales come from the exact
   integer path and are refreshed every few steps; the hard-rounded cost is
   measured at each refresh and the best latent kept.
2. ``slow``: greedy passes over the symbols. One synthesis
   pass with its gradient gives the distortion slope at every symbol; the
   change by +1 or -1 with the lowest estimated cost (exact bits under the
   symbol's table distribution, distortion to second order with a curvature
   measured once per channel) is taken for the best part of the symbols that
   gain, anchors first, then the rest with their means re-derived; a pass is
   kept only if the measured cost falls.

The image is refined in tiles of latent positions with a halo, so memory does
not grow with the image; each tile sees the exact means and scales that the
decoder will compute for its interior.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from codec.models.base import Progress
from codec.models.image.hyperprior.annealing import Adam, Stop, annealed_temperature, bin_bits, fast_bfloat16, sga_round
from codec.models.image.hyperprior.coder import HyperpriorCoder, LatentSymbols
from codec.models.image.hyperprior.integer_path import Y_FRACTION
from codec.models.image.hyperprior.refine_hyper import HyperRefiner, table_scales
from codec.nn.checkerboard import anchor_mask

# Windows start at even latent rows and columns, so the integer path's own checkerboard (which it
# derives from the window's shape) agrees with the whole latent's: TILE and HALO must be even.
TILE = 48          # latent positions per tile side (768 pixels)
CURVATURE_GROUP = 64
HALO = 4           # latent positions around a tile: the context needs 2, synthesis a few more
SEED = 2020


@dataclass(frozen=True)
class Budget:
    """Steps of each phase for one preset."""

    sga_steps: int
    greedy_passes: int
    hyper_steps: int = 0             # SGA steps on the hyper-latent z first (refine_hyper.py)
    hyper_learning_rate: float = 0.1
    refresh_every: int = 8
    learning_rate: float = 0.005
    bf16_gradients: bool = False  # SGA's gradient steps through a bfloat16 synthesis where the CPU has bf16
    # SGA's temperature falls geometrically from the first value to the second over the steps, so the
    # whole budget anneals (a fixed per-step decay reached its floor early and wasted the last steps).
    temperature: tuple[float, float] = (0.5, 0.05)


# Sized with benchmarks/bench_refine.py (kodim05 at -q 5, CPU time on one core, against the one-pass
# encode). A step on z costs about 0.06 s (bfloat16 products): medium's 40 and the check of their
# result (two synthesis passes) come to about 10x. An SGA step on y costs about 0.23 s with the
# bfloat16 gradient, the first greedy pass about 5 s (its gradient and the curvature: nine float32
# synthesis passes), each later one about 1 s: slow comes to about 55x. On kodim02/05/13/23 at one
# level each, the RD cost against the one-pass encode fell by 7.5 % (medium) and 14.4 % (slow; 40 z
# steps + 48 or 56 SGA steps gave 14.0 and 14.1 %); before z was refined, a greedy pass (11x) gave
# 1.5 % and 60 SGA steps with 4 greedy passes 4.6 %.
BUDGETS = {
    "medium": Budget(sga_steps=0, greedy_passes=0, hyper_steps=40, bf16_gradients=True),
    "slow": Budget(sga_steps=52, greedy_passes=4, hyper_steps=60, bf16_gradients=True),
}


class Refiner:
    """Refines the symbols of one image at one level."""

    def __init__(self, coder: HyperpriorCoder, rgb: np.ndarray, level: float, budget: Budget, *,
                 time_limit: float | None = None, progress: Progress | None = None) -> None:
        self.coder, self.net, self.path = coder, coder.net, coder.path
        self.budget = budget
        self.height, self.width = rgb.shape[:2]
        self.pixels = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float().div_(255)
        self.gain, self.inverse_gain = self.net.gains(torch.tensor([level]))
        self.level = level
        self.lam = float(self.net.level_lambdas(torch.tensor([level], dtype=torch.float64))[0])
        self.grid = table_scales(coder)
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.progress = progress or Progress()
        self.generator = torch.Generator().manual_seed(SEED)
        self.curvature: torch.Tensor | None = None  # per channel; measured on the first tile, kept for the rest

    def run(self, y: torch.Tensor) -> LatentSymbols:
        """Refined symbols for the un-gained latent ``y`` of the padded image (on its device)."""
        device = y.device
        self.pixels, self.grid = self.pixels.to(device), self.grid.to(device)
        self.gain, self.inverse_gain = self.gain.to(device), self.inverse_gain.to(device)
        self.synthesis = self.coder.module_on("g_s", device)
        self.gradient_synthesis = self._gradient_synthesis(device)
        u = (y * self.gain).detach()
        rows, cols = u.shape[2:]
        tiles = [(t, min(t + TILE, rows), l, min(l + TILE, cols)) for t in range(0, rows, TILE)
                 for l in range(0, cols, TILE)]
        hyper_steps = self.budget.hyper_steps if HyperRefiner.available(self.coder) else 0
        steps = hyper_steps + len(tiles) * (self.budget.sga_steps + 2 * self.budget.greedy_passes)
        self.progress.start(steps, "step", "refining")
        start = self.coder.symbols(u, self.coder.hyper_symbols(u))
        stopped = False
        if hyper_steps:
            search = HyperRefiner(self.coder, hyper_steps, self.budget.hyper_learning_rate,
                                  self.budget.temperature, self.generator)
            refined = search.run(u, start, self.tick)
            stopped = search.stopped
            kept = refined is not start and self._cost(refined, search) < self._cost(start, search)
            start = refined if kept else start
            self.progress.note(f"hyper-latent search: {'refined' if kept else 'one-pass'} z kept")
        target = start.latent().double() / (1 << Y_FRACTION)  # the decoded values aimed at
        refines_y = self.budget.sga_steps > 0 or self.budget.greedy_passes > 0
        try:
            for tile in tiles if refines_y and not stopped else []:
                target = self._tile(u, start, target, tile)
        except Stop:
            stopped = True
        if stopped:
            self.progress.note("time limit reached: coding the best symbols so far")
        self.progress.finish()
        return self._final(start, target)

    # -- one tile --------------------------------------------------------------------------------
    def _tile(self, u: torch.Tensor, start: LatentSymbols, target: torch.Tensor, tile) -> torch.Tensor:
        top, bottom, left, right = tile
        rows, cols = u.shape[2:]
        t0, b0, l0, r0 = max(0, top - HALO), min(rows, bottom + HALO), max(0, left - HALO), min(cols, right + HALO)
        inner = (slice(None), slice(None), slice(top - t0, bottom - t0), slice(left - l0, right - l0))
        window = (slice(None), slice(None), slice(t0, b0), slice(l0, r0))
        problem = _Window(self, start.hyper[window], anchor_mask(rows, cols)[0, 0, t0:b0, l0:r0].bool(),
                          self.pixels[:, :, 16 * t0: 16 * b0, 16 * l0: 16 * r0])
        values = target[window].clone()
        if self.budget.sga_steps:
            values = problem.sga(u[window].clone(), values)
        if self.budget.greedy_passes:
            values = problem.greedy(values)
        out = target.clone()
        out[window][inner] = values[inner]
        return out

    def _gradient_synthesis(self, device: torch.device) -> torch.nn.Module | None:
        """A bfloat16, channels-last copy of the synthesis for SGA's gradient steps, or None (float32).

        Why: SGA's gradient is a noisy direction anyway, and on CPUs with
        native bfloat16 (and on GPUs) the synthesis' forward and backward pass
        runs three to four times faster this way, which buys that many more
        steps in the same time. Every cost that decides which symbols are
        kept is still measured in float32.
        """
        if not self.budget.bf16_gradients or not fast_bfloat16(device):
            return None
        return self.coder.module_on("g_s", device, torch.bfloat16).to(memory_format=torch.channels_last)

    def _cost(self, s: LatentSymbols, search: HyperRefiner) -> float:
        """The whole image's cost for these symbols: the decoder's own pixels, and estimated bits."""
        decoded = self.coder.synthesise(s.latent(), self.level, self.height, self.width)
        pixels = torch.from_numpy(decoded).to(self.pixels.device).permute(2, 0, 1)[None].double() / 255
        mse = torch.mean((pixels - self.pixels.double()) ** 2).item()
        return self.lam * 255 ** 2 * mse + search.rate(s) / (self.height * self.width)

    def _final(self, start: LatentSymbols, target: torch.Tensor) -> LatentSymbols:
        """Exact symbols whose decoded values are the refined ones (means re-derived globally)."""
        scale = 1 << Y_FRACTION
        mask = start.mask
        means_a, idx_a = self.path.anchor_parameters(start.hyper)
        sym_a = torch.round(target - means_a.double() / scale).to(torch.int64)
        y_hat_a = torch.where(mask, sym_a * scale + means_a, torch.zeros_like(means_a))
        means_n, idx_n = self.path.nonanchor_parameters(start.hyper, y_hat_a)
        sym_n = torch.round(target - means_n.double() / scale).to(torch.int64)
        return LatentSymbols(start.z, torch.where(mask, sym_a, sym_n), torch.where(mask, means_a, means_n),
                             torch.where(mask, idx_a, idx_n), mask, start.hyper)

    def tick(self) -> None:
        self.progress.advance()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stop


class _Window:
    """The refinement problem of one tile with its halo: exact parameters, synthesis, cost."""

    def __init__(self, refiner: Refiner, hyper: torch.Tensor, mask: torch.Tensor, pixels: torch.Tensor) -> None:
        self.r = refiner
        self.hyper = hyper
        self.mask = mask.expand(hyper.shape[0], refiner.coder.model.config.latent_channels, *mask.shape)
        self.pixels = pixels
        self.count = pixels.shape[2] * pixels.shape[3]
        self.means_a, self.index_a = refiner.path.anchor_parameters(hyper)

    # -- exact parameters --------------------------------------------------------------------------
    def parameters(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Symbols, means (float) and table scales that the decoder derives for ``values``."""
        scale = 1 << Y_FRACTION
        sym_a = torch.round(values - self.means_a.double() / scale).to(torch.int64)
        y_hat_a = torch.where(self.mask, sym_a * scale + self.means_a, torch.zeros_like(self.means_a))
        means_n, index_n = self.r.path.nonanchor_parameters(self.hyper, y_hat_a)
        means = torch.where(self.mask, self.means_a, means_n).double() / scale
        symbols = torch.round(values - means)
        scales = self.r.grid[torch.where(self.mask, self.index_a, index_n).long()]
        return symbols, means, scales

    # -- cost ---------------------------------------------------------------------------------------
    def distortion(self, decoded: torch.Tensor) -> torch.Tensor:
        x = self.r.synthesis(decoded.float() * self.r.inverse_gain)[:, :, :self.pixels.shape[2], :self.pixels.shape[3]]
        return self.r.lam * 255 ** 2 * torch.mean((x - self.pixels) ** 2)

    def gradient_distortion(self, decoded: torch.Tensor) -> torch.Tensor:
        """The distortion for a gradient step: through the bfloat16 synthesis when there is one."""
        synthesis = self.r.gradient_synthesis
        if synthesis is None:
            return self.distortion(decoded)
        y = (decoded.float() * self.r.inverse_gain).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        x = synthesis(y).float()[:, :, :self.pixels.shape[2], :self.pixels.shape[3]]
        return self.r.lam * 255 ** 2 * torch.mean((x - self.pixels) ** 2)

    def bits(self, symbols: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        return bin_bits(symbols, scales)

    def cost(self, symbols, means, scales, *, grad: bool = False):
        """(cost, distortion slope w.r.t. the decoded values or None).

        The cost is always measured in float32; the slope (a direction for the
        greedy passes) comes from the bfloat16 synthesis when there is one.
        """
        split = grad and self.r.gradient_synthesis is not None
        decoded = (symbols + means).float().requires_grad_(grad and not split)
        with torch.set_grad_enabled(grad and not split):
            d = self.distortion(decoded)
        slope = None
        if split:
            decoded = decoded.detach().requires_grad_(True)
            self.gradient_distortion(decoded).backward()
            slope = decoded.grad.double()
        elif grad:
            d.backward()
            slope = decoded.grad.double()
        return d.item() + self.bits(symbols, scales).sum().item() / self.count, slope

    # -- phase 1: stochastic Gumbel annealing --------------------------------------------------------
    def sga(self, u: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        # The relaxed problem runs in float32: it only steers the search; every symbol kept is
        # re-derived and costed exactly (float64 symbols, exact means) at each refresh.
        budget = self.r.budget
        u = u.float().requires_grad_(True)
        optimiser = Adam(u, budget.learning_rate)
        best_cost, best = math.inf, values
        means = scales = None
        for step in range(budget.sga_steps):
            if step % budget.refresh_every == 0:
                with torch.no_grad():
                    symbols, means, scales = self.parameters(u.detach().double())
                    cost, _ = self.cost(symbols, means, scales)
                if cost < best_cost:
                    best_cost, best = cost, symbols + means
                means, scales = means.float(), scales.float()
            tau = annealed_temperature(step, budget.sga_steps, budget.temperature)
            relaxed = sga_round(u - means, tau, self.r.generator)
            decoded = relaxed + means
            loss = self.gradient_distortion(decoded) + bin_bits(relaxed, scales).sum() / self.count
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            self.r.tick()
        with torch.no_grad():
            symbols, means, scales = self.parameters(u.detach().double())
            cost, _ = self.cost(symbols, means, scales)
        return symbols + means if cost < best_cost else best

    # -- phase 2: greedy symbol passes ------------------------------------------------------------------
    def greedy(self, values: torch.Tensor) -> torch.Tensor:
        symbols, means, scales = self.parameters(values)
        cost, slope = self.cost(symbols, means, scales, grad=True)
        if self.r.curvature is None:
            self.r.curvature = self._curvature(symbols + means)
        curvature = (self.r.curvature / self.count).expand_as(symbols)
        share = 0.3
        for _ in range(self.r.budget.greedy_passes):
            for part in (self.mask, ~self.mask):
                change = self._best_changes(symbols, scales, slope, curvature, part, share)
                if change is None:
                    continue
                trial = symbols + means + change
                t_symbols, t_means, t_scales = self.parameters(trial)
                t_cost, t_slope = self.cost(t_symbols, t_means, t_scales, grad=True)
                if t_cost < cost:
                    symbols, means, scales, cost, slope = t_symbols, t_means, t_scales, t_cost, t_slope
                else:
                    share /= 2
                self.r.tick()
        return symbols + means

    def _best_changes(self, symbols, scales, slope, curvature, part, share) -> torch.Tensor | None:
        here = self.bits(symbols, scales)
        gains = []
        for delta in (-1.0, 1.0):
            d_bits = (self.bits(symbols + delta, scales) - here) / self.count
            d_dist = slope * delta + 0.5 * curvature
            gains.append(d_bits + d_dist)
        best = torch.minimum(gains[0], gains[1])
        direction = torch.where(gains[0] <= gains[1], -1.0, 1.0).double()
        useful = (best < 0) & part
        count = int(useful.sum().item() * share)
        if count == 0:
            return None
        threshold = torch.kthvalue(best[useful], count).values
        return torch.where(useful & (best <= threshold), direction, torch.zeros_like(direction))

    def _curvature(self, decoded: torch.Tensor) -> torch.Tensor:
        """Second derivative of the distortion for a unit change of one symbol, per channel, times the
        window's pixel count (the distortion is a mean: other windows divide by their own count).

        Measured with symmetric probes, ``D(+p) + D(-p) - 2 D``, over a sparse
        random set of symbols (1 in 64) of a group of channels at a time; the
        linear terms cancel, what is left is the curvature summed over the
        changed symbols.
        """
        with torch.no_grad():
            base = self.distortion(decoded).item()
            probe = (torch.rand(decoded.shape, generator=self.r.generator, dtype=torch.float64) < 1 / 64).double()
            probe = probe.to(decoded.device)
            channels = decoded.shape[1]
            out = torch.zeros(1, channels, 1, 1, dtype=torch.float64, device=decoded.device)
            for c in range(0, channels, CURVATURE_GROUP):
                p = torch.zeros_like(decoded)
                p[:, c:c + CURVATURE_GROUP] = probe[:, c:c + CURVATURE_GROUP]
                changed = max(1.0, p.sum().item())
                second = self.distortion(decoded + p).item() + self.distortion(decoded - p).item() - 2 * base
                out[:, c:c + CURVATURE_GROUP] = max(second, 0.0) / changed * self.count
        return out
