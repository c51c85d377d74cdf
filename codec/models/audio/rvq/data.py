"""Training clips: every audio file of the configured folders, held in memory at the model's rate.

Speech is thin in the development data (a few minutes), so it is drawn
more often than its share and varied each time: a random gain, and a
speed/pitch change by resampling (factor 0.8-1.25). Stereo and multichannel
files give each channel, and for stereo also mid and side, as mono signals:
the codec codes transformed channels, side signals included. Files whose
path has an excluded part (the evaluation sets) are never read.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger("codec")

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga"}


@dataclass
class Signal:
    samples: np.ndarray     # (channels, N) float32 at the model rate
    name: str


def read_resampled(path: Path, rate: int) -> np.ndarray:
    """(channels, N) float32 at ``rate`` (resampled with the codec's own resampler)."""
    import soundfile as sf

    from codec.models.audio.rvq.resample import resample_signal

    data, src_rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample_signal(np.ascontiguousarray(data.T), src_rate, rate)


class Category:
    """One kind of training material (speech, music, environment) with its files."""

    def __init__(self, name: str, folders: list[Path], weight: float, exclude: tuple[str, ...], rate: int,
                 augment: bool) -> None:
        self.name, self.weight, self.augment = name, weight, augment
        self.signals: list[Signal] = []
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() not in AUDIO_SUFFIXES or any(part in exclude for part in path.parts):
                    continue
                try:
                    samples = read_resampled(path, rate)
                except Exception as exc:  # a damaged training file is skipped, not fatal
                    log.warning("skipping %s: %s", path.name, exc)
                    continue
                if samples.shape[1] >= rate // 2:
                    self.signals.append(Signal(samples, path.name))
        if not self.signals:
            raise ValueError(f"no training audio for {name!r} in {', '.join(map(str, folders))}")
        self.lengths = np.array([s.samples.shape[1] for s in self.signals], dtype=np.float64)

    @property
    def seconds(self) -> float:
        return float(self.lengths.sum())


class ClipSampler:
    """Random mono training clips of ``length`` samples, as (B, length) tensors."""

    def __init__(self, categories: list[Category], length: int, rate: int, seed: int) -> None:
        self.categories = categories
        self.length = length
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        weights = np.array([c.weight for c in categories], dtype=np.float64)
        self.category_p = weights / weights.sum()

    def _pick(self, category: Category, need: int) -> np.ndarray:
        p = category.lengths / category.lengths.sum()
        signal = category.signals[self.rng.choice(len(category.signals), p=p)].samples
        channels, n = signal.shape
        start = int(self.rng.integers(0, max(1, n - need)))
        piece = signal[:, start:start + need]
        if channels == 1:
            mono = piece[0]
        else:
            mode = self.rng.integers(0, 4)
            if channels == 2 and mode == 2:
                mono = (piece[0] + piece[1]) / math.sqrt(2)
            elif channels == 2 and mode == 3:
                mono = (piece[0] - piece[1]) / math.sqrt(2)
            else:
                mono = piece[int(self.rng.integers(0, channels))]
        if mono.shape[0] < need:
            mono = np.pad(mono, (0, need - mono.shape[0]))
        return mono

    def clip(self) -> np.ndarray:
        category = self.categories[self.rng.choice(len(self.categories), p=self.category_p)]
        speed = float(np.exp(self.rng.uniform(math.log(0.8), math.log(1.25)))) if category.augment else 1.0
        need = int(math.ceil(self.length * speed)) + 1
        x = self._pick(category, need)
        if speed != 1.0:
            t = torch.from_numpy(np.ascontiguousarray(x))[None, None]
            x = F.interpolate(t, size=int(round(x.shape[0] / speed)), mode="linear", align_corners=False)[0, 0].numpy()
        x = x[: self.length]
        if x.shape[0] < self.length:
            x = np.pad(x, (0, self.length - x.shape[0]))
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        if rms > 1e-5:   # level: RMS from -40 to -12 dBFS, peaks kept below full scale
            x = x * (10 ** (self.rng.uniform(-40, -12) / 20) / rms)
            peak = float(np.abs(x).max())
            if peak > 0.99:
                x = x * (0.99 / peak)
        if self.rng.random() < 0.5:
            x = -x
        return x.astype(np.float32)

    def batch(self, size: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.clip() for _ in range(size)]))
