"""Training configuration of the hierarchical VAE, read from a TOML file (``configs/``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from codec.errors import UsageError
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
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except OSError as exc:
            raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config {path} is not valid TOML: {exc}") from None
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise UsageError(f"config {path}: unknown keys {sorted(unknown)}")
        if "data" not in raw:
            raise UsageError(f"config {path}: 'data' (list of image folders) is required")
        base = Path(path).resolve().parent
        raw["data"] = [str((base / d).resolve()) if not Path(d).is_absolute() else d for d in raw["data"]]
        config = cls(**raw)
        config.model_config()
        return config
