"""Packets: the checksummed units that carry coded media after the header.

Layout (``bitstream/SPEC.md`` section 4)::

    marker   u8      0x50 ("P")
    type     u8      1 = data, 2 = end
    flags    u8      bit 0: random-access point; bits 1-7 reserved
    pts      varint  presentation time in time-base units (0 for images)
    length   varint  payload byte length
    payload  bytes
    crc      u32     CRC-32C of marker..payload

A data payload is a list of segments (``segment_count``, then each length,
then the bytes); the model defines what each segment holds, usually one
entropy-coded latent in the rANS payload layout. The end packet closes the
file with the data-packet count and an index of random-access points.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from codec.container.varint import decode_varint, encode_varint
from codec.errors import CorruptStreamError

PACKET_MARKER = 0x50
MAX_PACKET_BYTES = 1 << 30
MAX_SEGMENTS = 64
FLAG_RANDOM_ACCESS = 0x01


class PacketType(enum.IntEnum):
    DATA = 1
    END = 2


@dataclass(frozen=True)
class Packet:
    """One data packet as read from a file, with where it was found."""

    index: int
    pts: int
    random_access: bool
    segments: tuple[bytes, ...]
    offset: int  # file offset of the packet's marker byte

    @property
    def size(self) -> int:
        return sum(len(s) for s in self.segments)


@dataclass(frozen=True)
class IndexEntry:
    pts: int
    offset: int


def encode_segments(segments: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Serialize a data payload from its segments."""
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"at most {MAX_SEGMENTS} segments per packet")
    out = bytearray(encode_varint(len(segments)))
    for seg in segments:
        out += encode_varint(len(seg))
    for seg in segments:
        out += seg
    return bytes(out)


def decode_segments(payload: bytes, *, packet: int, base_offset: int) -> tuple[bytes, ...]:
    """Split a data payload into segments, checking that the lengths add up exactly."""
    count, pos = decode_varint(payload, 0, base_offset=base_offset)
    if count > MAX_SEGMENTS:
        raise CorruptStreamError(f"{count} segments exceed the limit of {MAX_SEGMENTS}",
                                 packet=packet, offset=base_offset)
    lengths = []
    for _ in range(count):
        length, pos = decode_varint(payload, pos, base_offset=base_offset)
        lengths.append(length)
    if sum(lengths) != len(payload) - pos:
        raise CorruptStreamError("segment lengths do not match the packet length",
                                 packet=packet, offset=base_offset + pos)
    segments = []
    for length in lengths:
        segments.append(bytes(payload[pos: pos + length]))
        pos += length
    return tuple(segments)


def encode_end_payload(data_packets: int, index: list[IndexEntry]) -> bytes:
    out = bytearray(encode_varint(data_packets) + encode_varint(len(index)))
    for entry in index:
        out += encode_varint(entry.pts) + encode_varint(entry.offset)
    return bytes(out)


def decode_end_payload(payload: bytes, *, packet: int, base_offset: int) -> tuple[int, tuple[IndexEntry, ...]]:
    count, pos = decode_varint(payload, 0, base_offset=base_offset)
    entries_n, pos = decode_varint(payload, pos, base_offset=base_offset)
    if entries_n > count:
        raise CorruptStreamError("index lists more entries than data packets", packet=packet, offset=base_offset)
    entries = []
    for _ in range(entries_n):
        pts, pos = decode_varint(payload, pos, base_offset=base_offset)
        off, pos = decode_varint(payload, pos, base_offset=base_offset)
        entries.append(IndexEntry(pts, off))
    if pos != len(payload):
        raise CorruptStreamError("trailing bytes in end packet", packet=packet, offset=base_offset + pos)
    return count, tuple(entries)
