"""Encode-time refinement of the hierarchical VAE's latents (presets ``medium`` and ``slow``).

The one-pass encoder sends, for each group, its posterior rounded around
the exact prior mean: the amortised guess of a network trained for every
image, not the best latents for this one. Refinement searches all groups'
latents together for the lowest ``lambda * 255^2 * MSE + bits per pixel``
with stochastic Gumbel annealing (Yang, Bamler and Mandt, "Improving
Inference for Neural Image Compression", NeurIPS 2020), as the hyperprior's
``slow`` preset does for its latent. Here a change in a coarse group moves
the prior of every finer group, so the search runs the whole float top-down
path at each step, and the gradient of each group's latent carries what it
costs the groups below it.

The search only steers. Its latents become symbols through the exact integer
path, as in one-pass encoding (each group rounded around the exact prior
mean that the decoder computes), and the result is kept only if the file's
real size and the decoder's own pixels give a lower cost than the one-pass
encode. The decoder and the file format are unchanged.

The search holds the whole image's top-down path and its gradient in memory,
so it runs on images up to :data:`MAX_PIXELS`; larger ones are coded in one
pass (``-v`` says so).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from codec.models.base import Progress
from codec.models.image.hyperprior.annealing import Adam, Stop, annealed_temperature, bin_bits, fast_bfloat16, sga_round
from codec.models.image.hvae.coder import HvaeCoder, TopDown
from codec.models.image.hvae.integer_path import FRACTION, LEVEL_STEPS, GroupParameters
from codec.models.image.hvae.network import SCALE_MIN, HvaeModel, pad_to_multiple
from codec.nn.integer import dequantize_into

MAX_PIXELS = 1 << 22   # 4 MP: the whole search peaks near 2.6 GB there (1.3 GB measured at 2 MP)
SEED = 2023


@dataclass(frozen=True)
class Budget:
    """SGA steps and their schedule for one preset."""

    steps: int
    learning_rate: float = 0.01
    temperature: tuple[float, float] = (0.5, 0.05)


# Sized on kodim05 at -q 4 with hvae-small@2: 12 steps lowered the RD cost 1.1 % (4.4 % at -q 2), 40 steps
# 3.3 % (11.8 % at -q 2). Learning rates 0.005-0.1 and starting temperatures 0.1-1.0 were tried: 0.01 and 0.5
# did best. Cost, `python benchmarks/bench_refine.py --model hvae --quality 4` (hvae-small@3): medium 10.6x and
# slow 27.6x the one-pass encode's CPU time with 2 threads, 16x and 45x with --threads 1 (the one-pass encode
# uses the second thread better than the search does).
BUDGETS = {
    "medium": Budget(steps=12),
    "slow": Budget(steps=40),
}


@dataclass
class Refined:
    """The segments to send (the refined ones or the one-pass ones) and what happened, for ``-v``."""

    segments: list[bytes]
    note: str


class HvaeRefiner:
    """Refines the latents of one image at one level."""

    def __init__(self, coder: HvaeCoder, rgb: np.ndarray, level_steps: int, budget: Budget, *,
                 threads: int = 1, time_limit: float | None = None, progress: Progress | None = None) -> None:
        self.coder, self.net, self.budget = coder, search_model(coder), budget
        self.rgb, self.level_steps, self.threads = rgb, level_steps, threads
        self.height, self.width = rgb.shape[:2]
        self.level = torch.tensor([level_steps / LEVEL_STEPS])
        self.lam = float(self.net.level_lambdas(self.level)[0])
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.progress = progress or Progress()
        self.generator = torch.Generator().manual_seed(SEED)

    def run(self, one_pass: list[bytes]) -> Refined:
        """The refined segments if they cost less than ``one_pass`` (the one-pass encode at this level)."""
        if self.height * self.width > MAX_PIXELS:
            return Refined(one_pass, f"refinement skipped: over {MAX_PIXELS // 2 ** 20} MP, one pass used")
        x = pad_to_multiple(torch.from_numpy(np.array(self.rgb, dtype=np.uint8)).permute(2, 0, 1)[None]
                            .float().div_(255), self.net.PAD_MULTIPLE)
        latents, stopped = self._search(x)
        refined = self.coder.encode_symbols(self._exact(latents), threads=self.threads)
        costs = self._cost(refined), self._cost(one_pass)
        kept = costs[0] < costs[1]
        note = (f"latent search{' (stopped by the time limit)' if stopped else ''}: RD cost "
                f"{100 * (costs[0] / costs[1] - 1):+.1f} %, {'refined' if kept else 'one-pass'} latents kept")
        return Refined(refined if kept else one_pass, note)

    # -- the relaxed search --------------------------------------------------------------------
    def _search(self, x: torch.Tensor) -> tuple[list[torch.Tensor], bool]:
        net, level = self.net, self.level
        with torch.no_grad():
            features = net.encoder(x, level)
            latents = [v.requires_grad_(True) for v in self._posteriors(features, x.shape[2], x.shape[3])]
        optimisers = [Adam(v, self.budget.learning_rate) for v in latents]
        steps = [net.steps(g, level) for g in range(len(net.groups))]  # the level's, fixed for the search
        fast = fast_bfloat16(x.device)
        target = x[:, :, :self.height, :self.width]
        pixels = self.height * self.width
        self.progress.start(self.budget.steps, "step", "refining")
        stopped = False
        try:
            for step in range(self.budget.steps):
                tau = annealed_temperature(step, self.budget.steps, self.budget.temperature)
                with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=fast):
                    f = net.top(1, x.shape[2], x.shape[3])
                    bits = torch.zeros((), device=x.device)
                    for g, group in enumerate(net.groups):
                        if group.entry is not None:
                            f = group.entry(f)
                        mean, log_scale = group.prior(f).float().chunk(2, dim=1)
                        step_size, log_step = steps[g]
                        relaxed = sga_round(latents[g] - mean / step_size, tau, self.generator)
                        scale = torch.exp(log_scale - log_step).clamp_min(SCALE_MIN)
                        bits = bits + bin_bits(relaxed, scale).sum()
                        f = group.merge((f, mean + step_size * relaxed))
                    x_hat = net.synthesis(f + net.synthesis_embedding(level)).float() + 0.5
                mse = torch.mean((x_hat[:, :, :self.height, :self.width] - target) ** 2)
                loss = self.lam * 255 ** 2 * mse + bits / pixels
                for optimiser in optimisers:
                    optimiser.zero_grad()
                loss.backward()
                for optimiser in optimisers:
                    optimiser.step()
                self._tick()
        except Stop:
            stopped = True
        return [v.detach() for v in latents], stopped

    def _posteriors(self, features: dict, height: int, width: int) -> list[torch.Tensor]:
        """Each group's posterior along the float top-down path (fed the rounded latents, as one-pass
        coding does): where the search starts. They are held in units of the group's quantization steps,
        so that one learning rate moves every channel by the same share of a bin."""
        net, out = self.net, []
        f = net.top(1, height, width)
        for g, group in enumerate(net.groups):
            if group.entry is not None:
                f = group.entry(f)
            mean, _ = group.prior(f).chunk(2, dim=1)
            q = group.posterior(torch.cat([f, features[group.stride]], dim=1))
            step_size, _ = net.steps(g, self.level)
            z = mean + step_size * torch.round((q - mean) / step_size)
            out.append(q / step_size)
            f = group.merge((f, z))
        return out

    def _tick(self) -> None:
        self.progress.advance()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stop

    # -- exact coding and judging --------------------------------------------------------------
    def _exact(self, latents: list[torch.Tensor]) -> TopDown:
        """The symbols of the searched latents: each group rounded around its exact prior mean."""
        scale = float(1 << FRACTION)

        def symbols(g: int, params: GroupParameters, feature: torch.Tensor) -> torch.Tensor:
            means = params.means.double() / scale
            steps = params.steps.double().view(1, -1, 1, 1) / scale
            return torch.round(latents[g].double() - means / steps).clamp(-(2 ** 30), 2 ** 30).to(torch.int64)

        return self.coder.top_down(self.height, self.width, self.level_steps, symbols)

    def _cost(self, segments: list[bytes]) -> float:
        """``lambda * 255^2 * MSE + bpp`` of a file's segments, from the decoder's own pixels."""
        decoded = self.coder.decompress(segments, self.height, self.width, self.level_steps, threads=self.threads)
        mse = float(np.mean((decoded.astype(np.float64) - self.rgb.astype(np.float64)) ** 2)) / 255 ** 2
        bits = 8 * sum(len(s) for s in segments)
        return self.lam * 255 ** 2 * mse + bits / (self.height * self.width)


def search_model(coder: HvaeCoder) -> HvaeModel:
    """The float model with the top-down path dequantized from the file's integer modules (built once
    per coder): the file stores that path only as integers, and the search needs its gradient."""
    cache = coder.__dict__.setdefault("_modules", {})
    if "search" not in cache:
        model, path = copy.deepcopy(coder.net), coder.path
        with torch.no_grad():
            model.constant.copy_(path.constant.view_as(model.constant).double() / (1 << path.constant_fraction))
        for g, group in enumerate(model.groups):
            for module, integer in ((group.entry, path.entries[g]), (group.prior, path.priors[g]),
                                    (group.merge, path.merges[g])):
                if module is not None:
                    dequantize_into(module, integer)
        cache["search"] = model.eval().requires_grad_(False)
    return cache["search"]
