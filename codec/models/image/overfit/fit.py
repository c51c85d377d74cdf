"""Fitting latent grids and networks to one image: the encoder's whole effort.

Loss ``D + lambda R``: ``D`` the mean squared error of RGB in [0, 1], ``R``
the latents' bits per pixel under the float context model. Latents are
stored divided by :data:`LATENT_GAIN` (a larger effective learning rate for
them under Adam). Two phases (C3 / Cool-chic schedules, see
``MODEL_CARD.md``):

1. ``iterations`` steps with noisy soft rounding, the temperature and noise
   shrinking linearly and the learning rate following a cosine;
2. ``final_iterations`` steps with the latents hard-rounded and frozen, the
   networks fine-tuned at a small learning rate.

Every ``EVAL_EVERY`` steps the true loss (hard-rounded latents, no noise) is
measured and the best state kept: what the encoder codes is the best state
seen, so stopping early (a time limit) still codes something sensible. With
a time limit the schedule is compressed to fit it, measured after a few
steps, rather than cut short.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from codec.models.base import Progress
from codec.models.image.overfit.architecture import LATENT_LIMIT, Architecture, grid_shapes
from codec.models.image.overfit.network import Decoder
from codec.models.image.overfit.rounding import noisy_softround

LATENT_GAIN = 16.0
EVAL_EVERY = 100
TIMING_STEPS = 5


@dataclass(frozen=True)
class Schedule:
    """An encoder preset: how many steps of each phase, and the shape of the annealing."""

    iterations: int
    final_iterations: int
    lr: float = 1e-2
    final_lr: float = 1e-4
    temperature: tuple[float, float] = (0.35, 0.08)
    noise: tuple[float, float] = (0.22, 0.15)
    grad_clip: float = 0.1


# Step counts sized by time: about 2.5 (fast), 7.5 (medium) and 25 (slow) minutes of one core for a
# 768x512 image at 0.34 s per step (benchmarks/bench_overfit.py); twice the steps of the first presets,
# since a step now costs half as much.
PRESETS = {
    "fast": Schedule(iterations=450, final_iterations=30),
    "medium": Schedule(iterations=1250, final_iterations=80),
    "slow": Schedule(iterations=4300, final_iterations=280),
}


@dataclass
class Fitted:
    """What fitting returns: the float networks and the integer latent grids (finest first)."""

    arch: Architecture
    decoder: Decoder
    grids: list[torch.Tensor]
    state: dict[str, torch.Tensor]    # the float decoder state and latents of ``grids``, to resume from
    loss: float
    mse: float
    bpp: float
    steps: int
    seconds: float


@functools.cache
def keep_freed_memory() -> None:
    """Ask glibc to keep freed blocks below 32 MiB for reuse instead of returning them to the system.

    Every fitting step allocates and frees the same few dozen image-sized
    buffers; by default glibc maps each one afresh, and the page faults of
    touching new pages cost more than the arithmetic (measured: a step took
    five times longer on a busy virtual machine). Process-wide and harmless
    elsewhere (the memory stays in the process for its next use); a no-op off glibc.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 64 << 20)


