"""Bjøntegaard deltas between two rate-distortion curves.

Piecewise-cubic (PCHIP) interpolation, the form JVET and AOM use today in
place of the original cubic polynomial fit, which can oscillate: BD-rate
interpolates log-rate as a function of quality and averages the gap over the
qualities both curves reach; BD-quality (BD-PSNR) interpolates quality as a
function of log-rate over the rates both reach. The overlap is returned with
the delta, because a delta over a sliver of overlap means little.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator


@dataclass(frozen=True)
class Delta:
    """A Bjøntegaard delta and the interval (in the integration variable) it was averaged over."""

    value: float
    low: float
    high: float


def _monotone(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by ``x`` with repeated ``x`` and non-finite values dropped (PCHIP needs strictly increasing x)."""
    pairs = sorted((float(a), float(b)) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b))
    xs, ys = [], []
    for a, b in pairs:
        if xs and a <= xs[-1]:
            continue
        xs.append(a)
        ys.append(b)
    if len(xs) < 2:
        raise ValueError("a curve needs at least two distinct finite points")
    return np.array(xs), np.array(ys)


def _mean_gap(x1, y1, x2, y2) -> Delta:
    """Mean of (curve 2 - curve 1) over the common x range, curves as y(x)."""
    a, fa = _monotone(x1, y1)
    b, fb = _monotone(x2, y2)
    low, high = max(a[0], b[0]), min(a[-1], b[-1])
    if high <= low:
        raise ValueError("the curves do not overlap")
    p1, p2 = PchipInterpolator(a, fa), PchipInterpolator(b, fb)
    gap = (p2.integrate(low, high) - p1.integrate(low, high)) / (high - low)
    return Delta(float(gap), float(low), float(high))


def bd_rate(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
            test_rate: Sequence[float], test_quality: Sequence[float]) -> Delta:
    """Average rate change of ``test`` against ``anchor`` at equal quality, as a fraction
    (-0.2 = 20 % fewer bits); ``low``/``high`` are the quality range compared."""
    gap = _mean_gap(anchor_quality, np.log(anchor_rate), test_quality, np.log(test_rate))
    return Delta(math.expm1(gap.value), gap.low, gap.high)


def bd_quality(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
               test_rate: Sequence[float], test_quality: Sequence[float]) -> Delta:
    """Average quality gain of ``test`` over ``anchor`` at equal rate (e.g. BD-PSNR in dB);
    ``low``/``high`` are the rate range compared (in rate units, not logs)."""
    gap = _mean_gap(np.log(anchor_rate), anchor_quality, np.log(test_rate), test_quality)
    return Delta(gap.value, math.exp(gap.low), math.exp(gap.high))


def worst_quality_gap(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
                      test_rate: Sequence[float], test_quality: Sequence[float], samples: int = 512) -> Delta:
    """Smallest quality gain of ``test`` over ``anchor`` at equal rate over the rates both reach.

    Why: a BD average can hide a crossing; "better at every rate" holds on the
    compared range exactly when this is positive. ``low`` and ``high`` are both
    the rate (bpp) where the smallest gain occurs. Same interpolation as
    :func:`bd_quality` (PCHIP of quality over log-rate), sampled densely.
    """
    a, fa = _monotone(np.log(anchor_rate), anchor_quality)
    b, fb = _monotone(np.log(test_rate), test_quality)
    low, high = max(a[0], b[0]), min(a[-1], b[-1])
    if high <= low:
        raise ValueError("the curves do not overlap")
    grid = np.linspace(low, high, samples)
    gap = PchipInterpolator(b, fb)(grid) - PchipInterpolator(a, fa)(grid)
    worst = int(np.argmin(gap))
    return Delta(float(gap[worst]), math.exp(grid[worst]), math.exp(grid[worst]))
