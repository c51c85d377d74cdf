"""Joint coding of channels: an orthonormal transform across channels before the mono codec.

The transform is the DCT-II over the channel axis, scaled to be
orthonormal. For two channels it is mid/side, ``((L+R)/sqrt 2, (L-R)/sqrt 2)``;
for more it still gathers what the channels share into the first
transformed channel, and leaves the differences, usually quiet, in the
others. Being orthonormal, an error in the transformed channels is the same
error (in energy) in the speaker channels, so the encoder can share its bits
between transformed channels by comparing their errors directly.
"""

from __future__ import annotations

import functools
import math

import numpy as np


@functools.lru_cache(maxsize=64)
def dct_matrix(channels: int) -> np.ndarray:
    """(C, C) float64 orthonormal DCT-II: row k is transformed channel k.

    Each row is built from its first half and mirrored (even rows symmetric,
    odd rows antisymmetric) so that equal channels give exactly zero in the
    odd rows: identical left and right make a side channel of exact zeros.
    """
    n = np.arange(channels)
    m = np.cos(np.pi * (n[None, :] + 0.5) * n[:, None] / channels) * math.sqrt(2 / channels)
    m[0] = 1 / math.sqrt(channels)
    half = channels // 2
    sign = np.where(n % 2 == 0, 1.0, -1.0)[:, None]
    m[:, channels - half:] = (sign * m[:, :half])[:, ::-1]
    if channels % 2:
        m[1::2, half] = 0.0
    return m


def forward(x: np.ndarray) -> np.ndarray:
    """(C, N) speaker channels -> (C, N) transformed channels."""
    if x.shape[0] == 1:
        return x
    return (dct_matrix(x.shape[0]).astype(x.dtype) @ x).astype(x.dtype, copy=False)


def inverse(y: np.ndarray) -> np.ndarray:
    """(C, N) transformed channels -> (C, N) speaker channels."""
    if y.shape[0] == 1:
        return y
    return (dct_matrix(y.shape[0]).T.astype(y.dtype) @ y).astype(y.dtype, copy=False)
