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

import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from codec.io.atomic import atomic_output
from codec.models.image.vq.discriminator import PatchDiscriminator
from codec.models.image.vq.granularity import block_information, levels_from_ranking, presence
from codec.models.image.vq.network import VqConfig, VqModel, lfq
from codec.models.image.vq.train_config import VqTrainConfig
from codec.train.crops import CropSampler
from codec.train.ema import update_ema
from codec.train.image_trainer import learning_rate

log = logging.getLogger("codec.train")


class VqTrainer:
    def __init__(self, cfg: VqTrainConfig, workdir: Path, device: torch.device) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.device = device
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # before building the model: its initial weights come from this seed
        self.model_config = cfg.model_config()
        self.model = VqModel(self.model_config).to(device)
        self.ema = VqModel(self.model_config).to(device)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.disc = PatchDiscriminator(cfg.disc_width).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.disc_optimizer = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.9))
        self.step = 0
        self.seconds = 0.0
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(cfg.seed)

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save(self) -> None:
        state = {
            "model": self.model.state_dict(), "ema": self.ema.state_dict(), "disc": self.disc.state_dict(),
            "optimizer": self.optimizer.state_dict(), "disc_optimizer": self.disc_optimizer.state_dict(),
            "step": self.step, "seconds": self.seconds, "model_config": self.model_config.to_dict(),
            "family": "vq", "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }
        with atomic_output(self.checkpoint_path, overwrite=True) as f:
            torch.save(state, f)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if VqConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError(f"{path} was trained with another architecture: {state['model_config']}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.disc.load_state_dict(state["disc"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        self.step = state["step"]
        self.seconds = state.get("seconds", 0.0)
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    def start_from(self, path: Path) -> None:
        """Begin a new schedule from another run's checkpoint (its EMA weights and discriminator)."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("family") != "vq":
            raise ValueError("not a checkpoint of the vq family")
        if VqConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError("it was trained with another architecture")
        self.model.load_state_dict(state["ema"])
        self.ema.load_state_dict(state["ema"])
        self.disc.load_state_dict(state["disc"])

    # -- training ------------------------------------------------------------------------------
    def _random_levels(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self.generator
        fine = (torch.rand(b, generator=g, device=self.device) * 1.4 - 0.2).clamp(0, 1)
        finest = (torch.rand(b, generator=g, device=self.device) * 1.5 - 0.5).clamp(0, 1) * fine
        return levels_from_ranking(block_information(x), fine, finest)

    def _step(self, x: torch.Tensor) -> dict[str, float]:
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
        psnr = 10 * torch.log10(1 / mse.detach().clamp_min(1e-10))
        stats = {"loss": loss, "psnr": psnr, "prior_bpp": prior_bpp, "g_adv": g_adv, "fm": fm, "d": d_loss,
                 "entropy": entropy}
        return {k: float(v.detach()) for k, v in stats.items()}

    def train(self, sampler: CropSampler, *, max_seconds: float | None = None) -> None:
        cfg = self.cfg
        start = time.monotonic()
        last_log, last_step, last_save = start, self.step, start
        sums: dict[str, float] = {}
        while self.step < cfg.steps:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            x = sampler.sample(cfg.batch, self.generator)
            stats = self._step(x)
            update_ema(self.ema, self.model, self.step, cfg.ema_decay)
            with torch.no_grad():   # the encoder's batch-norm statistics are buffers, which the EMA skips
                for e, b in zip(self.ema.buffers(), self.model.buffers()):
                    e.copy_(b)
            self.step += 1
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v
            if self.step % cfg.log_every == 0:
                now = time.monotonic()
                avg = {k: v / cfg.log_every for k, v in sums.items()}
                log.info("step %d  %.2f it/s  " % (self.step, (self.step - last_step) / (now - last_log))
                         + "  ".join(f"{k} {v:.4f}" for k, v in avg.items())
                         + f"  lr {learning_rate(cfg, self.step):.2e}")
                sums.clear()
                last_log, last_step = now, self.step
            if self.step % cfg.checkpoint_every == 0:
                now = time.monotonic()
                self.seconds += now - last_save
                last_save = now
                self.save()
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                log.info("time budget reached at step %d", self.step)
                break
        self.seconds += time.monotonic() - last_save
        self.save()
