"""What every torch family's trainer shares: exact resumption and the burst loop.

Training here happens in bursts (minutes of idle CPU, a short GPU loan), so
a run must stop anywhere and continue as if it had not. This class holds
everything that promise rests on, written once so that it means the same for
every family: the model and its EMA (the shipped weights), Adam, the step,
the seconds of training spent (the model card's cost), the generator every
random draw of a step comes from, checkpoints written atomically with every
random state, and the loop itself (learning-rate schedule, logging,
checkpoints, time budget). A family says how to build its model and how to
take one step (:meth:`BurstTrainer.train_step`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from codec.io.atomic import atomic_output
from codec.train.ema import update_ema

log = logging.getLogger("codec.train")

#: how the loop prints the statistics a step returns (others: four decimals)
STAT_FORMATS = {"loss": "%.4f", "bpp": "%.3f", "psnr": "%.2f dB", "psnr-yuv": "%.2f dB"}


def learning_rate(cfg: Any, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_final`` at ``steps``: fast for short schedules."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of mean squared errors of [0, 1] samples (per item)."""
    return 10 * torch.log10(1 / mse.detach().clamp_min(1e-10))


class BurstTrainer:
    """A model, its EMA and Adam, trained in bursts from ``cfg`` (lr, lr_final, warmup, steps, ema_decay,
    log_every, checkpoint_every, seed; optionally threads and channels_last).

    Subclasses set :attr:`family` and :attr:`config_type` and implement
    :meth:`build_model` and :meth:`train_step`; the hooks (``extra_state``,
    ``begin_burst``, ``after_checkpoint``, ``describe``) default to nothing.
    """

    family = ""                  # stored in checkpoints; ``start_from`` checks it
    config_type: Any = None      # the architecture's config class (``from_dict``, ``to_dict``)
    ema_buffers = False          # also copy buffers (batch-norm statistics) into the EMA after each step

    def __init__(self, cfg: Any, workdir: Path, device: torch.device, *,
                 generator_device: torch.device | str | None = None) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.device = device
        if getattr(cfg, "threads", 0) > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # before building the model: its initial weights come from this seed
        self.model_config = cfg.model_config()
        self.model = self.build_model().to(device)
        self.ema = self.build_model().to(device)
        if getattr(cfg, "channels_last", False):
            self.model = self.model.to(memory_format=torch.channels_last)
            self.ema = self.ema.to(memory_format=torch.channels_last)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.step = 0
        self.seconds = 0.0
        self.generator = torch.Generator(device=device if generator_device is None else generator_device)
        self.generator.manual_seed(cfg.seed)

    # -- what a family provides ----------------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        """A fresh model of ``self.model_config``."""
        raise NotImplementedError

    def train_step(self, sampler: Any) -> dict[str, torch.Tensor]:
        """One optimizer step (draws from ``self.generator``); the statistics to log, as tensors."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """More to checkpoint (a discriminator and its optimizer)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` saved."""

    def begin_burst(self, sampler: Any) -> None:
        """Before the first step of a burst."""

    def after_checkpoint(self, sampler: Any) -> None:
        """After each periodic checkpoint."""

    def describe(self, averages: dict[str, float]) -> str:
        """The log line's statistics."""
        return "  ".join(f"{name} {STAT_FORMATS.get(name, '%.4f') % value}" for name, value in averages.items())

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save(self) -> None:
        state = {
            "model": self.model.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(), "step": self.step, "seconds": self.seconds,
            "model_config": self.model_config.to_dict(), "family": self.family,
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            **self.extra_state(),
        }
        with atomic_output(self.checkpoint_path, overwrite=True) as f:
            torch.save(state, f)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if self.config_type.from_dict(state["model_config"]) != self.model_config:
            raise ValueError(f"{path} was trained with another architecture: {state['model_config']}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_extra_state(state)
        self.step = state["step"]
        self.seconds = state.get("seconds", 0.0)
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    def start_from(self, path: Path) -> None:
        """Begin a new schedule from another run's checkpoint: its EMA weights (and extra state), same
        family and architecture."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("family") != self.family:
            raise ValueError(f"not a checkpoint of the {self.family} family")
        if self.config_type.from_dict(state["model_config"]) != self.model_config:
            raise ValueError("it was trained with another architecture")
        self.model.load_state_dict(state["ema"])
        self.ema.load_state_dict(state["ema"])
        self.load_extra_start(state)

    def load_extra_start(self, state: dict[str, Any]) -> None:
        """What else a new schedule takes from another run's checkpoint (a discriminator)."""

    # -- the burst -----------------------------------------------------------------------------
    def train(self, sampler: Any, *, max_seconds: float | None = None) -> None:
        """Steps until the schedule ends or ``max_seconds`` pass, checkpointing as it goes and at the end."""
        cfg = self.cfg
        start = time.monotonic()
        last_log, last_step, last_save = start, self.step, start
        sums: dict[str, torch.Tensor] = {}
        self.begin_burst(sampler)
        while self.step < cfg.steps:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            stats = self.train_step(sampler)
            update_ema(self.ema, self.model, self.step, cfg.ema_decay)
            if self.ema_buffers:
                with torch.no_grad():   # the EMA averages parameters only
                    for e, b in zip(self.ema.buffers(), self.model.buffers()):
                        e.copy_(b)
            self.step += 1
            for name, value in stats.items():   # summed as tensors: no device sync per step
                value = value.detach().float().mean()
                sums[name] = sums[name] + value if name in sums else value
            if self.step % cfg.log_every == 0:
                now = time.monotonic()
                averages = {name: float(total) / cfg.log_every for name, total in sums.items()}
                log.info("step %d  %.2f it/s  %s  lr %.2e", self.step, (self.step - last_step) / (now - last_log),
                         self.describe(averages), learning_rate(cfg, self.step))
                sums.clear()
                last_log, last_step = now, self.step
            if self.step % cfg.checkpoint_every == 0:
                now = time.monotonic()
                self.seconds += now - last_save
                last_save = now
                self.save()
                self.after_checkpoint(sampler)
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                log.info("time budget reached at step %d", self.step)
                break
        self.seconds += time.monotonic() - last_save
        self.save()
