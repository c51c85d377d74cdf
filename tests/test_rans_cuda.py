"""The CUDA rANS coder writes and reads the CPU coder's exact bytes.

Three layers:

* the SIMT coder (the CUDA coder's kernels and host driver, compiled for the
  host and run by a warp emulator inside ``codec.entropy._rans``) against the
  CPU coder: bytes, symbols, and every error with its offset. These run
  everywhere, so CI checks the GPU algorithm without a GPU;
* the build: where nvcc exists, the CUDA extension was built, and loading it
  on a machine without a driver or device reports that instead of failing;
* the Python layer (``codec.entropy.cuda``): its checks run against a
  stand-in for the extension (host memory, the emulated coder) everywhere,
  and on the real device (marked ``gpu``, skipped without one) on inputs
  spanning many substreams: identity with the CPU coder, device-resident
  payloads, ``out=`` buffers, errors, and PyTorch interop where it has CUDA.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from codec.entropy import _rans, cuda
from codec.entropy.cdf import gaussian_pmf, log_scale_grid, table_arrays
from codec.entropy.rans import CdfTables, cuda_available, decode, encode
from codec.errors import CorruptStreamError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

emulator = pytest.mark.skipif(not _rans.simt_emulator, reason="no SIMT emulator on this platform")
needs_device = pytest.mark.skipif(not cuda.available(), reason="no usable CUDA device")


def gaussian_tables(precision: int = 16, num: int = 24) -> CdfTables:
    grid = log_scale_grid(0.1, 30.0, num)
    return CdfTables(*table_arrays([gaussian_pmf(float(s)) for s in grid], precision), precision)


def latents(n: int, tables: CdfTables, seed: int, escapes: int = 97) -> tuple[np.ndarray, np.ndarray]:
    """Latent-like symbols, an escape every ``escapes`` symbols, and the int32 extremes."""
    rng = np.random.default_rng(seed)
    indexes = rng.integers(0, tables.num_tables, n).astype(np.int32)
    scales = np.exp(np.linspace(np.log(0.1), np.log(30.0), tables.num_tables))
    symbols = np.rint(rng.normal(0.0, scales[indexes])).astype(np.int32)
    if escapes and n:
        symbols[::escapes] = rng.integers(INT32_MIN, INT32_MAX, len(symbols[::escapes]), endpoint=True)
        symbols[n // 2] = INT32_MIN
        symbols[-1] = INT32_MAX
    return symbols, indexes


def wide_tables() -> CdfTables:
    """One table of 1001 symbols: 16-bit decoder buckets."""
    total = 1 << 16
    freq = np.full(1002, (total - 1000) // 1001, np.int64)
    freq[-1] = 1
    freq[0] += total - freq.sum()
    cdf = np.concatenate([[0], np.cumsum(freq)]).astype(np.int32)
    return CdfTables(cdf[None, :], [len(cdf)], [-500])


def error_of(fn) -> tuple[type, str, int | None]:
    try:
        fn()
    except CorruptStreamError as e:
        return type(e), str(e), e.offset
    except ValueError as e:
        return type(e), str(e), None
    return type(None), "", None


# --- the SIMT coder, emulated on the host ----------------------------------------------


@emulator
@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 5, 8, 16, 31, 32])
def test_emulated_bytes_and_symbols_match_the_cpu_coder(lanes):
    tables = gaussian_tables()
    symbols, indexes = latents(6000, tables, seed=lanes)
    for substream_size in (1 if lanes <= 2 else 7, 250, 1999):  # up to 6000 substreams
        data = encode(symbols, indexes, tables, lanes=lanes, substream_size=substream_size)
        assert _rans.simt_encode(tables._core, symbols, indexes, lanes, substream_size) == data
        for on_device in (False, True):
            np.testing.assert_array_equal(_rans.simt_decode(tables._core, data, indexes, on_device), symbols)


@emulator
@pytest.mark.parametrize("precision", [10, 12, 16])
def test_emulated_coder_at_every_table_kind(precision):
    tables = gaussian_tables(precision)
    symbols, indexes = latents(5000, tables, seed=precision, escapes=31)
    data = encode(symbols, indexes, tables, lanes=4, substream_size=300)
    assert _rans.simt_encode(tables._core, symbols, indexes, 4, 300) == data
    np.testing.assert_array_equal(_rans.simt_decode(tables._core, data, indexes), symbols)

    wide = wide_tables()
    values = np.random.default_rng(1).integers(-700, 700, 4000).astype(np.int32)
    zeros = np.zeros_like(values)
    data = encode(values, zeros, wide, lanes=8, substream_size=500)
    assert _rans.simt_encode(wide._core, values, zeros, 8, 500) == data
    np.testing.assert_array_equal(_rans.simt_decode(wide._core, data, zeros), values)


@emulator
def test_emulated_coder_edge_sizes():
    tables = gaussian_tables()
    for n, lanes, size in ((0, 4, 65536), (1, 1, 1), (1, 32, 65536), (33, 32, 32), (100, 3, 2**40)):
        symbols, indexes = latents(n, tables, seed=n, escapes=5)
        data = encode(symbols, indexes, tables, lanes=lanes, substream_size=size)
        assert _rans.simt_encode(tables._core, symbols, indexes, lanes, size) == data
        np.testing.assert_array_equal(_rans.simt_decode(tables._core, data, indexes), symbols)


@emulator
def test_emulated_coder_when_every_value_escapes():
    # Words far beyond one per symbol: the encoder's second pass, with room for the worst case.
    tables = gaussian_tables()
    rng = np.random.default_rng(5)
    symbols = rng.integers(INT32_MIN, INT32_MAX, 3000, endpoint=True).astype(np.int32)
    indexes = rng.integers(0, tables.num_tables, 3000).astype(np.int32)
    data = encode(symbols, indexes, tables, lanes=4, substream_size=64)
    assert _rans.simt_encode(tables._core, symbols, indexes, 4, 64) == data
    np.testing.assert_array_equal(_rans.simt_decode(tables._core, data, indexes), symbols)


@emulator
def test_emulated_errors_and_offsets_match_the_cpu_decoder():
    tables = gaussian_tables()
    symbols, indexes = latents(1500, tables, seed=11, escapes=13)
    data = encode(symbols, indexes, tables, lanes=4, substream_size=200)
    rng = np.random.default_rng(12)
    damaged = [data[:cut] for cut in range(0, len(data), 37)] + [data + b"\0\0"]
    for _ in range(150):
        d = bytearray(data)
        for at in rng.integers(0, len(d), rng.integers(1, 3)):
            d[at] ^= int(rng.integers(1, 256))
        damaged.append(bytes(d))
    kinds = set()
    for d in damaged:
        cpu = error_of(lambda: decode(d, indexes, tables))
        for on_device in (False, True):
            assert error_of(lambda: _rans.simt_decode(tables._core, d, indexes, on_device)) == cpu
        kinds.add(cpu[1].split(" (")[0])
    assert len(kinds) >= 5  # several kinds of damage were met

    bad = indexes.copy()
    bad[[700, 900]] = tables.num_tables  # an index error wins over damage, as on the CPU
    for d in (data, damaged[-1]):
        expected = error_of(lambda: decode(d, bad, tables))
        assert expected[0] is ValueError and "position 700" in expected[1]
        assert error_of(lambda: _rans.simt_decode(tables._core, d, bad)) == expected
    assert error_of(lambda: _rans.simt_encode(tables._core, symbols, bad, 4, 200)) == \
        error_of(lambda: encode(symbols, bad, tables, lanes=4, substream_size=200))


@emulator
def test_emulated_coder_matches_on_random_problems():
    rng = np.random.default_rng(2024)
    for trial in range(12):
        precision = int(rng.integers(10, 17))
        rows, offsets = [], []
        for _ in range(int(rng.integers(1, 4))):
            size = int(rng.integers(1, 300))
            w = rng.random(size) ** 4 + 1e-9
            total = 1 << precision
            freq = np.floor(w / w.sum() * (total - size)).astype(np.int64) + 1
            freq[np.argmax(freq)] += total - freq.sum()
            rows.append(np.concatenate([[0], np.cumsum(freq)]))
            offsets.append(int(rng.integers(-1000, 1000)))
        cdfs = np.zeros((len(rows), max(map(len, rows))), np.int32)
        for t, row in enumerate(rows):
            cdfs[t, : len(row)] = row
        tables = CdfTables(cdfs, [len(r) for r in rows], offsets, precision)
        n = int(rng.integers(0, 2500))
        indexes = rng.integers(0, len(rows), n).astype(np.int32)
        values = (np.array(offsets)[indexes] + rng.integers(-20, 320, n)).astype(np.int32)
        lanes, size = int(rng.integers(1, 33)), int(rng.integers(1, 400))
        data = encode(values, indexes, tables, lanes=lanes, substream_size=size)
        assert _rans.simt_encode(tables._core, values, indexes, lanes, size) == data, trial
        np.testing.assert_array_equal(_rans.simt_decode(tables._core, data, indexes), values)


@emulator
def test_fuzz_target_in_differential_mode():
    """The fuzz target's emulator mode: hostile inputs give the CPU decoder's outcome."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "fuzz" / "fuzz_rans_decoder.py"
    spec = importlib.util.spec_from_file_location("fuzz_rans_decoder_differential", path)
    target = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = target
    try:
        spec.loader.exec_module(target)
        target.DIFFERENTIAL = "emulator"
        rng = np.random.default_rng(7)
        for i in range(300):
            if i % 3:
                ops = rng.integers(0, 256, 1 + 4 * int(rng.integers(0, 4)), dtype=np.uint8).tobytes()
                target.test_one_input(bytes([target.MODE_MUTATE, i % len(target.SEEDS), 0]) + ops)
            else:
                target.test_one_input(bytes([target.MODE_RAW]) + rng.integers(0, 256, int(rng.integers(1, 300)),
                                                                             dtype=np.uint8).tobytes())
    finally:
        del sys.modules[spec.name]


