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

from pathlib import Path

import torch

from codec.models.video.dcvc.data import ClipSampler
from codec.models.video.dcvc.network import VideoConfig, VideoModel, pack
from codec.models.video.dcvc.schedule import frame_qp
from codec.models.video.dcvc.train_config import VideoTrainConfig
from codec.train.burst_trainer import BurstTrainer

#: parameters that later versions of the model added, with an initial value that changes nothing
GROWN = ("feature_skip",)


def yuv_mse(luma: torch.Tensor, chroma: torch.Tensor, ref_luma: torch.Tensor, ref_chroma: torch.Tensor) -> torch.Tensor:
    """Per-clip (6 MSE_Y + MSE_U + MSE_V) / 8 on [0, 1] samples."""
    y = (luma.float() - ref_luma).square().mean(dim=(1, 2, 3))
    uv = (chroma.float() - ref_chroma).square().mean(dim=(2, 3))
    return (6 * y + uv[:, 0] + uv[:, 1]) / 8


class VideoTrainer(BurstTrainer):
    family = "dcvc"
    config_type = VideoConfig

    def __init__(self, cfg: VideoTrainConfig, workdir: Path, device: torch.device) -> None:
        super().__init__(cfg, workdir, device, generator_device="cpu")   # clips are drawn on the CPU
        self._rollout = torch.compile(self.rollout) if cfg.compile else self.rollout

    def build_model(self) -> VideoModel:
        return VideoModel(self.model_config)

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

    def train_step(self, sampler: ClipSampler) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        frames = cfg.frames_at(self.step)
        luma, chroma = sampler.sample(cfg.batch, frames, self.generator)
        base = torch.rand(cfg.batch, generator=self.generator) * (self.model_config.qps - 1)
        self.model.train()
        loss, bpp, psnr = self._rollout(luma.to(self.device), chroma.to(self.device), base)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return {"loss": loss, "bpp": bpp, "psnr-yuv": psnr}

    def describe(self, averages: dict[str, float]) -> str:
        return f"{self.cfg.frames_at(self.step - 1)} frames  " + super().describe(averages)
