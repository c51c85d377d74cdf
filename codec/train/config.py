"""Training configuration, read from a TOML file (see ``codec/train/configs/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codec.errors import UsageError
from codec.train.config_file import read_config
from codec.models.image.hyperprior.network import HyperpriorConfig


@dataclass(frozen=True)
class TrainConfig:
    data: list[str]                      # folders of training images (searched recursively)
    exclude: list[str] = field(default_factory=lambda: ["kodak"])  # path parts never trained on
    crop: int = 128
    batch: int = 8
    steps: int = 20000                   # total optimizer steps of the whole schedule
    lr: float = 3e-4
    lr_final: float = 1e-5
    warmup: int = 500
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    channels: int = 64
    latent_channels: int = 128
    hyper_channels: int = 64
    lambdas: list[float] | None = None  # one per quality level, ascending; default: the model's
    bf16: bool = False                   # bf16 autocast (GPU)
    channels_last: bool = False
    compile: bool = False                # torch.compile the training step
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 0

    def model_config(self) -> HyperpriorConfig:
        """The architecture this config trains."""
        if self.lambdas is None:
            return HyperpriorConfig(self.channels, self.latent_channels, self.hyper_channels)
        return HyperpriorConfig(self.channels, self.latent_channels, self.hyper_channels, tuple(self.lambdas))

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        raw = read_config(cls, path, required={"data": "'data' (list of image folders)"}, folders=("data",))
        lambdas = raw.get("lambdas")
        if lambdas is not None and (len(lambdas) < 2 or any(not isinstance(v, (int, float)) or v <= 0 for v in lambdas)
                                    or list(lambdas) != sorted(set(lambdas))):
            raise UsageError(f"config {path}: 'lambdas' must be at least two positive, strictly increasing numbers")
        return cls(**raw)

