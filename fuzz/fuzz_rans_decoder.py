"""Fuzz target for the rANS decoder: hostile bytes must be rejected cleanly.

The decoder reads untrusted files, so for any input it must either return
one int32 symbol per index or raise ``CorruptStreamError`` (damaged stream)
or ``ValueError`` (unusable arguments). Anything else -- another exception,
a crash, a hang, a huge allocation -- is a bug.

Run (see fuzz/README.md): ``python fuzz/fuzz_rans_decoder.py -max_total_time=60``

Each input is interpreted by :func:`test_one_input` in one of two modes:

* raw: the input chooses a table set, the symbol count and a repeating
  index pattern; the remaining bytes are the stream;
* mutate: the input picks a valid stream encoded at import time and applies
  a few bit flips, byte overwrites and truncations to it.

``test_one_input`` does not need atheris, so ``tests/test_fuzz_smoke.py``
can keep it working in the ordinary test run.

Differential mode: with ``RANS_FUZZ_DIFFERENTIAL=emulator`` every input is
also decoded by the CUDA coder's code run on the host warp emulator (slow:
about a millisecond per input), with ``=cuda`` by the CUDA coder on a GPU,
and the outcome must be the CPU decoder's: the same symbols, or the same
error with the same message and offset.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from codec.entropy.cdf import gaussian_scale_tables, laplace_scale_tables, log_scale_grid
from codec.entropy.rans import CdfTables, decode, encode
from codec.errors import CorruptStreamError

MAX_SYMBOLS = 4096
MAX_PATTERN = 16
MODE_RAW, MODE_MUTATE = 0, 1
DIFFERENTIAL = os.environ.get("RANS_FUZZ_DIFFERENTIAL", "")  # "", "emulator" or "cuda"

# Two table sets so that precision and alphabet sizes vary.
TABLE_SETS: list[CdfTables] = [
    gaussian_scale_tables(log_scale_grid(0.1, 20.0, 8), precision=16),
    laplace_scale_tables(log_scale_grid(0.2, 50.0, 5), precision=12),
]


@dataclass(frozen=True)
class Seed:
    """A valid stream and what it decodes to."""

    table_set: int
    indexes: np.ndarray
    symbols: np.ndarray
    stream: bytes


def _pattern_indexes(pattern: bytes, count: int, num_tables: int) -> np.ndarray:
    """Index array of ``count`` entries repeating ``pattern`` modulo the table count."""
    if count == 0:
        return np.zeros(0, dtype=np.int32)
    return (np.resize(np.frombuffer(pattern, dtype=np.uint8), count) % num_tables).astype(np.int32)


def _make_seeds() -> list[Seed]:
    """Valid streams covering lane counts, substream splits and escapes."""
    rng = np.random.default_rng(0)
    seeds = []
    cases = [  # (table set, symbols, lanes, substream size)
        (0, 0, 4, 65536),
        (0, 1, 1, 65536),
        (0, 37, 4, 8),
        (0, 1000, 32, 128),
        (1, 300, 2, 64),
        (1, 2000, 4, 65536),
    ]
    for table_set, count, lanes, substream_size in cases:
        tables = TABLE_SETS[table_set]
        pattern = bytes(rng.integers(0, 256, MAX_PATTERN, dtype=np.uint8))
        indexes = _pattern_indexes(pattern, count, tables.num_tables)
        symbols = np.rint(rng.laplace(0.0, 4.0, count)).astype(np.int32)
        # Escapes, reaching the ends of the int32 range.
        symbols[: count // 50] = rng.integers(-(2**31), 2**31 - 1, count // 50)
        stream = encode(symbols, indexes, tables, lanes=lanes, substream_size=substream_size)
        seeds.append(Seed(table_set, indexes, symbols, stream))
    return seeds


SEEDS = _make_seeds()


class _Reader:
    """Consumes the fuzz input front to back; reads past the end yield zeros."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self, num_bytes: int) -> int:
        chunk = self.data[self.pos : self.pos + num_bytes]
        self.pos += num_bytes
        return int.from_bytes(chunk, "little")

    def take(self, num_bytes: int) -> bytes:
        chunk = self.data[self.pos : self.pos + num_bytes]
        self.pos += num_bytes
        return chunk

    def rest(self) -> bytes:
        return self.take(len(self.data))


