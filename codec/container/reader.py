"""Reading files packet by packet, validating everything before it is used.

The reader never trusts a size from the file: a packet length is checked
against the format limit and the bytes left before it is read, and each
packet's checksum is verified before its payload is handed out. Errors name
the packet and the file offset where the damage was found.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from codec.container.checksum import crc32c
from codec.container.header import FileHeader, parse_header
from codec.container.packet import (
    FLAG_RANDOM_ACCESS, MAX_PACKET_BYTES, PACKET_MARKER, IndexEntry, Packet, PacketType,
    decode_end_payload, decode_segments,
)
from codec.container.varint import MAX_VARINT_BYTES, decode_varint
from codec.errors import CorruptStreamError


class ContainerReader:
    """Streams the packets of one file.

    ``stream`` is any readable binary file object. ``size`` (the total byte
    count) is found with ``seek`` when the stream allows it and lets the
    reader refuse impossible lengths before reading them.
    """

    def __init__(self, stream: BinaryIO, *, size: int | None = None) -> None:
        self._stream = stream
        if size is None and stream.seekable():
            here = stream.tell()
            size = stream.seek(0, io.SEEK_END) - here
            stream.seek(here)
        self._size = size
        self.header: FileHeader
        self.header, self._pos = parse_header(self._read, file_size=size)
        self.index: tuple[IndexEntry, ...] = ()
        self._done = False

    @property
    def bytes_read(self) -> int:
        """Bytes consumed so far: the file size once :meth:`packets` has finished."""
        return self._pos

    def _read(self, n: int) -> bytes:
        return self._stream.read(n)

    def packets(self) -> Iterator[Packet]:
        """Yield the data packets in file order; validates the end packet and end of file."""
        if self._done:
            return
        data_count = 0
        ra_offsets: dict[int, int] = {}
        while True:
            start = self._pos
            number = data_count
            kind, flags, pts, payload = self._read_packet(number)
            if kind == PacketType.END:
                count, self.index = decode_end_payload(payload, packet=number, base_offset=start)
                if count != data_count:
                    raise CorruptStreamError(
                        f"end packet announces {count} data packets, file holds {data_count}",
                        packet=number, offset=start)
                for entry in self.index:
                    if ra_offsets.get(entry.offset) != entry.pts:
                        raise CorruptStreamError("index entry does not point at a random-access packet",
                                                 packet=number, offset=start)
                if self._stream.read(1):
                    raise CorruptStreamError("unexpected bytes after the end packet", offset=self._pos)
                self._done = True
                return
            segments = decode_segments(payload, packet=number, base_offset=start)
            random_access = bool(flags & FLAG_RANDOM_ACCESS)
            if random_access:
                ra_offsets[start] = pts
            data_count += 1
            yield Packet(index=number, pts=pts, random_access=random_access, segments=segments, offset=start)

    def _read_packet(self, number: int) -> tuple[PacketType, int, int, bytes]:
        start = self._pos
        fixed = self._stream.read(3)
        if not fixed:
            raise CorruptStreamError("file is truncated: end packet missing", packet=number, offset=start)
        if len(fixed) < 3:
            raise CorruptStreamError("truncated packet header", packet=number, offset=start + len(fixed))
        if fixed[0] != PACKET_MARKER:
            raise CorruptStreamError("bad packet marker", packet=number, offset=start)
        try:
            kind = PacketType(fixed[1])
        except ValueError:
            raise CorruptStreamError(f"unknown packet type {fixed[1]}", packet=number, offset=start + 1) from None
        # pts and length are at most two varints: peek them without over-reading.
        head = bytearray(fixed)
        values = []
        for _ in range(2):
            varint_start = len(head)
            while True:
                b = self._stream.read(1)
                if not b:
                    raise CorruptStreamError("truncated packet header", packet=number, offset=start + len(head))
                head += b
                if not b[0] & 0x80 or len(head) - varint_start >= MAX_VARINT_BYTES:
                    break
            value, _ = decode_varint(bytes(head), varint_start, base_offset=start)
            values.append(value)
        pts, length = values
        remaining = None if self._size is None else self._size - start - len(head) - 4
        if length > MAX_PACKET_BYTES or (remaining is not None and length > remaining):
            raise CorruptStreamError(f"packet length {length} exceeds the data left in the file",
                                     packet=number, offset=start + 3)
        payload = self._stream.read(length)
        crc_bytes = self._stream.read(4)
        if len(payload) < length or len(crc_bytes) < 4:
            raise CorruptStreamError("file is truncated inside a packet", packet=number,
                                     offset=start + len(head) + len(payload) + len(crc_bytes))
        (stored,) = struct.unpack("<I", crc_bytes)
        if crc32c(payload, crc32c(head)) != stored:
            raise CorruptStreamError("packet checksum mismatch", packet=number, offset=start)
        self._pos = start + len(head) + length + 4
        return kind, fixed[2], pts, payload


@dataclass(frozen=True)
class ContainerFile:
    """A whole validated file: header, data packets, random-access index, byte size."""

    header: FileHeader
    packets: list[Packet]
    index: tuple[IndexEntry, ...]
    size: int


def read_container(stream: BinaryIO, *, size: int | None = None) -> ContainerFile:
    """Read and validate a whole file from ``stream`` (for images and other small files)."""
    reader = ContainerReader(stream, size=size)
    packets = list(reader.packets())
    return ContainerFile(reader.header, packets, reader.index, reader.bytes_read)


def open_container(path: str | os.PathLike[str]) -> ContainerFile:
    """Read and validate the file at ``path``."""
    with open(path, "rb") as f:
        return read_container(f, size=os.fstat(f.fileno()).st_size)


def parse_container(data: bytes) -> ContainerFile:
    """Read and validate a file already in memory."""
    return read_container(io.BytesIO(data), size=len(data))
