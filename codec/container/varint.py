"""Unsigned LEB128 varints, the integer encoding used throughout the file format.

Reading is strict: at most ``MAX_VARINT_BYTES`` bytes, no value above 2**64-1,
and no redundant trailing zero groups, so every integer has exactly one
encoding and a damaged length cannot silently become a huge allocation.
"""

from __future__ import annotations

from codec.errors import CorruptStreamError

MAX_VARINT_BYTES = 10
_MAX_VALUE = (1 << 64) - 1


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer below 2**64 as unsigned LEB128."""
    if value < 0 or value > _MAX_VALUE:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes | memoryview, pos: int, *, base_offset: int = 0) -> tuple[int, int]:
    """Decode one varint from ``buf`` at ``pos``; return ``(value, next_pos)``.

    ``base_offset`` is added to positions in error messages, so callers that
    parse a slice of a file can report absolute file offsets.
    """
    value = 0
    shift = 0
    start = pos
    for i in range(MAX_VARINT_BYTES):
        if pos >= len(buf):
            raise CorruptStreamError("truncated varint", offset=base_offset + start)
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise CorruptStreamError("non-canonical varint", offset=base_offset + start)
            if value > _MAX_VALUE:
                raise CorruptStreamError("varint exceeds 64 bits", offset=base_offset + start)
            return value, pos
        shift += 7
    raise CorruptStreamError("varint longer than 10 bytes", offset=base_offset + start)


def encode_svarint(value: int) -> bytes:
    """Encode a signed integer of magnitude below 2**63 as a zigzag varint (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)."""
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"signed varint out of range: {value}")
    return encode_varint(2 * value if value >= 0 else -2 * value - 1)


def decode_svarint(buf: bytes | memoryview, pos: int, *, base_offset: int = 0) -> tuple[int, int]:
    """Decode one zigzag varint; return ``(value, next_pos)``."""
    raw, pos = decode_varint(buf, pos, base_offset=base_offset)
    return (raw >> 1) ^ -(raw & 1), pos
