"""The rANS payload format, pinned by a pure-Python reference implementation.

The reference follows the normative description (``bitstream/SPEC.md``)
literally, with Python integers and no tables or tricks, so that the C++
coder's bytes can be checked against the text rather than against itself.
It also crafts streams the C++ encoder never writes (bad escapes) to check
that the decoder rejects them.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.entropy.rans import CdfTables, decode, encode
from codec.errors import CorruptStreamError

STATE_LOW = 1 << 16
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# An item is (start, freq, precision): a table symbol, or a 4-bit bypass
# group coded as start=value, freq=1 at precision 4.


def nibble(value: int) -> tuple[int, int, int]:
    return value, 1, 4


def value_items(value: int, cdf: list[int], offset: int) -> list[tuple[int, int, int]]:
    """Items of one value, in decode order."""
    precision = cdf[-1].bit_length() - 1
    n = len(cdf) - 2
    s = value - offset
    if 0 <= s < n:
        return [(cdf[s], cdf[s + 1] - cdf[s], precision)]
    word = 2 * (s - n) if s >= n else 2 * (-s - 1) + 1
    groups = max(1, -(-word.bit_length() // 4))
    escape = (cdf[n], cdf[n + 1] - cdf[n], precision)
    return [escape, nibble(groups - 1)] + [nibble((word >> (4 * g)) & 15) for g in range(groups)]


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_substream(items_per_symbol: list[list[tuple[int, int, int]]], lanes: int) -> bytes:
    states = [STATE_LOW] * lanes
    words: list[int] = []  # in encoding order
    for j in reversed(range(len(items_per_symbol))):
        lane = j % lanes
        x = states[lane]
        for start, freq, precision in reversed(items_per_symbol[j]):
            x_max = freq << (32 - precision)
            while x >= x_max:
                words.append(x & 0xFFFF)
                x >>= 16
            x = ((x // freq) << precision) + x % freq + start
        states[lane] = x
    return struct.pack(f"<{lanes}I", *states) + struct.pack(f"<{len(words)}H", *reversed(words))


def payload(items_per_symbol, lanes: int, precision: int, substream_size: int) -> bytes:
    n = len(items_per_symbol)
    parts = [
        encode_substream(items_per_symbol[k : k + substream_size], lanes)
        for k in range(0, n, substream_size)
    ]
    head = bytes([1, lanes, precision, 0]) + varint(n) + varint(substream_size)
    return head + b"".join(varint(len(p)) for p in parts) + b"".join(parts)


def reference_encode(symbols, indexes, cdfs, lengths, offsets, precision, lanes, substream_size):
    rows = [list(map(int, cdfs[t][: lengths[t]])) for t in range(len(lengths))]
    items = [value_items(int(v), rows[t], int(offsets[t])) for v, t in zip(symbols, indexes)]
    return payload(items, lanes, precision, substream_size)


def reference_decode(data: bytes, indexes, cdfs, lengths, offsets) -> list[int]:
    """Decodes a valid payload (no validation: the C++ decoder does that)."""
    lanes, precision = data[1], data[2]
    pos = 4
    fields = []
    for _ in range(2):
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        fields.append(value)
    n, size = fields
    lengths_of = []
    for _ in range(-(-n // size)):
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        lengths_of.append(value)
    out = []
    for k, length in enumerate(lengths_of):
        sub = data[pos : pos + length]
        pos += length
        states = list(struct.unpack_from(f"<{lanes}I", sub))
        words = list(struct.unpack_from(f"<{(length - 4 * lanes) // 2}H", sub, 4 * lanes))
        w = 0

        def get(x, start, freq, bits):
            nonlocal w
            x = freq * (x >> bits) + (x & ((1 << bits) - 1)) - start
            if x < STATE_LOW:
                x = (x << 16) | words[w]
                w += 1
            return x

        for j in range(min(size, n - k * size)):
            lane = j % lanes
            t = int(indexes[k * size + j])
            cdf = list(map(int, cdfs[t][: lengths[t]]))
            x = states[lane]
            slot = x & ((1 << precision) - 1)
            s = max(i for i in range(len(cdf) - 1) if cdf[i] <= slot)
            x = get(x, cdf[s], cdf[s + 1] - cdf[s], precision)
            if s < len(cdf) - 2:
                value = int(offsets[t]) + s
            else:
                groups = (x & 15) + 1
                x = get(x, x & 15, 1, 4)
                word = 0
                for g in range(groups):
                    word |= (x & 15) << (4 * g)
                    x = get(x, x & 15, 1, 4)
                d = word >> 1
                value = int(offsets[t]) - 1 - d if word & 1 else int(offsets[t]) + len(cdf) - 2 + d
            states[lane] = x
            out.append(value)
        assert states == [STATE_LOW] * lanes and w == len(words)
    return out


def quantized_cdf(weights: list[int], precision: int) -> np.ndarray:
    total = 1 << precision
    weights = np.asarray(weights, np.float64)
    freq = np.floor(weights / weights.sum() * (total - len(weights))).astype(np.int64) + 1
    freq[np.argmax(freq)] += total - freq.sum()
    return np.concatenate([[0], np.cumsum(freq)])


@st.composite
def coding_problems(draw):
    precision = draw(st.integers(10, 16))
    num_tables = draw(st.integers(1, 3))
    rows, offsets = [], []
    for _ in range(num_tables):
        weights = draw(st.lists(st.integers(1, 1000), min_size=1, max_size=40))
        rows.append(quantized_cdf(weights, precision))
        offsets.append(draw(st.integers(-1000, 1000)))
    cdfs = np.zeros((num_tables, max(len(r) for r in rows)), np.int32)
    for t, row in enumerate(rows):
        cdfs[t, : len(row)] = row
    lengths = [len(r) for r in rows]
    n = draw(st.integers(0, 120))
    indexes = draw(st.lists(st.integers(0, num_tables - 1), min_size=n, max_size=n))
    value = st.one_of(
        st.integers(-1100, 1100),
        st.integers(INT32_MIN, INT32_MAX),
        st.sampled_from([INT32_MIN, INT32_MAX]),
    )
    symbols = draw(st.lists(value, min_size=n, max_size=n))
    lanes = draw(st.integers(1, 9) | st.just(32))
    substream_size = draw(st.integers(1, 50))
    return symbols, indexes, (cdfs, lengths, offsets, precision), lanes, substream_size


@settings(max_examples=150, deadline=None)
@given(coding_problems())
def test_bytes_match_the_reference(problem):
    symbols, indexes, (cdfs, lengths, offsets, precision), lanes, size = problem
    tables = CdfTables(cdfs, lengths, offsets, precision)
    data = encode(
        np.array(symbols, np.int32), np.array(indexes, np.int32), tables, lanes=lanes, substream_size=size
    )
    assert data == reference_encode(symbols, indexes, cdfs, lengths, offsets, precision, lanes, size)
    assert reference_decode(data, indexes, cdfs, lengths, offsets) == symbols


def test_golden_payload():
    """A fixed payload, so that an accidental format change cannot go unnoticed."""
    cdfs = np.array([[0, 100, 60000, 65535, 65536]], np.int32)
    tables = CdfTables(cdfs, [5], [-1])
    symbols = np.array([0, 1, -1, 5, INT32_MAX, INT32_MIN, 0, 0, 1], np.int32)
    data = encode(symbols, np.zeros(9, np.int32), tables, lanes=4, substream_size=65536)
    assert data.hex() == (
        "01041000098080041eab0fd20088f0c9004800c802ffff16016068a7c8ffffffbfd700ffffff0f"
    )


# --- streams the encoder never writes -------------------------------------------

ESCAPE_ONLY = (np.array([[0, 1 << 16]], np.int32), [2], [0], 16)  # offset 0, N = 0


def crafted(items: list[tuple[int, int, int]]) -> bytes:
    """One escape-only-table symbol with the given bypass items after its escape."""
    return payload([[(0, 1 << 16, 16), *items]], lanes=1, precision=16, substream_size=1)


def decode_crafted(data: bytes) -> np.ndarray:
    cdfs, lengths, offsets, precision = ESCAPE_ONLY
    return decode(data, np.zeros(1, np.int32), CdfTables(cdfs, lengths, offsets, precision))


def bypass(word: int, groups: int) -> list[tuple[int, int, int]]:
    """The bypass items of an escape: the group count, then groups low first."""
    return [nibble(groups - 1)] + [nibble((word >> (4 * g)) & 15) for g in range(groups)]


def test_crafted_streams_decode_as_specified():
    # Word 0x13 = 2 * 9 + 1: sign 1, d = 9, so offset - 1 - 9.
    assert decode_crafted(crafted(bypass(0x13, 2))).tolist() == [-10]
    assert decode_crafted(crafted(bypass(2 * INT32_MAX, 8))).tolist() == [INT32_MAX]
    assert decode_crafted(crafted(bypass(2 * INT32_MAX + 1, 8))).tolist() == [INT32_MIN]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([nibble(9)] + [nibble(1)] * 10, "more than 9 groups"),
        ([nibble(15)] + [nibble(1)] * 16, "more than 9 groups"),
        (bypass(0x05, 2), "minimally"),  # a zero top group
        (bypass(2 * INT32_MAX, 9), "minimally"),
        (bypass(2 * 2**31, 9), "int32"),  # d = 2**31 above offset 0
        (bypass(2 * 2**31 + 1, 9), "int32"),  # -1 - 2**31
        (bypass(2**36 - 1, 9), "int32"),  # the largest word 9 groups hold
    ],
)
def test_bad_escapes_are_rejected(items, message):
    with pytest.raises(CorruptStreamError, match=message):
        decode_crafted(crafted(items))
