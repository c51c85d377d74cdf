"""Training configuration of the token codec, read from a TOML file (``configs/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codec.errors import UsageError
from codec.train.config_file import read_config
from codec.models.image.vq.network import VqConfig


@dataclass(frozen=True)
class VqTrainConfig:
    data: list[str]                       # folders of training images (searched recursively)
    exclude: list[str] = field(default_factory=lambda: ["kodak"])  # path parts never trained on
    crop: int = 128                       # a multiple of 32 (one granularity block)
    batch: int = 8
    steps: int = 20000                    # total optimizer steps of the whole schedule
    lr: float = 2e-4
    lr_final: float = 2e-5
    warmup: int = 300
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    threads: int = 0                      # torch CPU threads; 0: torch's default
    l2_weight: float = 1.0                # reconstruction: L1 + l2_weight * MSE
    commit_weight: float = 0.1            # LFQ commitment
    entropy_weight: float = 0.1           # LFQ code-usage entropy term
    prior_weight: float = 1.0             # the prior's cross-entropy (bits per pixel; trains only the prior)
    adv_from: int = 1500                  # the discriminator starts at this step (0: never)
    adv_weight: float = 0.05              # generator hinge loss
    fm_weight: float = 1.0                # feature matching on the discriminator's features (perceptual term)
    disc_width: int = 32
    disc_lr: float = 2e-4
    checkpoint_every: int = 200
    log_every: int = 25
    seed: int = 0
    model: dict = field(default_factory=dict)  # VqConfig fields overriding the defaults

    def model_config(self) -> VqConfig:
        try:
            config = VqConfig.from_dict({**VqConfig().to_dict(), **self.model})
            config.check()
        except (TypeError, ValueError) as exc:
            raise UsageError(f"model section of the config: {exc}") from None
        return config

    @classmethod
    def load(cls, path: str | Path) -> "VqTrainConfig":
        raw = read_config(cls, path, required={"data": "'data' (list of image folders)"}, folders=("data",))
        config = cls(**raw)
        if config.crop % 32:
            raise UsageError(f"config {path}: crop must be a multiple of 32, got {config.crop}")
        config.model_config()
        return config

