"""Build rANS frequency tables that come out bit-identical on every platform.

Encoder and decoder must hold exactly the same integer CDFs, or the stream
decodes to garbage. Tables are therefore rebuilt from a model's float
probabilities by a procedure whose float part is as small as possible:

1. Probabilities come from the platform's ``math`` library (``erfc``, ``exp``).
   These may differ by an ulp between C libraries; that changes a table only
   when a scaled probability sits within a few ulps of a rounding boundary.
   The golden digest in ``tests/test_cdf.py`` guards against that in CI.
2. ``quantize_pmf`` normalizes with ``math.fsum`` (correctly rounded, so
   independent of summation order and SIMD width), divides each probability by
   the total and multiplies by ``2**precision`` (each an IEEE-754 correctly
   rounded operation) and rounds half to even. This is the only float step.
3. Everything after -- the floor of one count per symbol and the correction
   that makes the counts sum to exactly ``2**precision`` -- is int64 arithmetic
   with a fixed tie-breaking order.

The discretized distributions bin a zero-mean latent into integer bins
``[v - 0.5, v + 0.5)`` on a symmetric support ``[-K, K]``; values outside it are
escaped by the coder and cost extra bypass bits, so ``K`` is chosen as the
smallest support whose outside mass is at most ``tail_mass``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from codec.entropy.rans import MAX_PRECISION, CdfTables

DEFAULT_PRECISION = 16
# Mass allowed outside the support. Bins in the far tail hold less than the
# smallest 16-bit count (2**-16 ~ 1.5e-5) yet each still takes one count, so a
# tinier tail spends probability on near-impossible values (1e-9 costs 0.15 %
# of rate for a Laplace of scale 20); 1e-6 keeps that under 0.06 % up to scale
# 20 for all three laws while escapes (~16 bits plus bypass bits) stay rare.
DEFAULT_TAIL_MASS = 1e-6

# Largest K whose 2K + 1 symbols plus escape fit the coder's finest tables.
MAX_SUPPORT = ((1 << MAX_PRECISION) - 2) // 2

# Upper tail Q(x) = P(X >= x) of a zero-mean distribution with the given scale.
TailFunction = Callable[[float], float]
PmfWithOffset = tuple[np.ndarray, int, float]


def quantize_pmf(pmf: np.ndarray, tail_mass: float, precision: int = DEFAULT_PRECISION) -> np.ndarray:
    """Turn probabilities into an int32 CDF of length ``len(pmf) + 2``.

    Entries are the regular symbols followed by one escape symbol carrying
    ``tail_mass``. The result starts at 0, ends at ``2**precision`` and is
    strictly increasing, i.e. every symbol (escape included) gets a count of
    at least 1 so that any value remains encodable.

    Correction rule, applied to the rounded counts ``f`` (minimum 1) whose sum
    ``S`` misses ``2**precision`` by ``d``:

    * deficit (``d > 0``): symbol ``i`` receives ``floor(d * f_i / S)``;
    * excess (``d < 0``): symbol ``i`` gives up ``floor(|d| * (f_i - 1) / (S - n))``,
      i.e. in proportion to what it holds above the minimum of 1;
    * the few units left by the floors go one each to (or come one each from)
      the symbols with the largest count, ties broken by the lowest index,
      skipping symbols already at 1 when taking.

    Proportional changes rescale the distribution rather than distort its
    shape, which keeps the cross-entropy overhead small.
    """
    probs = np.asarray(pmf, dtype=np.float64)
    if probs.ndim != 1 or probs.size == 0:
        raise ValueError("pmf must be a non-empty 1-D array")
    if not 1 <= precision <= 30:
        raise ValueError(f"precision must be in [1, 30], got {precision}")
    total_count = 1 << precision
    n = probs.size + 1
    if n > total_count:
        raise ValueError(f"{probs.size} symbols plus escape do not fit in {precision}-bit frequencies")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("pmf must be finite and non-negative")
    if not (math.isfinite(tail_mass) and tail_mass >= 0):
        raise ValueError(f"tail_mass must be finite and non-negative, got {tail_mass}")
    probs = np.append(probs, tail_mass)
    total = math.fsum(probs.tolist())
    if total <= 0:
        raise ValueError("pmf and tail_mass sum to zero")

    freqs = np.maximum(np.rint(probs / total * float(total_count)).astype(np.int64), 1)
    freqs = _fix_sum(freqs, total_count)

    cdf = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(freqs, out=cdf[1:])
    return cdf.astype(np.int32)


def _fix_sum(freqs: np.ndarray, target: int) -> np.ndarray:
    """Apply the integer correction documented in :func:`quantize_pmf`."""
    diff = target - int(freqs.sum())
    if diff == 0:
        return freqs
    if diff > 0:
        share = diff * freqs // int(freqs.sum())
        freqs = freqs + share
        eligible = np.ones(freqs.size, dtype=bool)
        step = 1
    else:
        spare = freqs - 1
        share = -diff * spare // int(spare.sum())
        freqs = freqs - share
        eligible = freqs > 1
        step = -1
    left = target - int(freqs.sum())
    if left:
        order = np.lexsort((np.arange(freqs.size), -freqs))
        chosen = order[eligible[order]][: abs(left)]
        freqs[chosen] += step
    return freqs


def _smallest_support(upper_tail: TailFunction, tail_mass: float) -> tuple[int, float]:
    """Smallest K with ``2 * Q(K + 0.5) <= tail_mass``, and that outside mass.

    Found by doubling then integer bisection on the exact tail function, so the
    answer depends only on ``upper_tail`` and not on a quantile approximation.
    """
    def outside(k: int) -> float:
        return 2.0 * upper_tail(k + 0.5)

    if outside(MAX_SUPPORT) > tail_mass:
        raise ValueError(f"scale too large: the support would exceed [-{MAX_SUPPORT}, {MAX_SUPPORT}]")
    hi = 1
    while outside(hi) > tail_mass:
        hi *= 2
    hi = min(hi, MAX_SUPPORT)
    lo = -1  # outside(lo) is treated as > tail_mass
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid >= 0 and outside(mid) <= tail_mass:
            hi = mid
        else:
            lo = mid
    return hi, outside(hi)


def _discretize(upper_tail: TailFunction, tail_mass: float) -> PmfWithOffset:
    """Symmetric integer-bin pmf on ``[-K, K]`` from an upper-tail function.

    Bin masses are differences of upper tails ``Q(k - 0.5) - Q(k + 0.5)``,
    never of CDFs near 1, so tiny tail probabilities keep full relative
    precision.
    """
    if not 0 < tail_mass < 1:
        raise ValueError(f"tail_mass must be in (0, 1), got {tail_mass}")
    k_max, tail = _smallest_support(upper_tail, tail_mass)
    q = np.array([upper_tail(k + 0.5) for k in range(k_max + 1)])
    half = q[:-1] - q[1:]  # masses of bins 1..K
    pmf = np.concatenate([half[::-1], [1.0 - 2.0 * q[0]], half])
    return pmf, -k_max, tail


def _check_scale(scale: float) -> float:
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and positive, got {scale}")
    return scale


def gaussian_pmf(scale: float, tail_mass: float = DEFAULT_TAIL_MASS) -> PmfWithOffset:
    """Zero-mean Gaussian with standard deviation ``scale``, binned to integers.

    Returns ``(pmf, offset, tail)``: the masses of ``-K..K``, ``offset = -K``
    and the actual mass outside the support (at most ``tail_mass``).
    """
    s = _check_scale(scale) * math.sqrt(2.0)
    return _discretize(lambda x: 0.5 * math.erfc(x / s), tail_mass)


def laplace_pmf(scale: float, tail_mass: float = DEFAULT_TAIL_MASS) -> PmfWithOffset:
    """Zero-mean Laplace with diversity ``scale`` (std is ``scale * sqrt(2)``), binned to integers."""
    b = _check_scale(scale)
    return _discretize(lambda x: 0.5 * math.exp(-x / b), tail_mass)


def logistic_pmf(scale: float, tail_mass: float = DEFAULT_TAIL_MASS) -> PmfWithOffset:
    """Zero-mean logistic with scale ``scale`` (std is ``scale * pi / sqrt(3)``), binned to integers."""
    s = _check_scale(scale)

    def upper_tail(x: float) -> float:
        e = math.exp(-x / s)  # x >= 0 here, so this never overflows
        return e / (1.0 + e)

    return _discretize(upper_tail, tail_mass)


def table_arrays(
    pmfs_with_offsets: Sequence[PmfWithOffset], precision: int = DEFAULT_PRECISION
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantize each ``(pmf, offset, tail)`` into the ``(cdfs, cdf_lengths, offsets)`` int32 arrays.

    This is the layout :class:`CdfTables` (and CompressAI's coder) takes.
    Rows are padded to the longest CDF by repeating ``2**precision``, so the
    padding is never mistaken for a symbol; ``cdf_lengths`` gives the true
    length of each row.
    """
    if not pmfs_with_offsets:
        raise ValueError("need at least one table")
    rows = [quantize_pmf(pmf, tail, precision) for pmf, _, tail in pmfs_with_offsets]
    width = max(row.size for row in rows)
    cdfs = np.full((len(rows), width), 1 << precision, dtype=np.int32)
    for t, row in enumerate(rows):
        cdfs[t, : row.size] = row
    lengths = np.array([row.size for row in rows], dtype=np.int32)
    offsets = np.array([offset for _, offset, _ in pmfs_with_offsets], dtype=np.int32)
    return cdfs, lengths, offsets


