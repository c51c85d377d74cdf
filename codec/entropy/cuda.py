"""The rANS coder on a CUDA GPU: the payloads of :mod:`codec.entropy.rans`, byte for byte.

The CUDA coder (``csrc/rans/cuda``) codes the same block, substream and lane
layout as the CPU coder (``bitstream/SPEC.md`` section 5), so
``encode(...)`` here returns exactly the bytes of ``rans.encode(...)`` with
the same ``lanes`` and ``substream_size``, and either coder decodes what the
other wrote. The GPU runs every lane of every substream at once (one thread
per lane), so its speed on one block grows with the number of substreams:
encode for the GPU with a smaller ``substream_size`` (see
:data:`GPU_SUBSTREAM_SIZE`).

Symbols and table indexes live in device memory. Inputs may be any int32
C-contiguous array exposing the CUDA array interface (PyTorch CUDA tensors,
CuPy, Numba) or DLPack (``__dlpack__``), or a ``DeviceArray`` of this
module; numpy arrays are copied to the device first. Decoded symbols come
back as a ``DeviceArray`` (the extension's device buffer, int32 or uint8,
with ``shape``, ``ptr``, ``device``, ``to_numpy()`` and ``to_bytes()``), which
those libraries adopt without a copy
(``torch.as_tensor(out, device="cuda")``, ``torch.from_dlpack(out)``,
``cupy.asarray(out)``), or pass ``out=`` to decode into your own buffer.
Calls return once their GPU work is complete.

The extension (``codec.entropy._rans_cuda``, CUDA runtime linked
statically) is loaded on first use only, so importing this module never
fails: :func:`info` and :func:`available` say whether it was built and a
device is present.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from codec.entropy.rans import MAX_LANES, CdfTables, _as_int, _as_int32, _check_tables

# Symbols per substream for payloads that a GPU decodes: an image-sized
# block (about 1 M symbols) becomes 245 substreams, about 1000 GPU threads
# with the default 4 lanes, for about 1% more bytes than the CPU default of
# 65536 at 2-3 bits per symbol (each substream adds its 4 L bytes of lane
# states and a length varint; benchmarks/README.md has the table). Filling a
# whole GPU (~100 k threads) from one image would cost about as many bytes
# as the image itself: a large GPU is filled by coding many blocks at once
# (a batched call, not offered yet), not by smaller substreams.
GPU_SUBSTREAM_SIZE = 4096

_DL_CPU, _DL_CUDA, _DL_CUDA_MANAGED = 1, 2, 13
_LEGACY_STREAM = 1  # the DLPack / CUDA array interface code of the legacy default stream
_TYPESTRS = {4: ("<i4",), 1: ("|u1", "<u1")}  # int32 symbols and indexes, uint8 payloads

_extension: ModuleType | None = None
_load_error: str | None = None


def _load() -> ModuleType | None:
    """The extension module, or None (with the reason kept) when it cannot be loaded."""
    global _extension, _load_error
    if _extension is None and _load_error is None:
        try:
            _extension = importlib.import_module("codec.entropy._rans_cuda")
        except ImportError as error:
            from codec.entropy import _rans

            note = _rans.build_info.get("cuda_note", "")
            _load_error = f"not built ({note})" if note else f"cannot be loaded: {error}"
    return _extension


def compiled() -> bool:
    """True when this installation includes the CUDA coder."""
    return _load() is not None


def device_count() -> int:
    """Usable CUDA devices (0 without the CUDA coder, a driver or a device)."""
    ext = _load()
    return 0 if ext is None else int(ext.status()["devices"])


def available() -> bool:
    """True when the CUDA coder is built and at least one device is usable now."""
    return device_count() > 0


def info() -> dict[str, Any]:
    """What the CUDA coder can do here, JSON-ready (for ``codec info``, bug reports).

    Keys: ``compiled`` (bool), ``devices`` (list of device names), ``runtime``
    (CUDA runtime version built in, e.g. ``"13.0"``, or None), ``driver``
    (the driver's CUDA version, or None), ``reason`` (why it is not usable,
    empty when it is), and ``build`` (how the build decided).
    """
    from codec.entropy import _rans

    build = dict(_rans.build_info)
    ext = _load()
    if ext is None:
        return {"compiled": False, "devices": [], "runtime": None, "driver": None,
                "reason": f"CUDA coder {_load_error}", "build": build}
    status = ext.status()
    names = [ext.device_name(d) for d in range(status["devices"])]
    return {
        "compiled": True,
        "devices": names,
        "runtime": _version(status["runtime_version"]),
        "driver": _version(status["driver_version"]),
        "reason": "" if names else f"no usable CUDA device: {status['error']}",
        "build": build,
    }


def _version(code: int) -> str | None:
    return f"{code // 1000}.{code % 1000 // 10}" if code else None


def _require() -> ModuleType:
    ext = _load()
    if ext is None:
        raise RuntimeError(f"the CUDA rANS coder is {_load_error}")
    status = ext.status()
    if status["devices"] == 0:
        raise RuntimeError(f"the CUDA rANS coder has no usable device: {status['error']}")
    return ext


# --- device views of caller arrays ----------------------------------------------


@dataclass
class _View:
    """A C-contiguous array in device memory, and what keeps it alive."""

    ptr: int
    shape: tuple[int, ...]
    device: int
    keep: Any

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _contiguous(shape: tuple[int, ...], strides: tuple[int, ...] | None, itemsize: int) -> bool:
    """C-contiguous strides, in bytes (``itemsize``) or elements (``itemsize=1``)."""
    if strides is None:
        return True
    expected = itemsize
    for dim, stride in zip(reversed(shape), reversed(strides)):
        if dim != 1 and stride != expected:
            return False
        expected *= dim
    return True


def _device_view(ext: ModuleType, obj: Any, name: str, itemsize: int, device: int) -> _View:
    """View ``obj`` (int32 when itemsize is 4, uint8 when 1) in device memory, copying host arrays over."""
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        shape = tuple(int(d) for d in cai["shape"])
        if cai["typestr"] not in _TYPESTRS[itemsize] or cai.get("mask") is not None:
            raise ValueError(f"{name} must be a {'int32' if itemsize == 4 else 'uint8'} array, "
                             f"got typestr {cai['typestr']!r}")
        if not _contiguous(shape, cai.get("strides"), itemsize):
            raise ValueError(f"{name} must be C-contiguous")
        ptr = int(cai["data"][0])
        owner = ext.pointer_device(ptr) if math.prod(shape) else device
        if owner < 0:
            raise ValueError(f"{name} is not in CUDA device memory")
        stream = cai.get("stream")
        if stream is not None:
            ext.wait_for_stream(int(stream), owner)
        return _View(ptr, shape, owner, obj)
    if hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__"):
        kind, ordinal = obj.__dlpack_device__()
        if int(kind) in (_DL_CUDA, _DL_CUDA_MANAGED):
            try:
                capsule = obj.__dlpack__(stream=_LEGACY_STREAM)
            except TypeError:
                capsule = obj.__dlpack__()
            t = ext.dlpack_view(capsule)
            wanted = (0, 32) if itemsize == 4 else (1, 8)
            if (t["code"], t["bits"], t["lanes"]) != (*wanted, 1):
                raise ValueError(f"{name} must be a {'int32' if itemsize == 4 else 'uint8'} array")
            if not _contiguous(t["shape"], t["strides"], 1):
                raise ValueError(f"{name} must be C-contiguous")
            return _View(t["ptr"], tuple(t["shape"]), int(ordinal), capsule)
        if int(kind) != _DL_CPU:
            raise ValueError(f"{name} is on an unsupported device (DLPack device type {kind})")
    # Host memory: copy it over.
    if itemsize == 4:
        host = np.ascontiguousarray(_as_int32(name, obj))
    else:
        host = np.frombuffer(memoryview(obj).cast("B"), dtype=np.uint8)
    arr = ext.from_host(host, device)
    return _View(arr.ptr, tuple(host.shape), device, arr)


def _home_device(ext: ModuleType, objects: list[Any], device: int | None) -> int:
    """The device of the first device-resident input, else ``device`` (default 0)."""
    for obj in objects:
        cai = getattr(obj, "__cuda_array_interface__", None)
        if cai is not None and math.prod(cai["shape"]):
            owner = ext.pointer_device(int(cai["data"][0]))
            if owner >= 0:
                return owner
        elif hasattr(obj, "__dlpack_device__"):
            kind, ordinal = obj.__dlpack_device__()
            if int(kind) in (_DL_CUDA, _DL_CUDA_MANAGED):
                return int(ordinal)
    return 0 if device is None else int(device)


def _device_tables(ext: ModuleType, tables: CdfTables, device: int) -> Any:
    """The tables copied to ``device``, once per CdfTables and device."""
    cache = tables.__dict__.setdefault("_cuda_tables", {})
    if device not in cache:
        cache[device] = ext.Tables(tables._cdfs, tables._lengths, tables._offsets, tables.precision, device)
    return cache[device]


# --- public API -------------------------------------------------------------------


def to_device(array: ArrayLike, *, device: int | None = None) -> Any:
    """Copy a host array (int32, or uint8 / bytes for payloads) into a new DeviceArray."""
    ext = _require()
    if isinstance(array, (bytes, bytearray, memoryview)):
        host = np.frombuffer(memoryview(array).cast("B"), dtype=np.uint8)
    else:
        host = np.asarray(array)
        host = host if host.dtype == np.uint8 else _as_int32("array", host)
    return ext.from_host(np.ascontiguousarray(host), 0 if device is None else int(device))


def empty(shape: int | tuple[int, ...], *, dtype: str = "int32", device: int | None = None) -> Any:
    """An uninitialized DeviceArray (``dtype`` ``"int32"`` or ``"uint8"``)."""
    return _require().empty(shape, dtype, 0 if device is None else int(device))


def encode(symbols: Any, indexes: Any, tables: CdfTables, *, lanes: int = 4,
           substream_size: int = 65536, output: str = "bytes", device: int | None = None) -> Any:
    """Encode int32 ``symbols`` with the tables that ``indexes`` name, on the GPU.

    The payload is exactly ``rans.encode(symbols, indexes, tables,
    lanes=lanes, substream_size=substream_size)``. ``output="bytes"``
    returns it as bytes (copied to the host); ``output="device"`` as a uint8
    ``DeviceArray`` that stays on the GPU. ``device`` picks the GPU for
    inputs that are all in host memory (default 0).
    """
    tables = _check_tables(tables)
    lanes = _as_int("lanes", lanes, 1, MAX_LANES)
    substream_size = _as_int("substream_size", substream_size, 1, 2**64 - 1)
    if output not in ("bytes", "device"):
        raise ValueError(f"output must be 'bytes' or 'device', got {output!r}")
    ext = _require()
    home = _home_device(ext, [symbols, indexes], device)
    values = _device_view(ext, symbols, "symbols", 4, home)
    idx = _device_view(ext, indexes, "indexes", 4, home)
    if values.shape != idx.shape:
        raise ValueError(f"symbols shape {values.shape} differs from indexes shape {idx.shape}")
    if values.device != idx.device:
        raise ValueError(f"symbols are on cuda:{values.device} but indexes on cuda:{idx.device}")
    payload = ext.encode(_device_tables(ext, tables, idx.device), values.ptr, idx.ptr, idx.size,
                         lanes, substream_size)
    return payload.to_bytes() if output == "bytes" else payload


def decode(data: Any, indexes: Any, tables: CdfTables, *, out: Any = None,
           device: int | None = None) -> Any:
    """Decode a payload on the GPU into int32 symbols shaped like ``indexes``.

    ``data`` is the payload in host memory (any bytes-like object) or in
    device memory (a uint8 device array, e.g. from ``encode(...,
    output="device")``). Returns a ``DeviceArray``, or ``out`` (an
    int32 device array of ``indexes.size`` elements) after filling it.
    Checks, errors and their offsets are those of :func:`rans.decode`:
    :class:`codec.errors.CorruptStreamError` for a damaged payload.
    """
    tables = _check_tables(tables)
    ext = _require()
    home = _home_device(ext, [indexes, out, data], device)
    idx = _device_view(ext, indexes, "indexes", 4, home)
    if out is None:
        result = ext.empty(idx.shape, "int32", idx.device)
        target = _View(result.ptr, idx.shape, idx.device, result)
    else:
        result = out
        target = _device_view(ext, out, "out", 4, idx.device)
        if target.size != idx.size:
            raise ValueError(f"out holds {target.size} values, indexes {idx.size}")
        if target.device != idx.device:
            raise ValueError(f"out is on cuda:{target.device} but indexes on cuda:{idx.device}")
    device_tables = _device_tables(ext, tables, idx.device)
    on_device = hasattr(data, "__cuda_array_interface__") or (
        hasattr(data, "__dlpack_device__") and int(data.__dlpack_device__()[0]) in (_DL_CUDA, _DL_CUDA_MANAGED))
    if on_device:
        payload = _device_view(ext, data, "data", 1, idx.device)
        if payload.device != idx.device:
            raise ValueError(f"data is on cuda:{payload.device} but indexes on cuda:{idx.device}")
        ext.decode(device_tables, None, payload.ptr, payload.size, idx.ptr, idx.size, target.ptr)
    else:
        ext.decode(device_tables, data, 0, 0, idx.ptr, idx.size, target.ptr)
    return result
