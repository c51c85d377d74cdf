"""Training the token codec in bursts that resume exactly.

Each step codes a batch of crops at a random granularity: per crop, a random
fraction of its 32x32 blocks gets the fine grid and a random part of those
the finest grid, ranked by the same information measure the encoder uses,
so one model learns every rate. Losses:

- reconstruction: L1 + ``l2_weight`` * MSE;
- LFQ: commitment and the code-usage entropy term;
- from ``adv_from`` on, a patch discriminator (hinge loss) and feature
  matching on its hidden features (the perceptual term: features we train,
  nothing pretrained);
- the prior: cross-entropy of the (detached) tokens under the context
  models, in bits per pixel; it trains only the prior.

A checkpoint holds the weights, their EMA, the discriminator, both
optimizers, the step, the random states and the seconds spent, written
atomically; ``--resume`` continues the same schedule from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codec.models.image.vq.discriminator import PatchDiscriminator
from codec.models.image.vq.granularity import block_information, levels_from_ranking, presence
from codec.models.image.vq.network import VqConfig, VqModel, lfq
from codec.models.image.vq.train_config import VqTrainConfig
from codec.train.burst_trainer import BurstTrainer, psnr
from codec.train.crops import CropSampler


class VqTrainer(BurstTrainer):
    family = "vq"
    config_type = VqConfig
    ema_buffers = True   # the encoder's batch-norm statistics

    def __init__(self, cfg: VqTrainConfig, workdir: Path, device: torch.device) -> None:
        super().__init__(cfg, workdir, device)
        self.disc = PatchDiscriminator(cfg.disc_width).to(device)
        self.disc_optimizer = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.9))

    def build_model(self) -> VqModel:
        return VqModel(self.model_config)

    def extra_state(self) -> dict[str, Any]:
        return {"disc": self.disc.state_dict(), "disc_optimizer": self.disc_optimizer.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.disc.load_state_dict(state["disc"])
        self.disc_optimizer.load_state_dict(state["disc_optimizer"])

    def load_extra_start(self, state: dict[str, Any]) -> None:
        self.disc.load_state_dict(state["disc"])

    # -- training ------------------------------------------------------------------------------
    def _random_levels(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self.generator
        fine = (torch.rand(b, generator=g, device=self.device) * 1.4 - 0.2).clamp(0, 1)
        finest = (torch.rand(b, generator=g, device=self.device) * 1.5 - 0.5).clamp(0, 1) * fine
        return levels_from_ranking(block_information(x), fine, finest)

    def _step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        adversarial = cfg.adv_from > 0 and self.step >= cfg.adv_from
        z = self.model.encoder(x)
        tokens, commit, entropy = [], 0.0, 0.0
        for zs in z:
            t, c, e = lfq(zs)
            tokens.append(t)
            commit, entropy = commit + c, entropy + e
        present = presence(self._random_levels(x))
        x_hat = self.model.synthesis(tokens, present[1:])
        l1 = (x_hat - x).abs().mean()
        mse = (x_hat - x).square().mean()
        loss = l1 + cfg.l2_weight * mse + cfg.commit_weight * commit + cfg.entropy_weight * entropy
        prior_bpp = self.model.prior_losses(tokens, present).mean() / (x.shape[2] * x.shape[3])
        loss = loss + cfg.prior_weight * prior_bpp
        g_adv = fm = torch.zeros((), device=self.device)
        if adversarial:
            self.disc.requires_grad_(False)
            fake_score, fake_feats = self.disc(x_hat)
            with torch.no_grad():
                _, real_feats = self.disc(x)
            g_adv = -fake_score.mean()
            fm = sum((a - b).abs().mean() for a, b in zip(fake_feats, real_feats)) / len(fake_feats)
            loss = loss + cfg.adv_weight * g_adv + cfg.fm_weight * fm
            self.disc.requires_grad_(True)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        d_loss = torch.zeros((), device=self.device)
        if adversarial:
            real_score, _ = self.disc(x)
            fake_score, _ = self.disc(x_hat.detach())
            d_loss = F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_optimizer.step()
        return {"loss": loss, "psnr": psnr(mse), "prior_bpp": prior_bpp, "g_adv": g_adv, "fm": fm, "d": d_loss,
                "entropy": torch.as_tensor(entropy)}

    def train_step(self, sampler: CropSampler) -> dict[str, torch.Tensor]:
        return self._step(sampler.sample(self.cfg.batch, self.generator))