def make_tables(
    pmfs_with_offsets: Sequence[PmfWithOffset], precision: int = DEFAULT_PRECISION
) -> CdfTables:
    """Coder tables for a list of ``(pmf, offset, tail)`` (see :func:`table_arrays`)."""
    return CdfTables(*table_arrays(pmfs_with_offsets, precision), precision=precision)


def gaussian_scale_tables(
    scales: Sequence[float] | np.ndarray,
    tail_mass: float = DEFAULT_TAIL_MASS,
    precision: int = DEFAULT_PRECISION,
) -> CdfTables:
    """One Gaussian table per entry of ``scales`` (typically a :func:`log_scale_grid`)."""
    return make_tables([gaussian_pmf(s, tail_mass) for s in np.asarray(scales).ravel()], precision)


def laplace_scale_tables(
    scales: Sequence[float] | np.ndarray,
    tail_mass: float = DEFAULT_TAIL_MASS,
    precision: int = DEFAULT_PRECISION,
) -> CdfTables:
    """One Laplace table per entry of ``scales``."""
    return make_tables([laplace_pmf(s, tail_mass) for s in np.asarray(scales).ravel()], precision)


def logistic_scale_tables(
    scales: Sequence[float] | np.ndarray,
    tail_mass: float = DEFAULT_TAIL_MASS,
    precision: int = DEFAULT_PRECISION,
) -> CdfTables:
    """One logistic table per entry of ``scales``."""
    return make_tables([logistic_pmf(s, tail_mass) for s in np.asarray(scales).ravel()], precision)


def log_scale_grid(min_scale: float, max_scale: float, count: int) -> np.ndarray:
    """``count`` scales spaced evenly in log domain from ``min_scale`` to ``max_scale``.

    Log spacing gives every table the same relative mismatch to the scales it
    serves, which is what the rate penalty of a wrong scale depends on.
    """
    if not (0 < min_scale < max_scale and math.isfinite(max_scale)):
        raise ValueError(f"need 0 < min_scale < max_scale, got {min_scale}, {max_scale}")
    if count < 2:
        raise ValueError(f"count must be at least 2, got {count}")
    return np.exp(np.linspace(math.log(min_scale), math.log(max_scale), count))


def scale_to_index(scales: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of the smallest grid scale not below each scale (clamped to the grid).

    Rounding up is the safer error: a too-wide table costs a little rate, a
    too-narrow one makes tail values very expensive. This float helper is for
    tests and benchmarks only; the codec itself derives indexes with integer
    thresholds so that encoder and decoder agree on every platform.
    """
    idx = np.searchsorted(np.asarray(grid), np.asarray(scales), side="left")
    return np.minimum(idx, len(grid) - 1).astype(np.int32)