# --- the build ---------------------------------------------------------------------------


def test_cuda_build_follows_its_option():
    """Compile-only check: with nvcc at hand, AUTO (the default) and ON build the CUDA coder."""
    build = _rans.build_info
    if build["cuda_built"]:
        assert cuda.compiled(), "the build made the CUDA coder but it cannot be loaded"
    elif build["cuda_option"] != "OFF" and os.environ.get("CODEC_WITH_CUDA", "AUTO").upper() != "OFF" \
            and shutil.which("nvcc"):
        pytest.fail(f"nvcc is on PATH but the CUDA coder was not built: {build['cuda_note']} "
                    "(reinstall, or build with CODEC_WITH_CUDA=OFF to mean it)")
    else:
        assert not cuda.compiled()


def test_availability_is_reported_without_failing():
    status = cuda_available()
    info = cuda.info()
    assert status.compiled == info["compiled"] == cuda.compiled()
    assert status.device == bool(info["devices"]) == cuda.available()
    assert bool(status) == (status.compiled and status.device)
    assert status.detail
    if not status:
        assert info["reason"]
        tables = gaussian_tables()
        with pytest.raises(RuntimeError, match="CUDA rANS coder"):
            cuda.encode(np.zeros(4, np.int32), np.zeros(4, np.int32), tables)


