"""CRC-32C (Castagnoli), the checksum of headers and packets.

CRC-32C rather than zlib's CRC-32 because it has better error detection for
the packet sizes we write and hardware support (SSE4.2, ARMv8) through the
``crc32c`` package. That package is imported on the first checksum: its
import costs tens of milliseconds (it reads package metadata), which
``codec --help`` need not pay.
"""

from __future__ import annotations

from collections.abc import Callable

_implementation: Callable[[bytes | bytearray | memoryview, int], int] | None = None


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``value`` (0 to start)."""
    global _implementation
    if _implementation is None:
        import crc32c as package

        _implementation = package.crc32c
    return _implementation(data, value)
