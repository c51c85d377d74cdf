"""Training configuration of the audio codec, read from TOML (``codec/models/audio/rvq/configs/``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from codec.errors import UsageError
from codec.train.config_file import read_config
from codec.models.audio.rvq.network import NetworkConfig

#: path parts of the evaluation sets of ``shared/data/README.md``: never trained on
EVALUATION_SETS = ("pocketsphinx_testdata", "sisec2011_mixes", "madmom", "pyroomacoustics")


@dataclass(frozen=True)
class CategoryConfig:
    name: str
    folders: list[str]
    weight: float = 1.0
    augment: bool = False


@dataclass(frozen=True)
class AudioTrainConfig:
    categories: list[CategoryConfig]
    exclude: list[str] = field(default_factory=lambda: list(EVALUATION_SETS))
    clip_seconds: float = 1.0
    batch: int = 8
    steps: int = 20000
    lr: float = 6e-4
    lr_final: float = 2e-5
    warmup: int = 200
    grad_clip: float = 1.0
    ema_decay: float = 0.998
    full_rate_fraction: float = 0.25   # items trained with every codebook; the rest draw 1..N uniformly
    restart_every: int = 50            # re-seed unused codebook entries this often (steps)
    checkpoint_every: int = 100
    log_every: int = 20
    seed: int = 0
    threads: int = 2
    loss: dict = field(default_factory=dict)           # CodecLoss weights
    adversarial: bool = False                          # GPU config: STFT discriminator + feature matching
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0
    disc_lr: float = 2e-4
    network: NetworkConfig = field(default_factory=NetworkConfig)
    base: Path = Path(".")

    def folders(self, category: CategoryConfig) -> list[Path]:
        return [(self.base / f).resolve() if not Path(f).is_absolute() else Path(f) for f in category.folders]

    @classmethod
    def load(cls, path: str | Path) -> "AudioTrainConfig":
        raw = read_config(cls, path, required={"categories": "at least one [[categories]] table (name, folders)"},
                          ignore=frozenset({"base"}))
        try:
            cats = [CategoryConfig(**c) for c in raw.pop("categories")]
            net_raw = raw.pop("network", {})
            unknown_net = set(net_raw) - {f.name for f in fields(NetworkConfig)}
            if unknown_net:
                raise UsageError(f"config {path}: unknown [network] keys {sorted(unknown_net)}")
            net = NetworkConfig.from_dict(net_raw)
            net.check()
        except (TypeError, ValueError) as exc:
            raise UsageError(f"config {path}: {exc}") from None
        return cls(categories=cats, network=net, base=Path(path).resolve().parent, **raw)

