"""``codec train audio``: resumable training of the RVQ audio codec.

One checkpoint (``WORKDIR/checkpoint.pt``) holds the network, its EMA copy,
the optimiser (and discriminator when adversarial), the step and every
random state, written atomically every ``checkpoint_every`` steps and at the
end of a burst, so a burst can stop anywhere and the next resumes exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from codec.errors import UsageError
from codec.models.audio.rvq.config import AudioTrainConfig
from codec.models.audio.rvq.network import AudioCodecNetwork, parameter_count
from codec.models.base import TrainRequest
from codec.train.burst_trainer import learning_rate
from codec.train.bursts import checkpoint_to_export, run_burst, start_or_resume, training_device

log = logging.getLogger("codec")


class AudioTrainer:
    def __init__(self, cfg: AudioTrainConfig, workdir: Path, device: torch.device) -> None:
        self.cfg, self.workdir, self.device = cfg, workdir, device
        torch.manual_seed(cfg.seed)
        self.net = AudioCodecNetwork(cfg.network).to(device)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, betas=(0.8, 0.99), weight_decay=1e-4)
        from codec.models.audio.rvq.losses import CodecLoss

        self.loss = CodecLoss(cfg.network.sample_rate, **cfg.loss).to(device)
        self.disc = self.disc_opt = None
        if cfg.adversarial:
            from codec.models.audio.rvq.discriminator import STFTDiscriminator

            self.disc = STFTDiscriminator().to(device)
            self.disc_opt = torch.optim.AdamW(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.8, 0.99))
        self.step = 0
        self.rng = np.random.default_rng(cfg.seed)

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    # -- checkpoints -----------------------------------------------------------------------------
    def save(self) -> None:
        state = {"step": self.step, "net": self.net.state_dict(), "ema": self.ema.state_dict(),
                 "opt": self.opt.state_dict(), "config": self.cfg.network.to_dict(),
                 "torch_rng": torch.get_rng_state(), "numpy_rng": self.rng.bit_generator.state,
                 "sampler_rng": self.sampler_state}
        if self.disc is not None:
            state["disc"] = self.disc.state_dict()
            state["disc_opt"] = self.disc_opt.state_dict()
        tmp = self.checkpoint_path.with_suffix(".partial")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["config"] != self.cfg.network.to_dict():
            raise UsageError(f"{path} was trained with another network configuration")
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step = state["step"]
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self.sampler_state = state.get("sampler_rng")
        if self.disc is not None and "disc" in state:
            self.disc.load_state_dict(state["disc"])
            self.disc_opt.load_state_dict(state["disc_opt"])

    def start_from(self, path: Path) -> None:
        """Weights (not the schedule) of another run's checkpoint."""
        state = torch.load(path, map_location=self.device, weights_only=False)
        if "net" not in state:
            raise ValueError("not a checkpoint of this trainer")
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state.get("ema", state["net"]))

    sampler_state = None

    # -- training --------------------------------------------------------------------------------
    def _n_q(self, batch: int) -> torch.Tensor:
        """Codebooks per item (quantiser dropout). A batch first draws its deepest stage (a quarter,
        half or all of the stages) so that most steps run fewer stages: the low rates, where quality
        is hardest won, get most of the compute."""
        n = self.cfg.network.codebooks
        deepest = int(self.rng.choice([max(1, n // 4), max(1, n // 2), n], p=[0.4, 0.3, 0.3]))
        draw = torch.from_numpy(self.rng.integers(1, deepest + 1, size=batch))
        full = torch.from_numpy(self.rng.random(batch) < self.cfg.full_rate_fraction)
        return torch.where(full, torch.full_like(draw, deepest), draw).to(self.device)

    def train_step(self, x: torch.Tensor) -> dict:
        cfg = self.cfg
        lr = learning_rate(cfg, self.step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.net.train()
        n_q = self._n_q(x.shape[0])
        x_hat, vq = self.net(x, n_q)
        lag = cfg.network.decoder_lag
        target, output = x[:, : x.shape[1] - lag], x_hat[:, : x.shape[1] - lag]
        loss, terms = self.loss(output, target, vq)
        if self.disc is not None:
            loss, terms = self._adversarial(output, target, loss, terms)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.opt.step()
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(p, 1 - cfg.ema_decay)
        if cfg.restart_every and (self.step + 1) % cfg.restart_every == 0:
            with torch.no_grad():
                latent, _ = self.net.encode(x)
                terms["restarted"] = self.net.quantizer.restart_dead_codes(latent)
        self.step += 1
        return {"loss": loss.item(), "grad": float(grad), "lr": lr, **terms}

    def _adversarial(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor, terms: dict):
        """Hinge GAN with feature matching (the GPU config); updates the discriminator first."""
        real_logits, _ = self.disc(target)
        fake_logits, _ = self.disc(output.detach())
        d_loss = sum(torch.relu(1 - r).mean() + torch.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits))
        self.disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.disc_opt.step()
        real_logits, real_feats = self.disc(target)
        fake_logits, fake_feats = self.disc(output)
        g_loss = sum(torch.relu(1 - f).mean() for f in fake_logits) / len(fake_logits)
        fm = sum(torch.nn.functional.l1_loss(f, r.detach()) / (r.detach().abs().mean() + 1e-5)
                 for fr, ff in zip(real_feats, fake_feats) for r, f in zip(fr, ff))
        fm = fm / max(1, sum(len(f) for f in real_feats))
        loss = loss + self.cfg.adversarial_weight * g_loss + self.cfg.feature_weight * fm
        return loss, {**terms, "gen": g_loss.item(), "feat": fm.item(), "disc": d_loss.item()}

    def train(self, sampler, max_seconds: float | None = None) -> None:
        cfg = self.cfg
        start = time.monotonic()
        last_log, last_step = start, self.step
        while self.step < cfg.steps:
            x = sampler.batch(cfg.batch).to(self.device)
            stats = self.train_step(x)
            if self.step % cfg.log_every == 0:
                now = time.monotonic()
                rate = (self.step - last_step) / max(1e-9, now - last_log)
                last_log, last_step = now, self.step
                log.info("step %d %s %.2f it/s", self.step,
                         " ".join(f"{k} {v:.4g}" for k, v in stats.items()), rate)
            if self.step % cfg.checkpoint_every == 0:
                self.sampler_state = sampler.rng.bit_generator.state
                self.save()
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                break
        self.sampler_state = sampler.rng.bit_generator.state
        self.save()


def train(request: TrainRequest) -> None:
    from codec.models.audio.rvq.data import Category, ClipSampler

    cfg = AudioTrainConfig.load(request.config)
    if request.steps:
        cfg = dataclasses.replace(cfg, steps=request.steps)
    if request.data:
        cats = [dataclasses.replace(c, folders=list(request.data)) for c in cfg.categories[:1]]
        cfg = dataclasses.replace(cfg, categories=cats)
    if request.export:
        from codec.models.audio.rvq.export import export_checkpoint

        export_checkpoint(checkpoint_to_export(request), request.export,
                          request.model_id or "rvq-audio-small", cfg)
        log.info("wrote %s", request.export)
        return
    torch.set_num_threads(cfg.threads)
    device = training_device(request)
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = AudioTrainer(cfg, request.workdir, device)
    start_or_resume(trainer, request)
    rate = cfg.network.sample_rate
    try:
        categories = [Category(c.name, cfg.folders(c), c.weight, tuple(cfg.exclude), rate, c.augment)
                      for c in cfg.categories]
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    for c in categories:
        log.info("%s: %d files, %.1f minutes", c.name, len(c.signals), c.seconds / rate / 60)
    length = int(round(cfg.clip_seconds * rate / cfg.network.hop)) * cfg.network.hop
    sampler = ClipSampler(categories, length, rate, cfg.seed + 1)
    if trainer.sampler_state is not None:
        sampler.rng.bit_generator.state = trainer.sampler_state
    log.info("network: %d parameters; %s, step %d/%d", parameter_count(trainer.net), device, trainer.step, cfg.steps)
    run_burst(trainer, sampler, request)
