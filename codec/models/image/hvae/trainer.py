"""Training the hierarchical VAE in bursts that resume exactly.

Each step draws a continuous rate level per crop (uniform over all levels),
so every burst trains every rate of the one model. The loss is
``lambda(level) * 255^2 * MSE + bits per pixel`` with lambda interpolated
geometrically between the levels' lambdas. A checkpoint holds the weights,
their EMA, the optimizer, the step, the random states and the seconds spent,
written atomically; ``--resume`` continues the same schedule from it.

Progressive decoding: each step also decodes the first ``preview_samples``
crops from a random prefix of the groups (the rest at their prior means, as
``codec decode --groups`` does) and adds ``preview_weight`` times its
weighted distortion. Without it the model learns to put nearly everything
in the finest groups (the coarse ones collapse to their priors), so a
prefix would decode to a flat grey image and the coarse groups would not
serve as side information for the fine ones.

Quantization-aware fine-tuning (``qat_from``): from that step on, the
top-down modules that become integer at export (``entry``, ``prior``,
``merge`` of every group) round their outputs to the fraction bits the
integer conversion chooses (re-chosen at every checkpoint from calibration
crops), with straight-through gradients, so the exported integer path
behaves like the float model it was trained as.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from codec.io.atomic import atomic_output
from codec.models.image.hvae.network import HvaeConfig, HvaeModel
from codec.models.image.hvae.train_config import HvaeTrainConfig
from codec.train.crops import CropSampler
from codec.train.ema import update_ema
from codec.train.image_trainer import learning_rate

log = logging.getLogger("codec.train")


class HvaeTrainer:
    def __init__(self, cfg: HvaeTrainConfig, workdir: Path, device: torch.device) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.device = device
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # before building the model: its initial weights come from this seed
        self.model_config = cfg.model_config()
        self.model = HvaeModel(self.model_config).to(device)
        self.ema = HvaeModel(self.model_config).to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.ema = self.ema.to(memory_format=torch.channels_last)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.step = 0
        self.seconds = 0.0   # training time of all bursts so far (the model card's cost)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(cfg.seed)
        self._fake_quant: list = []
        self._train_step = torch.compile(self._loss) if cfg.compile else self._loss

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save(self) -> None:
        state = {
            "model": self.model.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(), "step": self.step, "seconds": self.seconds,
            "model_config": self.model_config.to_dict(), "family": "hvae",
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }
        with atomic_output(self.checkpoint_path, overwrite=True) as f:
            torch.save(state, f)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if HvaeConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError(f"{path} was trained with another architecture: {state['model_config']}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.seconds = state.get("seconds", 0.0)
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    def start_from(self, path: Path) -> None:
        """Begin a new schedule from another run's checkpoint (its EMA weights; same architecture)."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("family") != "hvae":
            raise ValueError("not a checkpoint of the hvae family")
        if HvaeConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError("it was trained with another architecture")
        self.model.load_state_dict(state["ema"])
        self.ema.load_state_dict(state["ema"])

    # -- training ------------------------------------------------------------------------------
    def _loss(self, x: torch.Tensor, level: torch.Tensor, preview: int | None):
        cfg = self.cfg
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            out = self.model(x, level, preview=preview, preview_samples=cfg.preview_samples)
        pixels = x.shape[2] * x.shape[3]
        mse = (out["x_hat"].float() - x).square().mean(dim=(1, 2, 3))
        bpp = out["bits"].float() / pixels
        lambdas = self.model.level_lambdas(level) * 255 ** 2
        loss = (lambdas * mse + bpp).mean()
        if preview is not None:
            n = cfg.preview_samples
            preview_mse = (out["x_preview"].float() - x[:n]).square().mean(dim=(1, 2, 3))
            loss = loss + cfg.preview_weight * (lambdas[:n] * preview_mse).sum() / x.shape[0]
        return loss, mse, bpp

    def _refresh_fake_quant(self, sampler: CropSampler) -> None:
        """(Re)attach the integer path's rounding to the training model (QAT), calibrated on fixed crops."""
        from codec.models.image.hvae.conversion import attach_integer_rounding

        for handle in self._fake_quant:
            handle.remove()
        g = torch.Generator(device=self.device)
        g.manual_seed(1234)
        crops = sampler.sample(8, g)
        self._fake_quant = attach_integer_rounding(self.model, crops)

    def train(self, sampler: CropSampler, *, max_seconds: float | None = None) -> None:
        cfg = self.cfg
        start = time.monotonic()
        last_log, last_step, last_save = start, self.step, start
        sums = torch.zeros(3, device=self.device)
        if cfg.qat_from and self.step >= cfg.qat_from:
            self._refresh_fake_quant(sampler)
        while self.step < cfg.steps:
            if cfg.qat_from and self.step == cfg.qat_from:
                self._refresh_fake_quant(sampler)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            x = sampler.sample(cfg.batch, self.generator)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            level = torch.rand(cfg.batch, generator=self.generator, device=self.device) * (self.model_config.levels - 1)
            groups = len(self.model_config.groups)
            preview = None
            if cfg.preview_weight > 0 and cfg.preview_samples > 0:
                preview = int(torch.randint(1, groups, (1,), generator=self.generator, device=self.device))
            loss, mse, bpp = self._train_step(x, level, preview)
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
                now = time.monotonic()
                self.seconds += now - last_save
                last_save = now
                self.save()
                if self._fake_quant:
                    self._refresh_fake_quant(sampler)
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                log.info("time budget reached at step %d", self.step)
                break
        self.seconds += time.monotonic() - last_save
        self.save()