def image_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 -> ``[1, 3, H, W]`` float32 in [0, 1]."""
    x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None]
    return x.to(device=device, dtype=torch.float32).div_(255.0)


class Fitter:
    """One fit of one image at one lambda (see the module docstring)."""

    def __init__(self, rgb: np.ndarray, lam: float, arch: Architecture, schedule: Schedule, *,
                 device: str | torch.device = "cpu", seed: int = 0, time_limit: float | None = None,
                 progress: Progress | None = None, resume: "Fitted | None" = None) -> None:
        keep_freed_memory()
        self.device = torch.device(device)
        self.target = image_tensor(rgb, self.device)
        self.height, self.width = rgb.shape[:2]
        self.pixels = self.height * self.width
        self.lam = float(lam)
        self.arch = arch
        self.schedule = schedule
        self.time_limit = time_limit
        self.progress = progress or Progress()
        torch.manual_seed(seed)
        self.decoder = Decoder(arch).to(self.device)
        self.latents = [torch.zeros(1, 1, h, w, device=self.device, requires_grad=True)
                        for h, w in grid_shapes(self.height, self.width, arch.grids)]
        self.best: tuple[float, dict, list[torch.Tensor], float, float] | None = None
        self.steps = 0
        if resume is not None:
            self.decoder.load_state_dict({k[len("decoder."):]: v for k, v in resume.state.items()
                                          if k.startswith("decoder.")})
            with torch.no_grad():
                for g, latent in enumerate(self.latents):
                    latent.copy_(resume.state[f"latent.{g}"])

    # -- one step ----------------------------------------------------------------------------------
    def noisy_grids(self, t: float, noise: float) -> list[torch.Tensor]:
        """The latents through noisy soft rounding (differentiable)."""
        return [noisy_softround(latent * LATENT_GAIN, t, noise) for latent in self.latents]

    def hard_grids(self) -> list[torch.Tensor]:
        """The latents rounded as they will be coded (no gradient reaches the latents)."""
        return [torch.round(latent.detach() * LATENT_GAIN).clamp_(-LATENT_LIMIT, LATENT_LIMIT)
                for latent in self.latents]

    def _loss(self, grids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.decoder.image(grids)
        mse = torch.mean((x - self.target) ** 2)
        bpp = self.decoder.total_bits(grids) / self.pixels
        return mse + self.lam * bpp, mse, bpp

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float, float]:
        """(loss, mse, bpp) with hard-rounded latents: what coding this state would give, roughly."""
        loss, mse, bpp = self._loss(self.hard_grids())
        return float(loss), float(mse), float(bpp)

    def _remember(self) -> None:
        loss, mse, bpp = self.evaluate()
        if self.best is None or loss < self.best[0]:
            state = {k: v.detach().clone() for k, v in self.decoder.state_dict().items()}
            self.best = (loss, state, [l.detach().clone() for l in self.latents], mse, bpp)

    # -- the schedule ------------------------------------------------------------------------------
    def run(self) -> Fitted:
        s = self.schedule
        start = time.perf_counter()
        deadline = None if self.time_limit is None else start + self.time_limit
        total = s.iterations + s.final_iterations
        self.progress.start(total, "it", "fitting")
        nets = list(self.decoder.parameters())
        optimizer = torch.optim.Adam([{"params": nets}, {"params": self.latents}], lr=s.lr)
        main, final = s.iterations, s.final_iterations
        i = 0
        while i < main:
            frac = i / max(main - 1, 1)
            t = s.temperature[0] + (s.temperature[1] - s.temperature[0]) * frac
            noise = s.noise[0] + (s.noise[1] - s.noise[0]) * frac
            lr = s.lr * (0.001 + 0.999 * 0.5 * (1 + math.cos(math.pi * frac)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            self.step(optimizer, nets, self.noisy_grids(t, noise))
            i += 1
            if deadline is not None and i == TIMING_STEPS:
                main, final = self._fit_to_deadline(start, deadline, i, main, final)
            if i % EVAL_EVERY == 0 or i == main:
                self._remember()
            if deadline is not None and time.perf_counter() > deadline:
                break
        self._restore_best()
        optimizer = torch.optim.Adam(nets, lr=s.final_lr)
        for j in range(final):
            if deadline is not None and time.perf_counter() > deadline:
                break
            self.step(optimizer, nets, self.hard_grids())
            if (j + 1) % EVAL_EVERY == 0 or j + 1 == final:
                self._remember()
        self._restore_best()
        loss, state, latents, mse, bpp = self.best
        self.progress.finish()
        grids = [torch.round(l * LATENT_GAIN).clamp_(-LATENT_LIMIT, LATENT_LIMIT).to(torch.int32).cpu()
                 for l in latents]
        saved = {f"decoder.{k}": v for k, v in state.items()}
        saved.update({f"latent.{g}": l for g, l in enumerate(latents)})
        return Fitted(self.arch, self.decoder, grids, saved, loss, mse, bpp, self.steps,
                      time.perf_counter() - start)

    def step(self, optimizer: torch.optim.Optimizer, nets: list[torch.Tensor], grids: list[torch.Tensor]) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = self._loss(grids)
        loss.backward()
        if self.schedule.grad_clip:
            torch.nn.utils.clip_grad_norm_(nets, self.schedule.grad_clip)
        optimizer.step()
        self.steps += 1
        self.progress.advance()

    def _fit_to_deadline(self, start: float, deadline: float, done: int, main: int, final: int) -> tuple[int, int]:
        """Shrink both phases in proportion so that the whole schedule ends before the deadline."""
        per_step = (time.perf_counter() - start) / done
        affordable = int((deadline - start) / per_step * 0.9)
        if affordable >= main + final:
            return main, final
        scale = max(affordable, done + 1) / (main + final)
        new_main = max(done + 1, int(main * scale))
        self.progress.note(f"time limit: {new_main} + {int(final * scale)} steps instead of {main} + {final}")
        return new_main, int(final * scale)

    def _restore_best(self) -> None:
        if self.best is None:
            self._remember()
        _, state, latents, _, _ = self.best
        self.decoder.load_state_dict(state)
        with torch.no_grad():
            for dst, src in zip(self.latents, latents):
                dst.copy_(src)
