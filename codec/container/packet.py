"""Packets: the checksummed units that carry coded media after the header.

Two layouts exist (``bitstream/SPEC.md`` section 4). The header's critical
field ``packet_layout`` says which one a file uses, so a reader that knows
only the first refuses the second with a clear message.

Layout 0 (format 1.0)::

    marker u8 (0x50)  type u8  flags u8  pts varint  length varint  payload  crc u32

Layout 1 (format 1.1) adds a signed pts and a duration::

    marker u8 (0x50)  type u8  flags u8  pts zigzag-varint  duration varint  length varint  payload  crc u32

``crc`` is the CRC-32C of every byte from ``marker`` to the end of ``payload``.
Flags: bit 0 random-access point; bit 1 (layout 1) ancillary: a packet that a
reader may skip when it does not know its type, which is how later minor
versions add packet types. A data payload is a list of segments; the end
packet closes the file with counts, totals and an index of random-access
points.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from codec.container.varint import decode_svarint, decode_varint, encode_svarint, encode_varint
from codec.errors import CorruptStreamError

PACKET_MARKER = 0x50
MAX_PACKET_BYTES = 1 << 30
MAX_SEGMENTS = 64
FLAG_RANDOM_ACCESS = 0x01
FLAG_ANCILLARY = 0x02

LAYOUT_1_0 = 0
LAYOUT_1_1 = 1
LAYOUTS = (LAYOUT_1_0, LAYOUT_1_1)


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
    duration: int = 0

    @property
    def size(self) -> int:
        return sum(len(s) for s in self.segments)


@dataclass(frozen=True)
class IndexEntry:
    pts: int
    offset: int


@dataclass(frozen=True)
class EndInfo:
    """What the end packet says: counts, totals (layout 1) and the random-access index."""

    data_packets: int
    index: tuple[IndexEntry, ...]
    frames: int | None = None     # items coded (frames, audio blocks, 1 for an image); layout 1 only
    duration: int | None = None   # total duration in time-base units (video) or samples (audio); layout 1 only


def encode_packet_head(layout: int, kind: int, flags: int, pts: int, duration: int, length: int) -> bytes:
    """Everything of a packet before its payload."""
    head = bytes([PACKET_MARKER, kind, flags])
    if layout == LAYOUT_1_0:
        if duration:
            raise ValueError("format 1.0 packets carry no duration")
        return head + encode_varint(pts) + encode_varint(length)
    return head + encode_svarint(pts) + encode_varint(duration) + encode_varint(length)


def head_varint_count(layout: int) -> int:
    """How many varints follow the three fixed bytes of a packet head."""
    return 2 if layout == LAYOUT_1_0 else 3


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


def encode_end_payload(layout: int, end: EndInfo) -> bytes:
    out = bytearray(encode_varint(end.data_packets))
    if layout == LAYOUT_1_1:
        out += encode_varint(end.frames or 0) + encode_varint(end.duration or 0)
    out += encode_varint(len(end.index))
    for entry in end.index:
        out += (encode_varint(entry.pts) if layout == LAYOUT_1_0 else encode_svarint(entry.pts))
        out += encode_varint(entry.offset)
    return bytes(out)


def decode_end_payload(layout: int, payload: bytes, *, packet: int, base_offset: int) -> EndInfo:
    """Parse an end payload; checks its own structure (the reader checks it against the packets)."""
    count, pos = decode_varint(payload, 0, base_offset=base_offset)
    frames = duration = None
    if layout == LAYOUT_1_1:
        frames, pos = decode_varint(payload, pos, base_offset=base_offset)
        duration, pos = decode_varint(payload, pos, base_offset=base_offset)
    entries_n, pos = decode_varint(payload, pos, base_offset=base_offset)
    if entries_n > count:
        raise CorruptStreamError("index lists more entries than data packets", packet=packet, offset=base_offset)
    entries = []
    for _ in range(entries_n):
        if layout == LAYOUT_1_0:
            pts, pos = decode_varint(payload, pos, base_offset=base_offset)
        else:
            pts, pos = decode_svarint(payload, pos, base_offset=base_offset)
        off, pos = decode_varint(payload, pos, base_offset=base_offset)
        if entries and off <= entries[-1].offset:
            raise CorruptStreamError("index entries are not in increasing file order",
                                     packet=packet, offset=base_offset + pos)
        entries.append(IndexEntry(pts, off))
    if pos != len(payload):
        raise CorruptStreamError("trailing bytes in end packet", packet=packet, offset=base_offset + pos)
    return EndInfo(count, tuple(entries), frames, duration)
