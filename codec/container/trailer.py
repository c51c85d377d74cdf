"""The 16-byte trailer of a format 1.1 file: where its end packet starts.

Layout (``bitstream/SPEC.md`` section 4.3)::

    end_offset   u64   file offset of the end packet's marker byte
    trailer_crc  u32   CRC-32C of the 8 bytes of end_offset
    tag          4     ASCII "NMCE"

A reader that wants the random-access index reads the last 16 bytes, then the
end packet, without scanning the packets; a writer on a pipe can still write
it, because it only needs the offset it has reached.
"""

from __future__ import annotations

import struct

from codec.container.checksum import crc32c
from codec.errors import CorruptStreamError

TRAILER_TAG = b"NMCE"
TRAILER_BYTES = 16


def encode_trailer(end_offset: int) -> bytes:
    offset = struct.pack("<Q", end_offset)
    return offset + struct.pack("<I", crc32c(offset)) + TRAILER_TAG


def decode_trailer(data: bytes, *, file_size: int, min_end_offset: int) -> int:
    """The end packet's offset from the last 16 bytes of a file of ``file_size`` bytes."""
    where = file_size - TRAILER_BYTES
    if len(data) != TRAILER_BYTES or data[12:] != TRAILER_TAG:
        raise CorruptStreamError("file is truncated or damaged: its trailer is missing", offset=max(0, where))
    (end_offset,) = struct.unpack_from("<Q", data)
    (stored,) = struct.unpack_from("<I", data, 8)
    if crc32c(data[:8]) != stored:
        raise CorruptStreamError("trailer checksum mismatch", offset=where)
    if not min_end_offset <= end_offset < where:
        raise CorruptStreamError(f"trailer points outside the file (offset {end_offset})", offset=where)
    return end_offset
