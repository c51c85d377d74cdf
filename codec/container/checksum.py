"""CRC-32C (Castagnoli), the checksum of headers and packets.

CRC-32C rather than zlib's CRC-32 because it has better error detection for
the packet sizes we write and hardware support (SSE4.2, ARMv8) through the
``crc32c`` package.
"""

from __future__ import annotations

import crc32c as _crc32c


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``value`` (0 to start)."""
    return _crc32c.crc32c(data, value)
