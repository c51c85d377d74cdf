"""Training the variable-rate hyperprior image model, in bursts that resume exactly.

Each step draws a continuous quality level per crop, so every burst trains
all rates of the one model at once. The loss is ``lambda(level) * 255^2 *
MSE + bits per pixel``, with lambda interpolated geometrically between the
levels' lambdas like the gains are. A checkpoint holds the weights, their
EMA, the optimizer, the step and the random state, and is written
atomically; ``--resume`` continues the same schedule from it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel
from codec.models import weights_file
from codec.models.image.hyperprior.model_file import float_state_dict, load_model_bytes
from codec.train.burst_trainer import BurstTrainer, psnr
from codec.train.crops import CropSampler
from codec.train.grow import grow_state_dict


class ImageTrainer(BurstTrainer):
    family = "hyperprior"
    config_type = HyperpriorConfig

    def __init__(self, cfg, workdir: Path, device: torch.device) -> None:
        super().__init__(cfg, workdir, device)
        self._loss_fn = torch.compile(self._loss) if cfg.compile else self._loss

    def build_model(self) -> HyperpriorImageModel:
        return HyperpriorImageModel(self.model_config)

    def start_from(self, path: Path) -> None:
        """Begin a new schedule from another run's weights, grown to this architecture (``grow.py``).

        ``path`` is a checkpoint (its EMA weights are taken) or a shipped model
        file (its integer entropy path is dequantized), so the next run can
        continue from the weights in the package.
        """
        if path.name.endswith((".safetensors", ".safetensors.xz")):
            loaded = load_model_bytes(weights_file.read_file(path), str(path))
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

    def train_step(self, sampler: CropSampler) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        x = sampler.sample(cfg.batch, self.generator)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        level = torch.rand(cfg.batch, generator=self.generator, device=self.device) * (self.model_config.levels - 1)
        loss, mse, bpp = self._loss_fn(x, level)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return {"loss": loss, "bpp": bpp, "psnr": psnr(mse)}
