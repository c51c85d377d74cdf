"""Training the video model on short rollouts, in bursts that resume exactly.

A clip of T frames is coded as the codec codes a sequence: frame 0 as an
intra frame (zero reference), each later frame against the previous
frame's decoded feature, gradients flowing through the whole rollout, so the
model learns to keep the propagated feature useful and to limit error
propagation. One quality index is drawn per clip, and each frame gets the
hierarchical offset of its position (``schedule.frame_qp``); the loss is
the mean over frames of ``lambda(qp) * 255^2 * D + bits per luma pixel``,
with ``D`` the 6:1:1 weighted YUV mean squared error (the PSNR-YUV of the
evaluation). Stages lengthen the rollouts as training proceeds.

A checkpoint holds the weights, their EMA, the optimizer, the step and the
random states, written atomically; ``--resume`` continues the same schedule.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from codec.io.atomic import atomic_output
from codec.models.video.dcvc.data import ClipSampler
from codec.models.video.dcvc.network import VideoConfig, VideoModel, pack
from codec.models.video.dcvc.schedule import frame_qp
from codec.models.video.dcvc.train_config import VideoTrainConfig
from codec.train.ema import update_ema

log = logging.getLogger("codec.train")

#: parameters that later versions of the model added, with an initial value that changes nothing
GROWN = ("feature_skip",)


def learning_rate(cfg: VideoTrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_final`` at ``steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


def yuv_mse(luma: torch.Tensor, chroma: torch.Tensor, ref_luma: torch.Tensor, ref_chroma: torch.Tensor) -> torch.Tensor:
    """Per-clip (6 MSE_Y + MSE_U + MSE_V) / 8 on [0, 1] samples."""
    y = (luma.float() - ref_luma).square().mean(dim=(1, 2, 3))
    uv = (chroma.float() - ref_chroma).square().mean(dim=(2, 3))
    return (6 * y + uv[:, 0] + uv[:, 1]) / 8


class VideoTrainer:
    def __init__(self, cfg: VideoTrainConfig, workdir: Path, device: torch.device) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.device = device
        torch.manual_seed(cfg.seed)
        self.model_config = cfg.model_config()
        self.model = VideoModel(self.model_config).to(device)
        self.ema = VideoModel(self.model_config).to(device)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.step = 0
        self.generator = torch.Generator()
        self.generator.manual_seed(cfg.seed)
        self._rollout = torch.compile(self.rollout) if cfg.compile else self.rollout

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pt"

    def save(self) -> None:
        state = {"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "step": self.step,
                 "model_config": self.model_config.to_dict(), "generator": self.generator.get_state(),
                 "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None}
        with atomic_output(self.checkpoint_path, overwrite=True) as f:
            torch.save(state, f)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if VideoConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError(f"{path} was trained with another architecture: {state['model_config']}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    def start_from(self, path: Path) -> None:
        """Begin a new schedule from another run's checkpoint (its EMA weights), same architecture.

        Parameters added to the family since that checkpoint (``GROWN``) keep their initial values, which
        leave the model's function unchanged (``feature_skip`` starts at zero).
        """
        state = torch.load(path, map_location="cpu", weights_only=False)
        if VideoConfig.from_dict(state["model_config"]) != self.model_config:
            raise ValueError(f"{path} has another architecture: {state['model_config']}")
        weights = {**{k: v for k, v in self.model.state_dict().items() if k in GROWN}, **state["ema"]}
        self.model.load_state_dict(weights)
        self.ema.load_state_dict(weights)

    def rollout(self, luma: torch.Tensor, chroma: torch.Tensor, base: torch.Tensor):
        """Loss, mean bits per pixel and mean YUV-PSNR over a batch of clips (B, T, ...)."""
        frames = luma.shape[1]
        pixels = luma.shape[-1] * luma.shape[-2]
        reference = None
        losses, bpps, psnrs = [], [], []
        for t in range(frames):
            qp = torch.stack([torch.tensor(frame_qp(float(b), t)) for b in base]).to(luma.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
                out = self.model(pack(luma[:, t], chroma[:, t]), reference, qp)
            reference = out["feature"]
            mse = yuv_mse(out["luma"], out["chroma"], luma[:, t], chroma[:, t])
            bpp = out["bits"].float() / pixels
            losses.append(self.model.lambdas(qp) * 255 ** 2 * mse + bpp)
            bpps.append(bpp)
            psnrs.append(10 * torch.log10(1 / mse.detach().clamp_min(1e-10)))
        return torch.stack(losses).mean(), torch.stack(bpps).mean(), torch.stack(psnrs).mean()

    def train(self, sampler: ClipSampler, *, max_seconds: float | None = None) -> None:
        cfg = self.cfg
        start = time.monotonic()
        last_log, last_step = start, self.step
        sums = torch.zeros(3)
        while self.step < cfg.steps:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            frames = cfg.frames_at(self.step)
            luma, chroma = sampler.sample(cfg.batch, frames, self.generator)
            base = torch.rand(cfg.batch, generator=self.generator) * (self.model_config.qps - 1)
            self.model.train()
            loss, bpp, psnr = self._rollout(luma.to(self.device), chroma.to(self.device), base)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            update_ema(self.ema, self.model, self.step, self.cfg.ema_decay)
            self.step += 1
            sums += torch.stack([loss.detach().cpu(), bpp.detach().cpu(), psnr.detach().cpu()])
            if self.step % cfg.log_every == 0:
                now = time.monotonic()
                avg = (sums / cfg.log_every).tolist()
                log.info("step %d  %d frames  %.2f it/s  loss %.4f  bpp %.3f  psnr-yuv %.2f dB  lr %.2e",
                         self.step, frames, (self.step - last_step) / (now - last_log), *avg,
                         learning_rate(cfg, self.step))
                sums.zero_()
                last_log, last_step = now, self.step
            if self.step % cfg.checkpoint_every == 0:
                self.save()
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                log.info("time budget reached at step %d", self.step)
                break
        self.save()

