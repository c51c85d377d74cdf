"""Peak signal-to-noise ratio of 8-bit samples."""

from __future__ import annotations

import math

import numpy as np


def mse(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Mean squared error over every sample, in float64 so large images do not overflow."""
    if reference.shape != decoded.shape:
        raise ValueError(f"shapes differ: {reference.shape} and {decoded.shape}")
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr(reference: np.ndarray, decoded: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB over all samples (for RGB: one MSE over the three channels).

    Identical inputs give ``inf``; callers that average curves must decide what
    that means for them, so it is not clipped here.
    """
    error = mse(reference, decoded)
    return math.inf if error == 0 else 10.0 * math.log10(peak * peak / error)
