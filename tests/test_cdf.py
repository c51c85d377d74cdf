"""Tests of the platform-independent CDF table builder (``codec.entropy.cdf``)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.entropy.cdf import (
    DEFAULT_TAIL_MASS,
    gaussian_pmf,
    gaussian_scale_tables,
    laplace_pmf,
    laplace_scale_tables,
    log_scale_grid,
    logistic_pmf,
    logistic_scale_tables,
    make_tables,
    quantize_pmf,
    scale_to_index,
    table_arrays,
)
from codec.entropy.rans import decode, encode

DISTRIBUTIONS = [gaussian_pmf, laplace_pmf, logistic_pmf]


def _check_cdf(cdf: np.ndarray, n_symbols: int, precision: int) -> np.ndarray:
    """Assert the coder's table invariants; return the frequencies."""
    assert cdf.dtype == np.int32
    assert cdf.shape == (n_symbols + 2,)
    assert cdf[0] == 0
    assert cdf[-1] == 1 << precision
    freqs = np.diff(cdf.astype(np.int64))
    assert freqs.min() >= 1
    return freqs


# --- quantize_pmf ---------------------------------------------------------


def test_dyadic_probabilities_are_kept_exactly() -> None:
    pmf = np.array([0.5, 0.25, 0.25 - 2.0**-16])
    cdf = quantize_pmf(pmf, 2.0**-16)
    assert np.diff(cdf).tolist() == [32768, 16384, 16383, 1]


def test_excess_is_taken_in_proportion_to_spare_counts() -> None:
    # Rounded counts 14, 1, 1 and escape floored to 1 sum to 17; only the
    # first symbol holds more than 1, so it gives up the excess unit.
    cdf = quantize_pmf(np.array([0.9, 0.05, 0.05]), 0.0, precision=4)
    assert cdf.tolist() == [0, 13, 14, 15, 16]


def test_leftover_excess_comes_from_largest_lowest_index_first() -> None:
    # Counts 3, 3, 3, 1 exceed 8 by 2; the proportional shares floor to 0,
    # so the two tied largest counts with the lowest indexes give one each.
    cdf = quantize_pmf(np.ones(3) / 3, 0.0, precision=3)
    assert np.diff(cdf).tolist() == [2, 2, 3, 1]


def test_leftover_deficit_goes_to_largest_lowest_index_first() -> None:
    # Six counts of 5 plus escape 1 fall one short of 32.
    cdf = quantize_pmf(np.ones(6), 0.0, precision=5)
    assert np.diff(cdf).tolist() == [6, 5, 5, 5, 5, 5, 1]


def test_unnormalized_pmf_is_normalized_first() -> None:
    pmf = np.array([0.1, 0.3, 0.2, 0.4])
    assert np.array_equal(quantize_pmf(pmf * 7.0, 0.0), quantize_pmf(pmf, 0.0))


def test_zero_probabilities_still_get_one_count() -> None:
    cdf = quantize_pmf(np.array([0.0, 1.0, 0.0]), 0.0)
    assert np.diff(cdf).tolist() == [1, 65533, 1, 1]


def test_largest_alphabet_that_fits() -> None:
    cdf = quantize_pmf(np.ones(255), 0.0, precision=8)
    assert np.diff(cdf).tolist() == [1] * 256


@pytest.mark.parametrize(
    ("pmf", "tail", "precision", "message"),
    [
        (np.ones(256), 0.0, 8, "do not fit"),
        (np.array([0.5, -0.1]), 0.0, 16, "non-negative"),
        (np.array([0.5, np.nan]), 0.0, 16, "finite"),
        (np.array([0.5, np.inf]), 0.0, 16, "finite"),
        (np.array([0.5, 0.5]), -1e-9, 16, "tail_mass"),
        (np.array([0.5, 0.5]), np.nan, 16, "tail_mass"),
        (np.zeros(3), 0.0, 16, "sum to zero"),
        (np.array([]), 0.0, 16, "non-empty"),
        (np.ones((2, 2)), 0.0, 16, "1-D"),
        (np.ones(2), 0.0, 0, "precision"),
        (np.ones(2), 0.0, 31, "precision"),
    ],
)
def test_quantize_rejects_bad_input(pmf: np.ndarray, tail: float, precision: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        quantize_pmf(pmf, tail, precision)


@settings(max_examples=300, deadline=None)
@given(
    pmf=st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=1e-12, max_value=1e3)),
        min_size=1,
        max_size=400,
    ),
    tail=st.one_of(st.just(0.0), st.floats(min_value=1e-15, max_value=1.0)),
    precision=st.integers(min_value=9, max_value=16),
)
def test_quantize_random_pmfs(pmf: list[float], tail: float, precision: int) -> None:
    probs = np.array(pmf)
    if math.fsum(pmf) + tail == 0:
        with pytest.raises(ValueError):
            quantize_pmf(probs, tail, precision)
        return
    cdf = quantize_pmf(probs, tail, precision)
    freqs = _check_cdf(cdf, probs.size, precision)
    # Stay close to the ideal counts: rounding and the floor of one count move
    # each entry by at most one, and the correction repays that total.
    ideal = np.append(probs, tail) / (math.fsum(pmf) + tail) * (1 << precision)
    assert np.abs(freqs - ideal).sum() <= 3 * freqs.size
    assert np.array_equal(quantize_pmf(probs, tail, precision), cdf)


