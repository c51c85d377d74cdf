"""Multi-scale structural similarity (Wang, Simoncelli and Bovik, 2003).

The standard form that published curves use (e.g. CompressAI's, through
``pytorch_msssim``): five scales, an 11x11 Gaussian window with sigma 1.5
applied without padding, 2x2 average pooling between scales, K1 = 0.01,
K2 = 0.03 and the weights of the paper. Contrast-structure terms of the first
four scales and the full SSIM of the last are combined per channel, then the
channels are averaged. Negative terms are clipped to zero before the power,
as ``pytorch_msssim`` does, so the result is always defined.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _gaussian() -> np.ndarray:
    x = np.arange(WINDOW, dtype=np.float64) - (WINDOW - 1) / 2
    g = np.exp(-(x * x) / (2 * SIGMA * SIGMA))
    return g / g.sum()


def _blur(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter keeping only the 'valid' part (no padding)."""
    out = correlate1d(correlate1d(plane, kernel, axis=0), kernel, axis=1)
    r = WINDOW // 2
    return out[r:-r, r:-r]


def _ssim_terms(x: np.ndarray, y: np.ndarray, peak: float) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of two planes at one scale."""
    c1, c2 = (K1 * peak) ** 2, (K2 * peak) ** 2
    k = _gaussian()
    mx, my = _blur(x, k), _blur(y, k)
    sxx = _blur(x * x, k) - mx * mx
    syy = _blur(y * y, k) - my * my
    sxy = _blur(x * y, k) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    luminance = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return float(np.mean(luminance * cs)), float(np.mean(cs))


def _downsample(plane: np.ndarray) -> np.ndarray:
    """2x2 average pooling; an odd last row or column is padded with zeros first,
    the same as ``avg_pool2d(kernel_size=2, padding=size % 2)``, counting the pad."""
    h, w = plane.shape
    padded = np.pad(plane, ((h % 2, h % 2), (w % 2, w % 2)))
    h2, w2 = padded.shape[0] // 2, padded.shape[1] // 2
    return padded[: 2 * h2, : 2 * w2].reshape(h2, 2, w2, 2).mean(axis=(1, 3))


def ms_ssim(reference: np.ndarray, decoded: np.ndarray, peak: float = 255.0) -> float:
    """MS-SSIM of two HxW or HxWxC images, averaged over channels; 1.0 when identical.

    The smaller side must exceed 160 pixels, so that the window still fits at
    the coarsest of the five scales.
    """
    if reference.shape != decoded.shape:
        raise ValueError(f"shapes differ: {reference.shape} and {decoded.shape}")
    if min(reference.shape[:2]) <= (WINDOW - 1) * 2 ** (len(WEIGHTS) - 1):
        raise ValueError(f"MS-SSIM needs both sides > {(WINDOW - 1) * 2 ** (len(WEIGHTS) - 1)} pixels, "
                         f"got {reference.shape[1]}x{reference.shape[0]}")
    ref = reference.astype(np.float64).reshape(*reference.shape[:2], -1)
    dec = decoded.astype(np.float64).reshape(*decoded.shape[:2], -1)
    per_channel = []
    for c in range(ref.shape[2]):
        x, y = ref[..., c], dec[..., c]
        value = 1.0
        for scale, weight in enumerate(WEIGHTS):
            ssim, cs = _ssim_terms(x, y, peak)
            last = scale == len(WEIGHTS) - 1
            value *= max(ssim if last else cs, 0.0) ** weight
            if not last:
                x, y = _downsample(x), _downsample(y)
        per_channel.append(value)
    return float(np.mean(per_channel))
