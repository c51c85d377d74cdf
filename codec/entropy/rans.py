"""Python API of the rANS entropy coder whose core is C++ (``csrc/rans``).

Each int32 symbol is coded with the table named by its index. Values inside
a table's range cost their modelled probability; any other int32 value is
still coded exactly, through the table's escape symbol followed by 4-bit
bypass groups, so no input can make encoding fail.

The payload is self-delimiting and versioned (see ``bitstream/SPEC.md``). It
is split into independent substreams, which is what lets ``threads`` speed
coding up while leaving the bytes unchanged.

:mod:`codec.entropy.cuda` codes the same payloads on a CUDA GPU, byte for
byte; :func:`cuda_available` says whether this installation and machine can.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from codec.entropy import _rans

MIN_PRECISION = 10
MAX_PRECISION = 16
MAX_LANES = 32
# More threads than this never helps and would only cost thread start-up.
_MAX_THREADS = 256
_INT32 = np.iinfo(np.int32)
_ESCAPE_GROUP_BITS = 4
_MAX_ESCAPE_GROUPS = 9


def _as_int32(name: str, values: ArrayLike) -> np.ndarray:
    """Convert to a C-contiguous int32 array, refusing values that would wrap."""
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int32)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype != np.int32 and (arr.min() < _INT32.min or arr.max() > _INT32.max):
        raise ValueError(f"{name} has values outside the int32 range")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _as_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _threads(threads: object) -> int:
    """Thread count as the core takes it: values below 1 mean 1."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise ValueError(f"threads must be an integer, got {threads!r}")
    return max(1, min(int(threads), _MAX_THREADS))


class CdfTables:
    """Validated quantized CDF tables, shared by the encoder and the decoder.

    ``cdfs`` is int [T, Lmax]; row t uses its first ``cdf_lengths[t]`` entries:
    0 = cdf[0] < cdf[1] < ... < cdf[len-1] = 2**precision. Symbol i of table
    t (i < len-2) codes the value ``offsets[t] + i``; the last interval is the
    escape symbol used for every other value. Invalid tables raise ValueError
    naming the table, at construction rather than mid-stream.
    """

    def __init__(self, cdfs: ArrayLike, cdf_lengths: ArrayLike, offsets: ArrayLike,
                 precision: int = 16) -> None:
        precision = _as_int("precision", precision, MIN_PRECISION, MAX_PRECISION)
        self._cdfs = _as_int32("cdfs", cdfs)
        self._lengths = _as_int32("cdf_lengths", cdf_lengths)
        self._offsets = _as_int32("offsets", offsets)
        self._core = _rans.Tables(self._cdfs, self._lengths, self._offsets, precision)

    @property
    def num_tables(self) -> int:
        return self._core.num_tables

    @property
    def precision(self) -> int:
        return self._core.precision

    def information_bits(self, symbols: ArrayLike, indexes: ArrayLike) -> float:
        """Ideal code length in bits of ``symbols`` under these tables.

        Counts -log2(freq / 2**precision) per symbol (the escape symbol's for
        out-of-range values) plus 4 bits per bypass group and group count,
        i.e. exactly what the coder spends before its small fixed overhead.
        Used to check and benchmark the coder's efficiency.
        """
        values, idx = _symbols_and_indexes(symbols, indexes)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_tables):
            raise ValueError(f"table indexes must be in [0, {self.num_tables})")
        s = values.astype(np.int64) - self._offsets[idx]
        num_regular = self._lengths[idx].astype(np.int64) - 2
        regular = (s >= 0) & (s < num_regular)
        column = np.where(regular, s, num_regular)
        freq = self._cdfs[idx, column + 1].astype(np.int64) - self._cdfs[idx, column]
        bits = float(self.precision * values.size - np.log2(freq).sum())

        s_esc, n_esc = s[~regular], num_regular[~regular]
        word = np.where(s_esc >= n_esc, 2 * (s_esc - n_esc), -2 * s_esc - 1)
        groups = np.ones_like(word)
        for g in range(1, _MAX_ESCAPE_GROUPS):
            groups += (word >> (_ESCAPE_GROUP_BITS * g)) != 0
        return bits + float(_ESCAPE_GROUP_BITS * (groups + 1).sum())