# --- discretized distributions --------------------------------------------


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("scale", [0.01, 0.1, 0.5, 1.0, 3.7, 20.0, 256.0])
def test_pmf_is_symmetric_normalized_and_minimal(dist, scale: float) -> None:
    pmf, offset, tail = dist(scale, DEFAULT_TAIL_MASS)
    k = -offset
    assert pmf.shape == (2 * k + 1,)
    assert np.all(pmf >= 0)
    assert np.array_equal(pmf, pmf[::-1])
    assert 0 <= tail <= DEFAULT_TAIL_MASS
    assert math.fsum(pmf.tolist()) + tail == pytest.approx(1.0, abs=1e-12)
    if k > 0:
        # One bin fewer on each side would leave too much mass outside.
        assert tail + 2 * pmf[0] > DEFAULT_TAIL_MASS


def _center_mass(dist, scale: float) -> float:
    pmf, offset, _ = dist(scale)
    return pmf[-offset]


@pytest.mark.parametrize("scale", [0.1, 1.0, 20.0])
def test_closed_form_center_bins(scale: float) -> None:
    half = 0.5 / scale
    assert _center_mass(gaussian_pmf, scale) == pytest.approx(math.erf(half / math.sqrt(2)), rel=1e-12)
    assert _center_mass(laplace_pmf, scale) == pytest.approx(-math.expm1(-half), rel=1e-12)
    assert _center_mass(logistic_pmf, scale) == pytest.approx(math.tanh(half / 2), rel=1e-12)


def test_gaussian_support_follows_the_quantile() -> None:
    # 2 * Q(6.109) = 1e-9 for a standard normal.
    for scale in (1.0, 20.0, 256.0):
        k = -gaussian_pmf(scale, 1e-9)[1]
        assert k - 1 < 6.10941 * scale - 0.5 <= k


def test_tiny_scale_tail_bins_keep_relative_precision() -> None:
    # The outer bins of a narrow Gaussian hold ~1e-7 of mass; differencing
    # CDFs near 1 would lose most digits of it.
    pmf, offset, _ = gaussian_pmf(0.1, tail_mass=1e-9)
    assert offset == -1
    expected = 0.5 * (math.erfc(0.5 / (0.1 * math.sqrt(2))) - math.erfc(1.5 / (0.1 * math.sqrt(2))))
    assert pmf[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_distributions_reject_bad_scale(dist, bad: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        dist(bad)


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_distributions_reject_a_support_no_table_can_hold(dist) -> None:
    with pytest.raises(ValueError, match="scale too large"):
        dist(1e6)


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5])
def test_distributions_reject_bad_tail_mass(dist, bad: float) -> None:
    with pytest.raises(ValueError, match="tail_mass"):
        dist(1.0, bad)


def _cross_entropy_overhead(dist, scale: float) -> tuple[float, float]:
    """(entropy of the binned distribution, extra bits/symbol of its 16-bit table)."""
    pmf, _, tail = dist(scale)
    p = np.append(pmf, tail)
    q = np.diff(quantize_pmf(pmf, tail)) / 65536.0
    nz = p > 0
    entropy = -np.sum(p[nz] * np.log2(p[nz]))
    return entropy, -np.sum(p * np.log2(q)) - entropy


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
def test_quantization_rate_overhead_is_small(dist, scale: float) -> None:
    entropy, overhead = _cross_entropy_overhead(dist, scale)
    assert overhead <= 1e-3 * entropy


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_quantization_overhead_at_tiny_scale_is_bounded(dist) -> None:
    # Nearly deterministic symbols: the cost is dominated by the counts the
    # rare symbols and the escape must keep, a few 1/65536 of the mass.
    _, overhead = _cross_entropy_overhead(dist, 0.1)
    assert overhead <= 1e-3


