"""Training configuration of the video family, read from a TOML file (``configs/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codec.errors import UsageError
from codec.train.config_file import read_config
from codec.models.video.dcvc.network import VideoConfig

#: every coding of the evaluation content (Mobile & Calendar, Foreman, Carphone) is kept out of training
EVALUATION_CONTENT = ["CVPCMNL1", "CVFC1", "test_cif_", "BA1_FT", "CI1_FT", "MR2_TANDBERG", "LS_SVA", "carphone",
                      "kodak"]


@dataclass(frozen=True)
class VideoTrainConfig:
    videos: list[str]                     # folders of training video (searched recursively)
    images: list[str] = field(default_factory=list)   # photos for synthetic motion
    exclude: list[str] = field(default_factory=lambda: list(EVALUATION_CONTENT))
    synthetic: float = 0.5                # share of clips made from photos
    crop: int = 128
    batch: int = 8
    # (first step, frames per clip): clips are one intra frame and frames-1 P frames, one loss over all
    stages: list[list[int]] = field(default_factory=lambda: [[0, 2], [6000, 3], [12000, 5]])
    steps: int = 20000
    lr: float = 2e-4
    lr_final: float = 1e-5
    warmup: int = 300
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    bf16: bool = True                     # bf16 autocast (CPUs with AVX-512 bf16, and GPUs)
    compile: bool = False
    threads: int = 0                      # torch CPU threads (0: torch's default); 1 is fastest on a busy machine
    checkpoint_every: int = 200
    log_every: int = 25
    seed: int = 0
    # architecture (network.VideoConfig)
    channels: int = 64
    latent_channels: int = 96
    hyper_channels: int = 64
    recon_channels: int = 64
    blocks: int = 2
    lambda_min: float = 0.002
    lambda_max: float = 0.12

    def model_config(self) -> VideoConfig:
        return VideoConfig(channels=self.channels, latent_channels=self.latent_channels,
                           hyper_channels=self.hyper_channels, recon_channels=self.recon_channels,
                           blocks=self.blocks, lambda_min=self.lambda_min, lambda_max=self.lambda_max)

    def frames_at(self, step: int) -> int:
        """Frames per clip at ``step`` (the last stage that has begun)."""
        frames = self.stages[0][1]
        for first, count in self.stages:
            if step >= first:
                frames = count
        return frames

    @classmethod
    def load(cls, path: str | Path) -> "VideoTrainConfig":
        raw = read_config(cls, path, required={"videos": "'videos' (list of video folders)"},
                          folders=("videos", "images"))
        stages = raw.get("stages", [[0, 2]])
        if (not stages or any(len(s) != 2 or s[1] < 2 or s[1] > 16 for s in stages) or stages[0][0] != 0
                or [s[0] for s in stages] != sorted(s[0] for s in stages)):
            raise UsageError(f"config {path}: 'stages' must be [[0, frames], [step, frames], ...] with "
                             f"ascending steps and 2..16 frames")
        return cls(**raw)

