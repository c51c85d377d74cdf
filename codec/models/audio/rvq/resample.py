"""Rational-ratio resampling by windowed sinc, computed on fixed windows so results never depend on chunking.

Output sample ``m`` sits at input position ``m * down / up``. Written as a
polyphase filter, output ``q*up + r`` is a dot product of the inputs from
``q*down + first`` on with the kernel row of phase ``r``, so one strided
convolution computes ``up`` outputs per ``down`` inputs. The filter is a
Kaiser-windowed sinc (``ZERO_CROSSINGS`` zero crossings each side at the
lower of the two rates, cutoff ``ROLLOFF`` times that rate's Nyquist).

The codec asks for whole groups of ``up`` outputs at positions that are
multiples of ``up``, from a window of inputs that it always cuts the same
way around a packet; the same packet therefore gives the same samples,
bit for bit, however the caller split the stream.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

ZERO_CROSSINGS = 24
ROLLOFF = 0.94
KAISER_BETA = 8.6


@dataclass(frozen=True)
class Ratio:
    up: int
    down: int
    first: int      # input offset (<= 0) of a phase group's first tap, relative to q*down
    taps: int       # kernel length per phase

    @property
    def identity(self) -> bool:
        return self.up == self.down

    @property
    def context(self) -> int:
        """Inputs needed before the first output's position."""
        return -self.first

    @property
    def lookahead(self) -> int:
        """Inputs needed after the last output group's start (q*down) beyond ``down``."""
        return self.first + self.taps - self.down


@functools.lru_cache(maxsize=32)
def ratio(src: int, dst: int) -> Ratio:
    g = math.gcd(src, dst)
    up, down = dst // g, src // g
    if up == down:
        return Ratio(1, 1, 0, 1)
    cutoff = 0.5 * min(1.0, up / down) * ROLLOFF        # cycles per input sample
    half = ZERO_CROSSINGS / (2 * cutoff)                 # half-width in input samples
    first = -math.ceil(half)
    last = math.floor((up - 1) * down / up + half)
    return Ratio(up, down, first, last - first + 1)


@functools.lru_cache(maxsize=32)
def kernel(src: int, dst: int) -> torch.Tensor:
    """(up, 1, taps) float32 polyphase kernel (built in float64)."""
    r = ratio(src, dst)
    cutoff = 0.5 * min(1.0, r.up / r.down) * ROLLOFF
    half = ZERO_CROSSINGS / (2 * cutoff)
    j = np.arange(r.taps, dtype=np.float64)[None, :] + r.first
    phase = (np.arange(r.up, dtype=np.float64) * r.down / r.up)[:, None]
    tau = j - phase
    inside = np.abs(tau) <= half
    window = np.where(inside, np.i0(KAISER_BETA * np.sqrt(np.clip(1 - (tau / half) ** 2, 0, 1))) / np.i0(KAISER_BETA), 0)
    h = 2 * cutoff * np.sinc(2 * cutoff * tau) * window
    return torch.from_numpy(h.astype(np.float32))[:, None, :]


def resample_groups(x: torch.Tensor, src: int, dst: int, x_start: int, out_start: int, count: int) -> torch.Tensor:
    """Outputs ``[out_start, out_start + count)`` at rate ``dst`` from inputs x (B, n) at rate ``src``.

    ``x[:, 0]`` is input sample ``x_start``; ``out_start`` and ``count`` are
    multiples of ``up``; x must cover every input the outputs read (see
    :func:`input_span`).
    """
    r = ratio(src, dst)
    if r.identity:
        return x[:, out_start - x_start: out_start - x_start + count]
    q0, groups = out_start // r.up, count // r.up
    begin = q0 * r.down + r.first - x_start
    length = (groups - 1) * r.down + r.taps
    if begin < 0 or begin + length > x.shape[1]:
        raise ValueError("resampling window does not cover the inputs needed")
    y = F.conv1d(x[:, None, begin:begin + length], kernel(src, dst), stride=r.down)   # (B, up, groups)
    return y.transpose(1, 2).reshape(x.shape[0], groups * r.up)


def input_span(src: int, dst: int, out_start: int, count: int) -> tuple[int, int]:
    """The input samples [first, end) that outputs [out_start, out_start + count) read."""
    r = ratio(src, dst)
    if r.identity:
        return out_start, out_start + count
    q0, groups = out_start // r.up, count // r.up
    first = q0 * r.down + r.first
    return first, first + (groups - 1) * r.down + r.taps


def resample_signal(x: np.ndarray, src: int, dst: int, chunk_seconds: float = 10.0) -> np.ndarray:
    """A whole signal (channels, n) float32 from ``src`` to ``dst`` Hz (n * dst // src samples), in chunks of
    about ``chunk_seconds`` so memory stays small; zeros are assumed beyond both ends."""
    r = ratio(src, dst)
    if r.identity:
        return np.ascontiguousarray(x, dtype=np.float32)
    n_out = x.shape[1] * dst // src
    step = max(r.up, int(chunk_seconds * dst) // r.up * r.up)
    pieces = []
    for start in range(0, n_out, step):
        count = -(-min(step, n_out - start) // r.up) * r.up
        a, b = input_span(src, dst, start, count)
        window = np.zeros((x.shape[0], b - a), dtype=np.float32)
        lo, hi = max(a, 0), min(b, x.shape[1])
        if hi > lo:
            window[:, lo - a: hi - a] = x[:, lo:hi]
        pieces.append(resample_groups(torch.from_numpy(window), src, dst, a, start, count).numpy())
    return np.concatenate(pieces, axis=1)[:, :n_out]