# --- the Python layer (codec.entropy.cuda) ------------------------------------------------
# The checks below run on a CUDA device (marked gpu), and without one against a
# stand-in for the extension that keeps "device" memory on the host and codes
# with the emulated SIMT coder: that tests codec/entropy/cuda.py everywhere.


def check_bytes_and_symbols(n: int, lanes: int, substream_size: int) -> None:
    tables = gaussian_tables()
    symbols, indexes = latents(n, tables, seed=lanes, escapes=1009)
    data = encode(symbols, indexes, tables, lanes=lanes, substream_size=substream_size, threads=2)
    assert cuda.encode(symbols, indexes, tables, lanes=lanes, substream_size=substream_size) == data
    np.testing.assert_array_equal(cuda.decode(data, indexes, tables).to_numpy(), symbols)


def check_device_resident_round_trip(n: int) -> None:
    tables = gaussian_tables(12)
    symbols, indexes = latents(n, tables, seed=3, escapes=101)
    rows = 4
    d_symbols, d_indexes = cuda.to_device(symbols), cuda.to_device(indexes.reshape(rows, -1))
    payload = cuda.encode(d_symbols, cuda.to_device(indexes), tables, substream_size=777, output="device")
    assert payload.to_bytes() == encode(symbols, indexes, tables, substream_size=777)
    decoded = cuda.decode(payload, d_indexes, tables)
    assert decoded.shape == (rows, n // rows) and decoded.dtype == "int32"
    np.testing.assert_array_equal(decoded.to_numpy().ravel(), symbols)
    out = cuda.empty(symbols.size)
    assert cuda.decode(payload.to_bytes(), d_indexes, tables, out=out) is out
    np.testing.assert_array_equal(out.to_numpy(), symbols)
    with pytest.raises(ValueError, match="out holds"):
        cuda.decode(payload, d_indexes, tables, out=cuda.empty(3))
    with pytest.raises(ValueError, match="int32"):
        cuda.decode(payload, payload, tables)
    with pytest.raises(ValueError, match="shape"):
        cuda.encode(d_symbols, cuda.to_device(indexes[:-1]), tables)


def check_wide_tables_and_edge_sizes(n: int) -> None:
    wide = wide_tables()
    values = np.random.default_rng(1).integers(-700, 700, n).astype(np.int32)
    zeros = np.zeros_like(values)
    data = encode(values, zeros, wide, lanes=8, substream_size=n // 40 + 1)
    assert cuda.encode(values, zeros, wide, lanes=8, substream_size=n // 40 + 1) == data
    np.testing.assert_array_equal(cuda.decode(data, zeros, wide).to_numpy(), values)
    tables = gaussian_tables()
    for n, lanes, size in ((0, 4, 65536), (1, 1, 1), (33, 32, 32), (500, 4, 1)):
        symbols, indexes = latents(n, tables, seed=n, escapes=5)
        data = encode(symbols, indexes, tables, lanes=lanes, substream_size=size)
        assert cuda.encode(symbols, indexes, tables, lanes=lanes, substream_size=size) == data
        np.testing.assert_array_equal(cuda.decode(data, indexes, tables).to_numpy(), symbols)


def check_errors_and_offsets(n: int, trials: int) -> None:
    tables = gaussian_tables()
    symbols, indexes = latents(n, tables, seed=11, escapes=13)
    data = encode(symbols, indexes, tables, lanes=4, substream_size=n // 30 + 1)
    rng = np.random.default_rng(12)
    damaged = [data[:cut] for cut in range(0, len(data), len(data) // 20 + 1)]
    for _ in range(trials):
        d = bytearray(data)
        d[int(rng.integers(0, len(d)))] ^= int(rng.integers(1, 256))
        damaged.append(bytes(d))
    for d in damaged:
        cpu = error_of(lambda: decode(d, indexes, tables))
        assert error_of(lambda: cuda.decode(d, indexes, tables)) == cpu
        assert error_of(lambda: cuda.decode(cuda.to_device(d), indexes, tables)) == cpu
    bad = indexes.copy()
    bad[n // 3] = -1
    assert error_of(lambda: cuda.decode(data, bad, tables)) == error_of(lambda: decode(data, bad, tables))
    assert error_of(lambda: cuda.encode(symbols, bad, tables)) == error_of(lambda: encode(symbols, bad, tables))


class _FakeDeviceArray:
    """Host memory posing as device memory (the CUDA array interface of a numpy array)."""

    def __init__(self, host: np.ndarray) -> None:
        self.host = np.ascontiguousarray(host)
        self.ptr, self.shape, self.device = self.host.ctypes.data, self.host.shape, 0
        self.dtype = "int32" if self.host.dtype == np.int32 else "uint8"
        _FakeExtension.memory[self.ptr] = self.host

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.host.dtype.str, "data": (self.ptr, False),
                "strides": None, "stream": 1234, "version": 3}

    def to_numpy(self) -> np.ndarray:
        return self.host.copy()

    def to_bytes(self) -> bytes:
        return self.host.tobytes()


class _FakeExtension:
    """codec.entropy._rans_cuda's interface over host memory and the emulated SIMT coder."""

    memory: dict[int, np.ndarray] = {}
    waited: list[int] = []

    class Tables:
        def __init__(self, cdfs, lengths, offsets, precision, device):
            self.core = CdfTables(cdfs, lengths, offsets, precision)._core

    @staticmethod
    def status() -> dict:
        return {"devices": 1, "error": "", "runtime_version": 13000, "driver_version": 13000}

    @staticmethod
    def device_name(device: int) -> str:
        return "SIMT emulator"

    @classmethod
    def view(cls, ptr: int, count: int, dtype) -> np.ndarray:
        for base, host in cls.memory.items():
            if base <= ptr and ptr + count * np.dtype(dtype).itemsize <= base + host.nbytes:
                return np.frombuffer(host.data, dtype=dtype, count=count, offset=ptr - base)
        raise AssertionError("a pointer into memory the fake device does not own")

    @classmethod
    def pointer_device(cls, ptr: int) -> int:
        return 0 if any(b <= ptr < b + h.nbytes for b, h in cls.memory.items()) else -1

    @classmethod
    def wait_for_stream(cls, stream: int, device: int) -> None:
        cls.waited.append(stream)

    @staticmethod
    def empty(shape, dtype, device):
        return _FakeDeviceArray(np.zeros(shape, dtype))

    @staticmethod
    def from_host(host, device):
        return _FakeDeviceArray(host.copy())

    @classmethod
    def encode(cls, tables, values, indexes, count, lanes, substream_size):
        v, i = cls.view(values, count, np.int32), cls.view(indexes, count, np.int32)
        return _FakeDeviceArray(np.frombuffer(_rans.simt_encode(tables.core, v, i, lanes, substream_size), np.uint8))

    @classmethod
    def decode(cls, tables, data, data_ptr, data_size, indexes, count, out):
        payload = data if data is not None else cls.view(data_ptr, data_size, np.uint8).tobytes()
        decoded = _rans.simt_decode(tables.core, payload, cls.view(indexes, count, np.int32), data is None)
        cls.view(out, count, np.int32)[:] = decoded


@pytest.fixture
def fake_device(monkeypatch):
    monkeypatch.setattr(cuda, "_extension", _FakeExtension)
    monkeypatch.setattr(cuda, "_load_error", None)
    _FakeExtension.memory.clear()
    _FakeExtension.waited.clear()
    yield _FakeExtension
    _FakeExtension.memory.clear()


@emulator
def test_python_layer_on_a_stand_in_device(fake_device):
    assert cuda.available() and cuda.info()["devices"] == ["SIMT emulator"]
    check_bytes_and_symbols(3000, 4, 256)
    check_bytes_and_symbols(2000, 32, 300)
    check_device_resident_round_trip(2000)
    check_wide_tables_and_edge_sizes(2000)
    check_errors_and_offsets(1500, 20)
    assert 1234 in fake_device.waited  # producers' streams are waited for


# --- on a CUDA device ----------------------------------------------------------------------


@pytest.mark.gpu
@needs_device
@pytest.mark.parametrize("lanes, substream_size", [(4, 4096), (1, 1000), (8, 4096), (32, 2048), (3, 65536)])
def test_gpu_bytes_and_symbols_match_the_cpu_coder(lanes, substream_size):
    check_bytes_and_symbols(1_000_003, lanes, substream_size)


@pytest.mark.gpu
@needs_device
def test_gpu_device_resident_round_trip_and_out_buffer():
    check_device_resident_round_trip(300_000)


@pytest.mark.gpu
@needs_device
def test_gpu_wide_tables_and_edge_sizes():
    check_wide_tables_and_edge_sizes(200_000)


@pytest.mark.gpu
@needs_device
def test_gpu_errors_and_offsets_match_the_cpu_decoder():
    check_errors_and_offsets(20_000, 200)


@pytest.mark.gpu
@needs_device
def test_gpu_takes_and_gives_torch_tensors():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA here")
    tables = gaussian_tables()
    symbols, indexes = latents(100_000, tables, seed=21)
    t_symbols = torch.from_numpy(symbols).cuda()
    t_indexes = torch.from_numpy(indexes).cuda()
    data = cuda.encode(t_symbols, t_indexes, tables, substream_size=1024)
    assert data == encode(symbols, indexes, tables, substream_size=1024)
    decoded = torch.from_dlpack(cuda.decode(data, t_indexes, tables))
    assert decoded.dtype == torch.int32 and decoded.is_cuda
    assert torch.equal(decoded, t_symbols)
    out = torch.empty_like(t_indexes)
    cuda.decode(data, t_indexes, tables, out=out)
    assert torch.equal(out, t_symbols)
    assert torch.equal(torch.as_tensor(cuda.decode(data, t_indexes, tables), device="cuda"), t_symbols)
    # DLPack in: a producer without the CUDA array interface.
    class DlpackOnly:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, **kwargs):
            return self.t.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    assert cuda.encode(DlpackOnly(t_symbols), DlpackOnly(t_indexes), tables, substream_size=1024) == data
    np.testing.assert_array_equal(cuda.decode(data, DlpackOnly(t_indexes), tables).to_numpy(), symbols)
