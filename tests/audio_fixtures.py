"""A tiny RVQ audio model for the audio tests: random weights, the real code paths, a second to build.

Quality is not what these tests check (the shipped model's numbers come from
``codec eval audio``); the machinery is: packets, timing, resampling,
channels, rate control, damage, bounded memory. The model is registered as
its own family (``rvq-test``) so the CLI, ``codec.open`` and the evaluator
reach it exactly as they reach a shipped model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from codec.models.audio.rvq.family import RvqAudioFamily
from codec.models.audio.rvq.model_file import save_model_file
from codec.models.audio.rvq.network import AudioCodecNetwork, NetworkConfig
from codec.models.audio.rvq.prior import fit_prior
from codec.models.base import ModelEntry

TINY = NetworkConfig(encoder_dim=16, encoder_blocks=1, decoder_dim=16, decoder_blocks=1, expansion=2,
                     decoder_channels=(8, 8, 8, 8), decoder_dilations=((1,), (1,), (1,), (1,)),
                     latent_dim=8, codebooks=6, codebook_size=32, codebook_dim=4)
MODEL_ID = "rvq-test-tiny"


def build_tiny_weights(path: Path) -> str:
    """Write the tiny model's weights file unless it exists; return its SHA-256.

    Worker processes import the plugin too: they must hash the file the test made, not write their own
    (safetensors orders metadata keys differently from one process to the next, so the bytes would
    differ), and a file being written is never visible under its name."""
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.safetensors")
        _write_tiny_weights(partial)
        os.replace(partial, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_tiny_weights(path: Path) -> None:
    torch.manual_seed(0)
    net = AudioCodecNetwork(TINY).eval()
    rng = np.random.default_rng(0)
    t = np.arange(TINY.sample_rate * 2) / TINY.sample_rate
    signal = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    with torch.no_grad():
        latent, _ = net.encode(torch.from_numpy(signal[: (signal.size // TINY.hop) * TINY.hop])[None])
        codes = net.quantizer.encode(latent, TINY.codebooks)[0].numpy()
    prior = fit_prior([codes], TINY.codebooks, TINY.codebook_size)
    save_model_file(path, MODEL_ID, net, prior, {"purpose": "tests"})


def tiny_family(folder: Path) -> RvqAudioFamily:
    digest = build_tiny_weights(folder / f"{MODEL_ID}.r1.safetensors")

    class TinyFamily(RvqAudioFamily):
        name = "rvq-test"
        default_rank = 99
        weights_dir = folder
        models = (ModelEntry(MODEL_ID, 1, f"{MODEL_ID}.r1.safetensors", digest, "tests only"),)

    return TinyFamily()


def tone(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """(samples, channels) float32: a chirp plus noise, channels correlated like a stereo recording."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    base = 0.3 * np.sin(2 * np.pi * (220 * t + 300 * t ** 2 / max(seconds, 1e-9))) + 0.03 * rng.standard_normal(n)
    out = [base * (1 - 0.2 * c) + 0.01 * rng.standard_normal(n) for c in range(channels)]
    return np.stack(out, axis=1).astype(np.float32)
