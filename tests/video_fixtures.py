"""Shared fixtures of the video tests: synthetic clips and a tiny, randomly initialised dcvc model.

The tiny model is built and exported exactly as a trained one is (its exact
path calibrated and converted by ``export.bundle_bytes``), so every property
of coding (exactness, seeking, damage handling) is tested without the
shipped weights and without ``shared/data``.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from codec.media.video import Clip, VideoFrame

TINY = dict(channels=8, latent_channels=8, hyper_channels=8, recon_channels=8, blocks=1)


def moving_clip(frames: int = 5, width: int = 80, height: int = 48, fps: Fraction = Fraction(25),
                seed: int = 0) -> Clip:
    """A textured picture panning right by 2 pixels per frame, with a gentle brightness change."""
    rng = np.random.default_rng(seed)
    big_h, big_w = height + 8, width + 2 * frames + 8
    texture = rng.integers(0, 256, (big_h // 4 + 1, big_w // 4 + 1)).repeat(4, 0).repeat(4, 1)[:big_h, :big_w]
    rows, cols = np.mgrid[0:big_h, 0:big_w]
    base = (0.6 * texture + 0.4 * ((rows * 3 + cols * 2) % 256)).astype(np.float64)
    out = []
    ch, cw = (height + 1) // 2, (width + 1) // 2
    for t in range(frames):
        y = np.clip(base[:height, 2 * t: 2 * t + width] + t, 0, 255).astype(np.uint8)
        u = np.full((ch, cw), 110 + t, np.uint8)
        v = (128 + (np.arange(cw)[None, :] // 4 + 2 * t) % 20).astype(np.uint8).repeat(ch, 0)
        out.append(VideoFrame(y, u, v, pts=t))
    return Clip(tuple(out), fps)


def tiny_weights(path: Path) -> str:
    """Write a tiny dcvc weights file to ``path``; returns its SHA-256."""
    import torch

    from codec.models.video.dcvc.data import rgb_to_yuv420
    from codec.models.video.dcvc.export import bundle_bytes
    from codec.models.video.dcvc.network import VideoConfig, VideoModel

    torch.manual_seed(0)
    model = VideoModel(VideoConfig(**TINY))
    with torch.no_grad():  # random latents are tiny: make them large enough that every quality codes symbols
        model.encoder[-1].weight.mul_(40)
        model.hyper_analysis[-1].weight.mul_(10)
        model.feature_skip.uniform_(0.2, 0.8)  # exercise the exact addition of the previous feature
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(2, 3, 3, 64, 64, generator=g)
    planes = [rgb_to_yuv420(rgb[:, t]) for t in range(3)]
    luma = torch.stack([p[0] for p in planes], 1)
    chroma = torch.stack([p[1] for p in planes], 1)
    data = bundle_bytes(model, "dcvc-tiny", luma, chroma, {"note": "random weights, for tests"})
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()
