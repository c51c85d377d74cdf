"""Training the variable-rate hyperprior image model, in bursts that resume exactly.

Each step draws a continuous quality level per crop, so every burst trains
all rates of the one model at once. The loss is ``lambda(level) * 255^2 *
MSE + bits per pixel``, with lambda interpolated geometrically between the
levels' lambdas like the gains are. A checkpoint holds the weights, their
EMA, the optimizer, the step and the random state, and is written
atomically; ``--resume`` continues the same schedule from it.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from codec.io.atomic import atomic_output
from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel
from codec.models.image.hyperprior.model_file import float_state_dict, load_model_file
from codec.train.config import TrainConfig
from codec.train.crops import CropSampler
from codec.train.ema import update_ema
from codec.train.grow import grow_state_dict

log = logging.getLogger("codec.train")


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_final`` at ``steps``: fast for short schedules."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


class ImageTrainer:
    def __init__(self, cfg: TrainConfig, workdir: Path, device: torch.device) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.device = device
        torch.manual_seed(cfg.seed)  # before building the model: its initial weights come from this seed
        self.model_config = cfg.model_config()
        self.model = HyperpriorImageModel(self.model_config).to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.ema = HyperpriorImageModel(self.model_config).to(device)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.step = 0
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(cfg.seed)
        self._train_step = torch.compile(self._loss) if cfg.compile else self._loss

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save(self) -> None:
        state = {
            "model": self.model.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(), "step": self.step,
            "model_config": self.model_config.to_dict(),
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }
        with atomic_output(self.checkpoint_path, overwrite=True) as f:
            torch.save(state, f)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if HyperpriorConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError(f"{path} was trained with another architecture: {state['model_config']}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    def start_from(self, path: Path) -> None:
        """Begin a new schedule from another run's weights, grown to this architecture (``grow.py``).

        ``path`` is a checkpoint (its EMA weights are taken) or a shipped model
        file (its integer entropy path is dequantized), so the next run can
        continue from the weights in the package.
        """
        if path.suffix == ".safetensors":
            loaded = load_model_file(path)
            old_config, weights = loaded.config, float_state_dict(loaded)
        else:
            state = torch.load(path, map_location="cpu", weights_only=False)
            old_config, weights = HyperpriorConfig.from_dict(state["model_config"]), state["ema"]
        weights = grow_state_dict(weights, old_config, self.model_config, seed=self.cfg.seed)
        self.model.load_state_dict(weights)
        self.ema.load_state_dict(weights)

    # -- training ------------------------------------------------------------------------------
    def _loss(self, x: torch.Tensor, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            out = self.model(x, level)
        pixels = x.shape[2] * x.shape[3]
        mse = (out["x_hat"].float() - x).square().mean(dim=(1, 2, 3))
        bpp = out["bits"].float() / pixels
        loss = (self.model.level_lambdas(level) * 255 ** 2 * mse + bpp).mean()
        return loss, mse, bpp

    def train(self, sampler: CropSampler, *, max_seconds: float | None = None) -> None:
        cfg = self.cfg
        start = time.monotonic()
        last_log, last_step = start, self.step
        sums = torch.zeros(3, device=self.device)
        while self.step < cfg.steps:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            x = sampler.sample(cfg.batch, self.generator)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            level = torch.rand(cfg.batch, generator=self.generator, device=self.device) * (self.model_config.levels - 1)
            loss, mse, bpp = self._train_step(x, level)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            update_ema(self.ema, self.model, self.step, self.cfg.ema_decay)
            self.step += 1
            sums += torch.stack([loss.detach(), bpp.detach().mean(),
                                 (10 * torch.log10(1 / mse.detach().clamp_min(1e-10))).mean()])
            if self.step % cfg.log_every == 0:
                now = time.monotonic()
                avg = (sums / cfg.log_every).tolist()
                log.info("step %d  %.2f it/s  loss %.4f  bpp %.3f  psnr %.2f dB  lr %.2e", self.step,
                         (self.step - last_step) / (now - last_log), *avg, learning_rate(cfg, self.step))
                sums.zero_()
                last_log, last_step = now, self.step
            if self.step % cfg.checkpoint_every == 0:
                self.save()
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                log.info("time budget reached at step %d", self.step)
                break
        self.save()

