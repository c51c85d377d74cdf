"""Property tests of the rANS coder over random tables, values and options.

Any valid tables, any int32 values (in range, escaped, or at the int32
limits), any lane count and substream size must round-trip, the decoder
must agree for every thread count, and the payload must stay within its
stated overhead of the ideal code length.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.entropy.rans import CdfTables, decode, encode
from codec.errors import CorruptStreamError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantized_cdf(weights: np.ndarray, precision: int) -> np.ndarray:
    total = 1 << precision
    freq = np.floor(weights / weights.sum() * (total - len(weights))).astype(np.int64) + 1
    freq[np.argmax(freq)] += total - freq.sum()
    return np.concatenate([[0], np.cumsum(freq)])


@st.composite
def tables_and_values(draw):
    """Random tables (1..300 symbols incl. the escape) and values that use them."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    precision = draw(st.integers(10, 16))
    num_tables = draw(st.integers(1, 5))
    rows, offsets = [], []
    for _ in range(num_tables):
        size = int(rng.integers(1, min(300, 1 << precision) + 1))
        weights = rng.random(size) ** draw(st.sampled_from([1, 4, 16]))  # flat to peaked
        rows.append(quantized_cdf(weights + 1e-9, precision))
        offsets.append(int(rng.integers(-(2**31), 2**31 - 300)))
    cdfs = np.zeros((num_tables, max(len(r) for r in rows) + int(rng.integers(0, 3))), np.int32)
    for t, row in enumerate(rows):
        cdfs[t, : len(row)] = row
    lengths = np.array([len(r) for r in rows], np.int32)
    tables = CdfTables(cdfs, lengths, offsets, precision)

    n = draw(st.integers(0, 3000))
    indexes = rng.integers(0, num_tables, n).astype(np.int32)
    span = np.maximum(lengths[indexes] - 2, 1)
    values = np.array(offsets, np.int64)[indexes] + rng.integers(-2, 3, n) * span // 2
    values += rng.integers(0, span)
    wild = rng.random(n) < draw(st.sampled_from([0.0, 0.01, 0.3]))
    values[wild] = rng.integers(INT32_MIN, INT32_MAX, wild.sum(), endpoint=True)
    values[rng.random(n) < 0.01] = INT32_MIN
    values[rng.random(n) < 0.01] = INT32_MAX
    values = np.clip(values, INT32_MIN, INT32_MAX).astype(np.int32)
    return tables, values, indexes


options = st.fixed_dictionaries(
    {"lanes": st.integers(1, 32), "substream_size": st.integers(1, 4000) | st.just(65536)}
)


@st.composite
def split_options(draw, n: int):
    """Lanes, and a substream size that cuts n symbols into 2..40 substreams more often than not."""
    if n > 1 and draw(st.booleans()):
        size = -(-n // draw(st.integers(2, min(40, n))))
    else:
        size = draw(st.integers(1, 4000) | st.just(65536))
    return {"lanes": draw(st.integers(1, 32)), "substream_size": size}


@settings(max_examples=120, deadline=None)
@given(tables_and_values(), st.data(), st.integers(2, 5))
def test_round_trip(problem, data, threads):
    tables, values, indexes = problem
    coding = data.draw(split_options(len(values)))
    payload = encode(values, indexes, tables, threads=threads, **coding)
    assert payload == encode(values, indexes, tables, threads=1, **coding)
    np.testing.assert_array_equal(decode(payload, indexes, tables, threads=threads), values)
    np.testing.assert_array_equal(decode(payload, indexes, tables, threads=1), values)


@settings(max_examples=60, deadline=None)
@given(tables_and_values(), options)
def test_size_is_within_the_stated_overhead(problem, coding):
    tables, values, indexes = problem
    data = encode(values, indexes, tables, **coding)
    substreams = -(-len(values) // coding["substream_size"])
    overhead = 8 * (24 + 10 * substreams) + 32 * coding["lanes"] * substreams
    bits = tables.information_bits(values, indexes)
    assert bits <= len(data) * 8 <= bits * 1.005 + overhead


@settings(max_examples=60, deadline=None)
@given(tables_and_values(), st.data())
def test_truncated_or_extended_payloads_never_decode(problem, data):
    tables, values, indexes = problem
    payload = encode(values, indexes, tables, lanes=data.draw(st.integers(1, 8)))
    cut = data.draw(st.integers(0, len(payload) - 1))
    with pytest.raises(CorruptStreamError):
        decode(payload[:cut], indexes, tables)
    with pytest.raises(CorruptStreamError):
        decode(payload + b"\0\0", indexes, tables)