def _symbols_and_indexes(symbols: ArrayLike, indexes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Flattened int32 symbols and indexes; index ranges are checked by the core."""
    values = _as_int32("symbols", symbols)
    idx = _as_int32("indexes", indexes)
    if values.shape != idx.shape:
        raise ValueError(f"symbols shape {values.shape} differs from indexes shape {idx.shape}")
    return values.ravel(), idx.ravel()


def _check_tables(tables: object) -> CdfTables:
    if not isinstance(tables, CdfTables):
        raise TypeError(f"tables must be CdfTables, got {type(tables).__name__}")
    return tables


def encode(symbols: ArrayLike, indexes: ArrayLike, tables: CdfTables, *, lanes: int = 4,
           substream_size: int = 65536, threads: int = 1) -> bytes:
    """Encode int32 ``symbols``, each with the table ``indexes`` names.

    ``symbols`` and ``indexes`` must have the same shape (coded in C order).
    ``lanes`` (1..32) interleaved states per substream trade a few bytes
    for decoder speed; ``substream_size`` symbols per substream bound the
    parallelism and the memory per thread. The bytes depend on both, never
    on ``threads``. Each substream costs its ``4 * lanes`` bytes of final
    states and a length: for a GPU decoder, which runs all substreams at
    once, about ``cuda.GPU_SUBSTREAM_SIZE`` (4096) keeps it busy on one
    image for about 1% more bytes than the default.
    """
    tables = _check_tables(tables)
    lanes = _as_int("lanes", lanes, 1, MAX_LANES)
    substream_size = _as_int("substream_size", substream_size, 1, 2**64 - 1)
    values, idx = _symbols_and_indexes(symbols, indexes)
    return _rans.encode(tables._core, values, idx, lanes, substream_size, _threads(threads))


def decode(data: bytes, indexes: ArrayLike, tables: CdfTables, *, threads: int = 1) -> np.ndarray:
    """Decode a payload of :func:`encode` into an int32 array shaped like ``indexes``.

    ``data`` is any contiguous bytes-like object. Raises
    :class:`codec.errors.CorruptStreamError` (with ``offset`` into ``data``)
    for a payload that is truncated, altered or inconsistent with
    ``indexes`` and ``tables``; the lane states must end exactly where the
    encoder started them, which catches most alterations.
    """
    tables = _check_tables(tables)
    idx = _as_int32("indexes", indexes)
    out = _rans.decode(tables._core, data, idx.ravel(), _threads(threads))
    return out.reshape(idx.shape)


class CudaAvailability(NamedTuple):
    """Whether the CUDA coder (:mod:`codec.entropy.cuda`) can run here.

    True as a whole only when both parts are; ``detail`` names the devices,
    or says why not. ``_asdict()`` gives a JSON-ready dict.
    """

    compiled: bool  # this installation was built with the CUDA coder
    device: bool  # and a CUDA device is usable now
    detail: str

    def __bool__(self) -> bool:
        return self.compiled and self.device


def cuda_available() -> CudaAvailability:
    """Whether this installation has the CUDA coder, and whether a device is usable.

    Cheap and safe anywhere: on a machine without a GPU, a driver or a CUDA
    build it returns ``(compiled, False, reason)`` instead of failing.
    :func:`codec.entropy.cuda.info` has the details (device names, versions).
    """
    from codec.entropy import cuda

    info = cuda.info()
    detail = ", ".join(info["devices"]) if info["devices"] else info["reason"]
    return CudaAvailability(info["compiled"], bool(info["devices"]), detail)

