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

from pathlib import Path

import torch

from codec.models.image.hvae.network import HvaeConfig, HvaeModel
from codec.models.image.hvae.train_config import HvaeTrainConfig
from codec.train.burst_trainer import BurstTrainer, psnr
from codec.train.crops import CropSampler


class HvaeTrainer(BurstTrainer):
    family = "hvae"
    config_type = HvaeConfig

    def __init__(self, cfg: HvaeTrainConfig, workdir: Path, device: torch.device) -> None:
        super().__init__(cfg, workdir, device)
        self._fake_quant: list = []
        self._loss_fn = torch.compile(self._loss) if cfg.compile else self._loss

    def build_model(self) -> HvaeModel:
        return HvaeModel(self.model_config)

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

    def begin_burst(self, sampler: CropSampler) -> None:
        if self.cfg.qat_from and self.step >= self.cfg.qat_from:
            self._refresh_fake_quant(sampler)

    def after_checkpoint(self, sampler: CropSampler) -> None:
        if self._fake_quant:
            self._refresh_fake_quant(sampler)

    def train_step(self, sampler: CropSampler) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if cfg.qat_from and self.step == cfg.qat_from:
            self._refresh_fake_quant(sampler)
        x = sampler.sample(cfg.batch, self.generator)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        level = torch.rand(cfg.batch, generator=self.generator, device=self.device) * (self.model_config.levels - 1)
        groups = len(self.model_config.groups)
        preview = None
        if cfg.preview_weight > 0 and cfg.preview_samples > 0:
            preview = int(torch.randint(1, groups, (1,), generator=self.generator, device=self.device))
        loss, mse, bpp = self._loss_fn(x, level, preview)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return {"loss": loss, "bpp": bpp, "psnr": psnr(mse)}
