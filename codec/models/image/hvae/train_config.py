"""Training configuration of the hierarchical VAE, read from a TOML file (``configs/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codec.errors import UsageError
from codec.train.config_file import read_config
from codec.models.image.hvae.network import HvaeConfig


@dataclass(frozen=True)
class HvaeTrainConfig:
    data: list[str]                       # folders of training images (searched recursively)
    exclude: list[str] = field(default_factory=lambda: ["kodak"])  # path parts never trained on
    crop: int = 128
    batch: int = 8
    steps: int = 20000                    # total optimizer steps of the whole schedule
    lr: float = 3e-4
    lr_final: float = 1e-5
    warmup: int = 500
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    threads: int = 0                      # torch CPU threads; 0: torch's default (1 is fastest on a busy CPU)
    channels_last: bool = True            # depthwise convolutions are much faster channels-last on CPUs
    bf16: bool = False                    # bf16 autocast (GPU)
    compile: bool = False
    preview_weight: float = 0.2           # weight of the prefix-preview distortion (progressive decoding)
    preview_samples: int = 2              # crops of each batch that also train a preview
    qat_from: int = 0                     # from this step on, the integer path rounds like its integer twin (0: never)
    checkpoint_every: int = 250
    log_every: int = 25
    seed: int = 0
    model: dict = field(default_factory=dict)  # HvaeConfig fields overriding the defaults

    def model_config(self) -> HvaeConfig:
        try:
            config = HvaeConfig.from_dict({**HvaeConfig().to_dict(), **self.model})
            config.check()
        except (TypeError, ValueError) as exc:
            raise UsageError(f"model section of the config: {exc}") from None
        return config

    @classmethod
    def load(cls, path: str | Path) -> "HvaeTrainConfig":
        raw = read_config(cls, path, required={"data": "'data' (list of image folders)"}, folders=("data",))
        config = cls(**raw)
        config.model_config()
        return config

