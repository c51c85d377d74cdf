"""Behaviour of the rANS coder (``codec.entropy.rans``): round trips, payload
size, thread invariance, corruption handling and argument validation.

The byte-level format is pinned separately against a pure-Python reference
(``test_rans_reference.py``); random tables and inputs are explored in
``test_rans_properties.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from codec.entropy.rans import CdfTables, decode, encode
from codec.errors import CorruptStreamError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantized_cdf(pmf: np.ndarray, precision: int) -> np.ndarray:
    """CDF with every symbol's frequency >= 1 and total 2**precision."""
    total = 1 << precision
    freq = np.floor(pmf / pmf.sum() * (total - len(pmf))).astype(np.int64) + 1
    freq[np.argmax(freq)] += total - freq.sum()
    return np.concatenate([[0], np.cumsum(freq)])


def gaussian_tables(num_tables: int = 64, precision: int = 16) -> tuple[CdfTables, np.ndarray]:
    """Tables for zero-mean Gaussians with log-spaced scales 0.1 .. 20 (escape last)."""
    scales = np.exp(np.linspace(np.log(0.1), np.log(20.0), num_tables))
    rows, offsets = [], []
    for scale in scales:
        radius = int(np.ceil(6 * scale))
        grid = np.arange(-radius, radius + 1)
        pmf = np.exp(-0.5 * (grid / scale) ** 2)
        pmf = np.append(pmf / pmf.sum(), 1e-6)  # the escape symbol
        rows.append(quantized_cdf(pmf, precision))
        offsets.append(-radius)
    cdfs = np.zeros((num_tables, max(len(r) for r in rows)), np.int32)
    for t, row in enumerate(rows):
        cdfs[t, : len(row)] = row
    lengths = [len(r) for r in rows]
    return CdfTables(cdfs, lengths, offsets, precision), scales


def latents(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, CdfTables]:
    """Gaussian-latent-like symbols with a table index each."""
    tables, scales = gaussian_tables()
    rng = np.random.default_rng(seed)
    indexes = rng.integers(0, tables.num_tables, n).astype(np.int32)
    symbols = np.rint(rng.normal(0.0, scales[indexes])).astype(np.int32)
    return symbols, indexes, tables


def small_tables() -> CdfTables:
    """Two tables: 3 regular symbols from -1, and escape only."""
    cdfs = np.array([[0, 100, 60000, 65535, 65536], [0, 65536, 0, 0, 0]], np.int32)
    return CdfTables(cdfs, [5, 2], [-1, 7])


def round_trip(symbols, indexes, tables, **options) -> bytes:
    data = encode(symbols, indexes, tables, **options)
    decoded = decode(data, indexes, tables)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, np.asarray(symbols))
    return data


# --- round trips -------------------------------------------------------------


def test_round_trip_in_range_escapes_and_extremes():
    symbols = np.array([0, 1, -1, 5, INT32_MAX, INT32_MIN, 0, 0, 1, 2, -2, 9, 7, INT32_MIN], np.int32)
    indexes = np.array([0] * 10 + [1] * 4, np.int32)
    round_trip(symbols, indexes, small_tables())


def test_empty_input_is_a_header_only():
    tables = small_tables()
    empty = np.zeros(0, np.int32)
    data = encode(empty, empty, tables, lanes=3, substream_size=10)
    assert data == bytes([1, 3, 16, 0, 0, 10])
    assert decode(data, empty, tables).shape == (0,)


def test_one_symbol_and_escape_only_table():
    tables = small_tables()
    for value in (7, 8, 6, INT32_MAX, INT32_MIN, 0):
        round_trip(np.array([value], np.int32), np.array([1], np.int32), tables)


def test_output_has_the_shape_of_indexes():
    symbols, indexes, tables = latents(600)
    data = encode(symbols.reshape(20, 30), indexes.reshape(20, 30), tables)
    assert decode(data, indexes.reshape(20, 30), tables).shape == (20, 30)
    assert data == encode(symbols, indexes, tables)