# --- tables, grid and index helpers ---------------------------------------


def test_make_tables_round_trips_through_the_coder() -> None:
    grid = log_scale_grid(0.1, 20.0, 16)
    tables = gaussian_scale_tables(grid)
    rng = np.random.default_rng(7)
    indexes = rng.integers(0, grid.size, 5000).astype(np.int32)
    symbols = np.rint(rng.normal(0.0, grid[indexes])).astype(np.int32)
    symbols[:3] = [10**6, -(10**6), 500]  # force escapes
    out = decode(encode(symbols, indexes, tables), indexes, tables)
    assert np.array_equal(out, symbols)


@pytest.mark.parametrize("builder", [gaussian_scale_tables, laplace_scale_tables, logistic_scale_tables])
def test_scale_table_builders_accept_a_grid(builder) -> None:
    grid = log_scale_grid(0.11, 256.0, 64)
    tables = builder(grid)
    symbols = np.zeros(64, dtype=np.int32)
    indexes = np.arange(64, dtype=np.int32)
    assert tables.information_bits(symbols, indexes) > 0


def test_table_arrays_layout() -> None:
    dists = [gaussian_pmf(0.1), gaussian_pmf(5.0)]
    cdfs, lengths, offsets = table_arrays(dists, precision=12)
    assert cdfs.dtype == lengths.dtype == offsets.dtype == np.int32
    assert lengths.tolist() == [d[0].size + 2 for d in dists]
    assert offsets.tolist() == [d[1] for d in dists]
    assert cdfs.shape == (2, lengths.max())
    assert np.array_equal(cdfs[0, : lengths[0]], quantize_pmf(dists[0][0], dists[0][2], 12))
    assert np.all(cdfs[0, lengths[0] :] == 1 << 12)  # padding repeats the total


def test_make_tables_rejects_empty_list() -> None:
    with pytest.raises(ValueError):
        make_tables([])


def test_log_scale_grid() -> None:
    grid = log_scale_grid(0.11, 256.0, 64)
    assert grid.shape == (64,)
    assert grid[0] == pytest.approx(0.11) and grid[-1] == pytest.approx(256.0)
    ratios = grid[1:] / grid[:-1]
    assert np.allclose(ratios, ratios[0])
    for args in [(0.0, 1.0, 4), (2.0, 1.0, 4), (0.1, 1.0, 1), (0.1, math.inf, 4)]:
        with pytest.raises(ValueError):
            log_scale_grid(*args)


def test_scale_to_index_rounds_up_and_clamps() -> None:
    grid = np.array([1.0, 2.0, 4.0])
    scales = np.array([0.01, 1.0, 1.5, 2.0, 3.99, 4.0, 100.0])
    assert scale_to_index(scales, grid).tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert scale_to_index(scales, grid).dtype == np.int32


# --- cross-platform reproducibility ---------------------------------------


def _tables_digest() -> str:
    """SHA-256 of the tables for CompressAI's 64-entry scale grid, all three laws."""
    h = hashlib.sha256()
    for dist in DISTRIBUTIONS:
        for scale in log_scale_grid(0.11, 256.0, 64):
            pmf, offset, tail = dist(float(scale))
            h.update(np.int32(offset).astype("<i4").tobytes())
            h.update(quantize_pmf(pmf, tail).astype("<i4").tobytes())
    return h.hexdigest()


# Pins the complete rule -- support choice, float rounding step, integer
# correction -- across platforms and releases: a different C library, numpy
# or a change to cdf.py that alters any table breaks stream compatibility and
# must show up here. Update only together with a bitstream version bump.
GOLDEN_TABLES_SHA256 = "5f67bba8a0d9618c9cca6dd66bec3225078826af49c18b32291da638d6e25c3a"


def test_tables_are_reproducible() -> None:
    assert _tables_digest() == _tables_digest()
    assert _tables_digest() == GOLDEN_TABLES_SHA256
