"""Cross-check our probabilities, rates and coded sizes against constriction.

constriction is an independent entropy-coding library (Rust, 24-bit ANS). If
our table builder, our ideal-rate computation or our coder drifted from the
probabilities they claim to use, its numbers would disagree with ours:

* coding our quantized tables with constriction's ``Categorical`` model must
  cost what ``CdfTables.information_bits`` says they cost;
* constriction's own ``QuantizedGaussian`` for the same scales must land
  close to it, which checks the Gaussian discretization itself;
* our coded length must match the information content and constriction's
  coded size up to a small framing overhead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from codec.entropy.cdf import gaussian_pmf, log_scale_grid, make_tables, quantize_pmf, scale_to_index
from codec.entropy.rans import encode

constriction = pytest.importorskip("constriction")

NUM_SYMBOLS = 1_000_000
NUM_SCALES = 64
PRECISION = 16


@pytest.fixture(scope="module")
def latent():
    """Gaussian latents with per-symbol scales, their table indexes and tables."""
    rng = np.random.default_rng(1234)
    grid = log_scale_grid(0.1, 20.0, NUM_SCALES)
    scales = np.exp(rng.uniform(math.log(0.1), math.log(20.0), NUM_SYMBOLS))
    symbols = np.rint(rng.normal(0.0, scales)).astype(np.int32)
    indexes = scale_to_index(scales, grid)
    dists = [gaussian_pmf(float(s)) for s in grid]
    freqs = [np.diff(quantize_pmf(pmf, tail, PRECISION)) for pmf, _, tail in dists]
    offsets = [offset for _, offset, _ in dists]
    return symbols, indexes, grid, make_tables(dists, PRECISION), freqs, offsets


def _symbol_ids(values: np.ndarray, offset: int, num_regular: int) -> np.ndarray:
    """Map values to alphabet positions of one table, out-of-range ones to the escape."""
    ids = values.astype(np.int64) - offset
    ids[(ids < 0) | (ids >= num_regular)] = num_regular
    return ids.astype(np.int32)


def _numpy_information_bits(symbols, indexes, freqs, offsets) -> tuple[float, int]:
    """Sum of -log2(freq / 2^P) over all symbols, and the number of escapes."""
    bits, escapes = 0.0, 0
    for t, (f, offset) in enumerate(zip(freqs, offsets)):
        ids = _symbol_ids(symbols[indexes == t], offset, f.size - 1)
        bits += float(np.sum(PRECISION - np.log2(f[ids].astype(np.float64))))
        escapes += int(np.count_nonzero(ids == f.size - 1))
    return bits, escapes


def _constriction_categorical_bits(symbols, indexes, freqs, offsets) -> int:
    """Size of one constriction ANS stream coding each table's symbols with our frequencies."""
    coder = constriction.stream.stack.AnsCoder()
    for t, (f, offset) in enumerate(zip(freqs, offsets)):
        ids = _symbol_ids(symbols[indexes == t], offset, f.size - 1)
        if ids.size:
            model = constriction.stream.model.Categorical(f / float(1 << PRECISION), perfect=False)
            coder.encode_reverse(ids, model)
    return coder.num_bits()


def test_information_bits_match_an_independent_computation(latent) -> None:
    symbols, indexes, _, tables, freqs, offsets = latent
    ours = tables.information_bits(symbols, indexes)
    expected, escapes = _numpy_information_bits(symbols, indexes, freqs, offsets)
    # Escapes also cost bypass bits, which the numpy sum leaves out; this
    # seed draws none at the default tail mass.
    assert escapes == 0
    assert ours == pytest.approx(expected, rel=1e-9)


def test_information_bits_match_constriction_with_our_frequencies(latent) -> None:
    symbols, indexes, _, tables, freqs, offsets = latent
    ours = tables.information_bits(symbols, indexes)
    theirs = _constriction_categorical_bits(symbols, indexes, freqs, offsets)
    assert theirs == pytest.approx(ours, rel=1e-4)


def test_rate_matches_constriction_quantized_gaussian(latent) -> None:
    # constriction discretizes the same Gaussians on its own at 24 bits; our
    # 16-bit tables may cost slightly more but must agree closely.
    symbols, indexes, grid, tables, _, _ = latent
    k = int(np.abs(symbols).max())
    model = constriction.stream.model.QuantizedGaussian(-k, k)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols, model, np.zeros(symbols.size), grid[indexes])
    theirs = coder.num_bits()
    ours = tables.information_bits(symbols, indexes)
    assert theirs * (1 - 1e-4) <= ours <= theirs * (1 + 1e-3)


def test_coded_length_matches_information_and_constriction(latent) -> None:
    symbols, indexes, _, tables, freqs, offsets = latent
    data = encode(symbols, indexes, tables)
    coded_bits = 8 * len(data)
    ideal = tables.information_bits(symbols, indexes)
    # Fixed framing: header, per-substream lengths and flushed lane states.
    framing_bits = 8 * 1024
    assert ideal - framing_bits <= coded_bits <= ideal * 1.005 + framing_bits
    theirs = _constriction_categorical_bits(symbols, indexes, freqs, offsets)
    assert coded_bits == pytest.approx(theirs, rel=5e-3)