@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 5, 8, 16, 31, 32])
def test_every_lane_count(lanes):
    symbols, indexes, tables = latents(5000, seed=lanes)
    symbols[::97] = INT32_MAX  # escapes in every lane
    data = round_trip(symbols, indexes, tables, lanes=lanes, substream_size=1500)
    assert data[1] == lanes


@pytest.mark.parametrize("precision", range(10, 17))
def test_every_precision(precision):
    rng = np.random.default_rng(precision)
    cdfs = np.stack([quantized_cdf(rng.random(30) + 0.01, precision) for _ in range(3)])
    tables = CdfTables(cdfs, [31] * 3, [-15, 0, 100], precision)
    indexes = rng.integers(0, 3, 20000).astype(np.int32)
    symbols = rng.integers(-40, 140, 20000).astype(np.int32)
    data = round_trip(symbols, indexes, tables, lanes=4, substream_size=7000)
    assert data[2] == precision


def test_large_input_round_trip():
    symbols, indexes, tables = latents(4_000_000, seed=1)
    round_trip(symbols, indexes, tables)


def test_tables_with_more_than_256_symbols():
    wide = np.zeros((1, 1002), np.int32)
    wide[0] = quantized_cdf(np.full(1001, 1.0), 16)
    big = CdfTables(wide, [1002], [-500])
    rng = np.random.default_rng(3)
    symbols = rng.integers(-600, 600, 50000).astype(np.int32)
    round_trip(symbols, np.zeros_like(symbols), big)


# --- threads and substreams --------------------------------------------------


def test_bytes_do_not_depend_on_threads():
    symbols, indexes, tables = latents(300_000, seed=2)
    reference = encode(symbols, indexes, tables, substream_size=10_000, threads=1)
    for threads in (2, 3, 8, 0, -1):
        assert encode(symbols, indexes, tables, substream_size=10_000, threads=threads) == reference
    for threads in (1, 2, 3, 8, 64):
        np.testing.assert_array_equal(decode(reference, indexes, tables, threads=threads), symbols)


def test_default_substreams_give_the_same_bytes_and_symbols_on_any_thread_count():
    # Several substreams of the default size (65536), escapes in each, so
    # that every thread count really splits the work.
    symbols, indexes, tables = latents(5 * 65536 + 12_345, seed=12)
    symbols[::5003] = -123_456_789
    reference = encode(symbols, indexes, tables, threads=1)
    assert len(split_payload_lengths(reference)) == 6
    for threads in (2, 3, 4, 6, 7):
        assert encode(symbols, indexes, tables, threads=threads) == reference
        np.testing.assert_array_equal(decode(reference, indexes, tables, threads=threads), symbols)