def _mutate(stream: bytes, reader: _Reader) -> bytes:
    """Apply up to 7 flips, overwrites or truncations chosen by the input."""
    out = bytearray(stream)
    for _ in range(reader.uint(1) % 8):
        op, where, value = reader.uint(1) % 3, reader.uint(2), reader.uint(1)
        if op == 2:
            del out[where % (len(out) + 1) :]
        elif out and op == 1:
            out[where % len(out)] = value
        elif out:
            out[where % len(out)] ^= 1 << (value % 8)
    return bytes(out)


def raw_input(table_set: int, indexes_pattern: bytes, count: int, stream: bytes) -> bytes:
    """Build a raw-mode input (one thread, in-range indexes); used to write seed corpus files."""
    return (
        bytes([MODE_RAW, table_set, 0])
        + count.to_bytes(2, "little")
        + bytes([len(indexes_pattern) - 1])
        + indexes_pattern
        + stream
    )


def test_one_input(data: bytes) -> None:
    """Decode one fuzz input; raise AssertionError or let an unexpected error escape on a bug."""
    reader = _Reader(data)
    mode = reader.uint(1) % 2
    expected = None
    if mode == MODE_RAW:
        table_set = reader.uint(1) % len(TABLE_SETS)
        flags = reader.uint(1)
        threads = 1 + flags % 2
        count = reader.uint(2) % (MAX_SYMBOLS + 1)
        pattern = reader.take(1 + reader.uint(1) % MAX_PATTERN) or b"\0"
        if flags & 2:  # signed bytes as indexes: mostly out of range, must raise ValueError
            indexes = np.resize(np.frombuffer(pattern, dtype=np.int8), count).astype(np.int32)
        else:
            indexes = _pattern_indexes(pattern, count, TABLE_SETS[table_set].num_tables)
        stream = reader.rest()
    else:
        seed = SEEDS[reader.uint(1) % len(SEEDS)]
        table_set, indexes = seed.table_set, seed.indexes
        threads = 1 + reader.uint(1) % 2
        stream = _mutate(seed.stream, reader)
        if stream == seed.stream:
            expected = seed.symbols

    tables = TABLE_SETS[table_set]
    outcome = _outcome(lambda: decode(stream, indexes, tables, threads=threads))
    if DIFFERENTIAL:
        other = _outcome(lambda: _simt_decode(stream, indexes, tables, DIFFERENTIAL))
        assert other[:3] == outcome[:3], f"the {DIFFERENTIAL} SIMT decoder disagrees: {other[:2]} vs {outcome[:2]}"
    if outcome[0] != "ok":
        return
    out = outcome[3]
    assert isinstance(out, np.ndarray) and out.dtype == np.int32 and out.shape == indexes.shape
    if expected is not None:
        assert np.array_equal(out, expected), "valid stream decoded wrongly"


def _outcome(fn) -> tuple:
    """("ok", symbol bytes, None, symbols) or (error kind, message, offset, None); other errors escape."""
    try:
        out = fn()
    except CorruptStreamError as error:
        return "corrupt", str(error), error.offset, None
    except ValueError as error:
        return "value", str(error), None, None
    out = np.asarray(out)
    return "ok", out.tobytes(), None, out


def _simt_decode(stream: bytes, indexes: np.ndarray, tables: CdfTables, backend: str) -> np.ndarray:
    """The CUDA coder's decode: emulated on the host, or on a GPU."""
    if backend == "emulator":
        from codec.entropy import _rans

        # Alternate between the driver's paths for a payload in host and in device memory.
        out = _rans.simt_decode(tables._core, stream, indexes.ravel(), len(stream) % 2 == 1)
        return out.reshape(indexes.shape)
    if backend == "cuda":
        from codec.entropy import cuda

        return cuda.decode(stream, indexes, tables).to_numpy()
    raise ValueError(f"RANS_FUZZ_DIFFERENTIAL must be emulator or cuda, got {backend!r}")


def write_seed_corpus(folder: str) -> None:
    """Write the valid seed streams as raw-mode inputs, so libFuzzer mutates them directly."""
    os.makedirs(folder, exist_ok=True)
    for i, seed in enumerate(SEEDS):
        pattern = bytes(seed.indexes[:MAX_PATTERN].astype(np.uint8)) or b"\0"
        data = raw_input(seed.table_set, pattern, seed.symbols.size, seed.stream)
        with open(os.path.join(folder, f"seed-{i}"), "wb") as f:
            f.write(data)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-seed-corpus":
        write_seed_corpus(sys.argv[2])
        return
    import atheris

    # Python-level coverage only: the C++ decoder is not instrumented unless
    # the extension is built for it (see fuzz/README.md).
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