def test_errors_are_the_same_on_any_thread_count():
    """A bad table index is reported first, at its lowest position; then the first damaged substream."""
    symbols, indexes, tables = latents(40_000, seed=13)
    data = encode(symbols, indexes, tables, substream_size=1000)
    damaged = bytearray(data)
    damaged[len(data) // 4] ^= 0x40  # an early substream
    bad = indexes.copy()
    bad[[39_990, 25_000, 31_000]] = [-1, tables.num_tables, 99]  # late substreams
    for threads in (1, 2, 3, 8):
        for payload in (data, bytes(damaged), bytes(damaged[:-3])):
            with pytest.raises(ValueError, match="table index 64 at position 25000 outside"):
                decode(payload, bad, tables, threads=threads)
        with pytest.raises(ValueError, match="position 25000"):
            encode(symbols, bad, tables, substream_size=1000, threads=threads)
        with pytest.raises(CorruptStreamError) as info:
            decode(bytes(damaged), indexes, tables, threads=threads)
        assert info.value.offset < len(data) // 2


def split_payload_lengths(data: bytes) -> list[int]:
    """The substream lengths of a payload."""
    pos, values = 4, []
    for _ in range(2):
        value, shift = 0, 0
        while True:
            value |= (data[pos] & 0x7F) << shift
            shift += 7
            pos += 1
            if data[pos - 1] < 0x80:
                break
        values.append(value)
    n, size = values
    lengths = []
    for _ in range(-(-n // size)):
        value, shift = 0, 0
        while True:
            value |= (data[pos] & 0x7F) << shift
            shift += 7
            pos += 1
            if data[pos - 1] < 0x80:
                break
        lengths.append(value)
    return lengths


def test_substream_size_one_and_larger_than_input():
    symbols, indexes, tables = latents(257, seed=4)
    for size in (1, 2, 256, 257, 258, 2**40):
        round_trip(symbols, indexes, tables, substream_size=size, lanes=2)


# --- code length ---------------------------------------------------------------


def payload_overhead_bits(n: int, lanes: int, substream_size: int) -> int:
    """Bits the payload may spend beyond the information content.

    Header and varints (4 + 10 + 10 bytes, 10 per substream length) and, per
    substream, the lanes' final states: 32 bits each, of which the initial
    state 2**16 accounts for up to 16 and the unused range of the last state
    for up to 16 more.
    """
    substreams = -(-n // substream_size)
    return 8 * (24 + 10 * substreams) + 32 * lanes * substreams


def test_code_length_is_close_to_the_information_content():
    symbols, indexes, tables = latents(1_000_000, seed=5)
    symbols[::1000] = 123456  # some escapes
    data = encode(symbols, indexes, tables)
    bits = tables.information_bits(symbols, indexes)
    assert len(data) * 8 <= bits * 1.005 + payload_overhead_bits(len(symbols), 4, 65536)
    assert len(data) * 8 >= bits


def test_information_bits_counts_escapes_and_bypass_groups():
    tables = small_tables()
    # Table 1 has only the escape symbol (probability 1): the cost is the
    # bypass alone, 4 bits for the group count plus 4 per group.
    for value, groups in ((7, 1), (14, 1), (15, 2), (6, 1), (-2, 2), (INT32_MAX, 8), (INT32_MIN, 9)):
        assert tables.information_bits([value], [1]) == 4 * (groups + 1)
    expected = -np.log2((60000 - 100) / 65536)
    assert tables.information_bits([0], [0]) == pytest.approx(expected)


# --- corruption -----------------------------------------------------------------


def test_every_truncation_is_rejected():
    symbols, indexes, tables = latents(300, seed=6)
    symbols[::17] = -99999
    data = encode(symbols, indexes, tables, substream_size=100)
    for cut in range(len(data)):
        with pytest.raises(CorruptStreamError) as info:
            decode(data[:cut], indexes, tables)
        assert info.value.offset is not None and 0 <= info.value.offset <= cut


def test_random_byte_flips_never_crash():
    symbols, indexes, tables = latents(20_000, seed=7)
    data = encode(symbols, indexes, tables, substream_size=5000)
    rng = np.random.default_rng(8)
    rejected = 0
    for _ in range(3000):
        damaged = bytearray(data)
        for position in rng.integers(0, len(data), rng.integers(1, 4)):
            damaged[position] ^= int(rng.integers(1, 256))
        try:
            decoded = decode(bytes(damaged), indexes, tables, threads=2)
        except CorruptStreamError as error:
            assert 0 <= error.offset <= len(data)
            rejected += 1
        else:
            assert decoded.dtype == np.int32 and decoded.shape == symbols.shape
    assert rejected >= 2900  # the final-state check catches nearly every flip


def test_error_offset_is_the_same_for_any_thread_count():
    symbols, indexes, tables = latents(50_000, seed=9)
    data = bytearray(encode(symbols, indexes, tables, substream_size=1000))
    data[len(data) // 3] ^= 0x55
    data[2 * len(data) // 3] ^= 0x55
    offsets = set()
    for threads in (1, 2, 3, 8):
        with pytest.raises(CorruptStreamError) as info:
            decode(bytes(data), indexes, tables, threads=threads)
        offsets.add(info.value.offset)
    assert len(offsets) == 1


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def split_payload(data: bytes) -> tuple[bytes, list[bytes]]:
    """(fixed header + n + S varints, substreams) of a payload with one-byte-varint lengths."""
    pos, values = 4, []
    while len(values) < 2:
        start = pos
        while data[pos] & 0x80:
            pos += 1
        pos += 1
        values.append(int.from_bytes(bytes(b & 0x7F for b in data[start:pos]), "little"))
    n, size = values
    count = -(-n // size)
    lengths_at = pos
    lengths, pos = [], lengths_at
    for _ in range(count):
        start = pos
        while data[pos] & 0x80:
            pos += 1
        pos += 1
        lengths.append(sum((b & 0x7F) << (7 * i) for i, b in enumerate(data[start:pos])))
    parts, at = [], pos
    for length in lengths:
        parts.append(data[at : at + length])
        at += length
    return data[:lengths_at], parts


def join_payload(head: bytes, parts: list[bytes]) -> bytes:
    return head + b"".join(varint(len(p)) for p in parts) + b"".join(parts)


@pytest.fixture(name="stream")
def fixture_stream():
    symbols, indexes, tables = latents(1000, seed=10)
    return encode(symbols, indexes, tables, substream_size=400), indexes, tables


def rejects(data: bytes, indexes, tables, offset: int | None = None) -> CorruptStreamError:
    with pytest.raises(CorruptStreamError) as info:
        decode(data, indexes, tables)
    if offset is not None:
        assert info.value.offset == offset
    return info.value


def test_header_fields_are_checked(stream):
    data, indexes, tables = stream
    rejects(bytes([2]) + data[1:], indexes, tables, offset=0)  # layout version
    rejects(data[:1] + bytes([0]) + data[2:], indexes, tables, offset=1)  # lanes 0
    rejects(data[:1] + bytes([33]) + data[2:], indexes, tables, offset=1)  # lanes 33
    rejects(data[:2] + bytes([15]) + data[3:], indexes, tables, offset=2)  # precision mismatch
    rejects(data[:3] + bytes([1]) + data[4:], indexes, tables, offset=3)  # reserved byte
    rejects(data + b"\0", indexes, tables)  # trailing byte


def test_symbol_count_must_match_indexes(stream):
    data, indexes, tables = stream
    rejects(data, indexes[:-1], tables, offset=4)
    rejects(data, np.concatenate([indexes, indexes[:1]]), tables, offset=4)


def test_substream_size_zero_is_rejected(stream):
    data, indexes, tables = stream
    head, parts = split_payload(data)
    n_size = head[4:]
    assert n_size[-2:] == varint(400)
    rejects(join_payload(head[:-2] + b"\0", parts), indexes, tables, offset=len(head) - 2)


def test_varints_are_validated():
    tables = small_tables()
    empty = np.zeros(0, np.int32)
    fixed = bytes([1, 4, 16, 0])
    rejects(fixed + b"\x80" * 10 + b"\x00", empty, tables, offset=4)  # longer than 10 bytes
    rejects(fixed + b"\xff" * 9 + b"\x02" + b"\x01", empty, tables, offset=4)  # above 2**64 - 1
    rejects(fixed + b"\x80\x00" + b"\x01", empty, tables, offset=4)  # non-canonical
    rejects(fixed + b"\x00" + b"\x81", empty, tables, offset=5)  # truncated
    one = np.zeros(1, np.int32)
    # n = 1 claimed with a substream count the payload cannot hold.
    rejects(fixed + b"\x01\x01", one, tables, offset=5)


def test_substream_lengths_must_add_up(stream):
    data, indexes, tables = stream
    head, parts = split_payload(data)
    body = b"".join(parts)
    lengths = [len(p) for p in parts]
    longer = head + b"".join(varint(v) for v in [lengths[0] + 2, *lengths[1:]]) + body
    rejects(longer, indexes, tables)
    shorter = head + b"".join(varint(v) for v in [lengths[0] - 2, *lengths[1:]]) + body
    rejects(shorter, indexes, tables)
    odd = head + b"".join(varint(v) for v in [lengths[0] - 1, *lengths[1:]]) + body
    rejects(odd, indexes, tables)
    huge = head + varint(2**63) + b"".join(varint(v) for v in lengths[1:]) + body
    rejects(huge, indexes, tables, offset=len(head))


def test_extra_words_and_damaged_states_are_rejected(stream):
    data, indexes, tables = stream
    head, parts = split_payload(data)
    padded = join_payload(head, [parts[0] + b"\0\0", *parts[1:]])
    rejects(padded, indexes, tables)
    state = bytearray(parts[1])
    state[0] ^= 1
    rejects(join_payload(head, [parts[0], bytes(state), parts[2]]), indexes, tables)
    low = bytearray(parts[2])
    low[0:4] = (0xFFFF).to_bytes(4, "little")
    offset = len(data) - len(parts[2])
    rejects(join_payload(head, [parts[0], parts[1], bytes(low)]), indexes, tables, offset=offset)


# --- bad tables and arguments ----------------------------------------------------


def good_cdf() -> list[int]:
    return [0, 1000, 30000, 65535, 65536]


@pytest.mark.parametrize(
    ("row", "length", "message"),
    [
        ([0, 1000, 900, 65535, 65536], 5, "not strictly increasing"),
        ([0, 1000, 1000, 65535, 65536], 5, "not strictly increasing"),
        ([0, 1000, 30000, 65535, 65535], 5, "must end at"),
        ([5, 1000, 30000, 65535, 65536], 5, "cdf\\[0\\]"),
        (good_cdf(), 6, "cdf length"),
        (good_cdf(), 1, "cdf length"),
    ],
)
def test_bad_tables_are_rejected(row, length, message):
    cdfs = np.array([good_cdf(), row], np.int32)
    with pytest.raises(ValueError, match=f"table 1: .*{message}"):
        CdfTables(cdfs, [5, length], [0, 0])


def test_bad_table_shapes_and_precisions_are_rejected():
    cdfs = np.array([good_cdf()], np.int32)
    for precision in (9, 17, 16.0, True):
        with pytest.raises(ValueError):
            CdfTables(cdfs, [5], [0], precision)
    with pytest.raises(ValueError):
        CdfTables(cdfs, [5, 5], [0, 0])
    with pytest.raises(ValueError):
        CdfTables(cdfs[0], [5], [0])
    with pytest.raises(ValueError):
        CdfTables(np.zeros((0, 5), np.int32), [], [])
    with pytest.raises(ValueError, match="int32"):
        CdfTables(cdfs, [5], [INT32_MAX - 1])
    with pytest.raises(ValueError):
        CdfTables(cdfs.astype(np.float64), [5], [0])
    CdfTables(cdfs, [5], [INT32_MAX - 2])  # the largest value is exactly INT32_MAX


def test_bad_arguments_are_rejected():
    tables = small_tables()
    symbols = np.zeros(10, np.int32)
    indexes = np.zeros(10, np.int32)
    for options in ({"lanes": 0}, {"lanes": 33}, {"substream_size": 0}, {"threads": 1.5}):
        with pytest.raises(ValueError):
            encode(symbols, indexes, tables, **options)
    with pytest.raises(ValueError):
        encode(symbols, indexes[:9], tables)
    with pytest.raises(ValueError):
        encode(symbols.astype(np.int64) + 2**31, indexes, tables)
    with pytest.raises(TypeError):
        encode(symbols, indexes, "tables")
    data = encode(symbols, indexes, tables)
    for bad in (2, -1, INT32_MAX):
        wrong = indexes.copy()
        wrong[3] = bad
        with pytest.raises(ValueError, match="position 3"):
            encode(symbols, wrong, tables)
        with pytest.raises(ValueError, match="position 3"):
            decode(data, wrong, tables)
