"""Reading files packet by packet, validating everything before it is used.

The reader never trusts a size from the file: a packet length is checked
against the format limit and the bytes left before it is read, and each
packet's checksum is verified before its payload is handed out. Errors name
the packet (counting every packet of the file from 0, the end packet too) and
the file offset where the damage was found. Packets are handed out as they
are read, so a file cut short still yields every complete packet before the
damage, and memory stays bounded by one packet.
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
    FLAG_ANCILLARY, FLAG_RANDOM_ACCESS, LAYOUT_1_0, LAYOUT_1_1, MAX_PACKET_BYTES, PACKET_MARKER, EndInfo,
    IndexEntry, Packet, PacketType, decode_end_payload, decode_segments, head_varint_count,
)
from codec.container.source import MediaType
from codec.container.trailer import TRAILER_BYTES, decode_trailer
from codec.container.varint import MAX_VARINT_BYTES, decode_svarint, decode_varint
from codec.errors import CorruptStreamError

#: Payloads longer than this are read in chunks of this size, and on a seekable file their checksum is
#: verified before they are held in memory: a damaged length field costs time, never its claimed memory.
CHECK_FIRST_BYTES = 1 << 24

@dataclass(frozen=True)
class _RawPacket:
    kind: int
    flags: int
    pts: int
    duration: int
    payload: bytes
    start: int


class ContainerReader:
    """Streams the packets of one file.

    ``stream`` is any readable binary file object. ``size`` (the total byte
    count) is found with ``seek`` when the stream allows it and lets the
    reader refuse impossible lengths before reading them.
    """

    def __init__(self, stream: BinaryIO, *, size: int | None = None) -> None:
        self._stream = stream
        self._seekable = _seekable(stream)
        if size is None and self._seekable:
            here = stream.tell()
            size = stream.seek(0, io.SEEK_END) - here
            stream.seek(here)
        self._size = size
        self._origin = stream.tell() if self._seekable else 0
        self.header: FileHeader
        self.header, self._pos = parse_header(self._stream.read, file_size=size)
        self.header_bytes = self._pos
        self.end: EndInfo | None = None
        self._done = False
        self._resumed = False  # iteration started at a random-access point, not after the header
        self._physical = 0     # packets read in this pass, for error messages

    @property
    def layout(self) -> int:
        return self.header.packet_layout

    @property
    def index(self) -> tuple[IndexEntry, ...]:
        """The random-access index, once the end packet has been read (else empty)."""
        return self.end.index if self.end is not None else ()

    @property
    def bytes_read(self) -> int:
        """Bytes consumed so far: the file size once :meth:`packets` has finished."""
        return self._pos

    # -- sequential reading ------------------------------------------------------------------------
    def packets(self) -> Iterator[Packet]:
        """Yield the data packets in file order; validates the end packet, the trailer and the end of file."""
        if self._done:
            return
        data_count = 0
        ra_offsets: dict[int, int] = {}
        while True:
            number = self._physical
            raw = self._read_packet(number)
            self._physical += 1
            if raw.flags & FLAG_ANCILLARY:
                continue  # a packet type of a later minor version: checksum verified, content skipped
            if raw.kind == PacketType.END:
                self._finish(raw, number, data_count, ra_offsets)
                return
            if raw.kind != PacketType.DATA:
                raise CorruptStreamError(f"unknown packet type {raw.kind}", packet=number, offset=raw.start + 1)
            segments = decode_segments(raw.payload, packet=number, base_offset=raw.start)
            random_access = bool(raw.flags & FLAG_RANDOM_ACCESS)
            if self.header.media_type is MediaType.IMAGE and (data_count > 0 or raw.pts != 0):
                raise CorruptStreamError("an image file holds one data packet, with pts 0",
                                         packet=number, offset=raw.start)
            if random_access:
                ra_offsets[raw.start] = raw.pts
            index = None if self._resumed else data_count
            data_count += 1
            yield Packet(index=index, pts=raw.pts, random_access=random_access, segments=segments,
                         offset=raw.start, duration=raw.duration)

    def _finish(self, raw: _RawPacket, number: int, data_count: int, ra_offsets: dict[int, int]) -> None:
        if raw.flags or raw.pts or raw.duration:
            raise CorruptStreamError("end packet flags, pts and duration must be 0", packet=number,
                                     offset=raw.start)
        end = decode_end_payload(self.layout, raw.payload, packet=number, base_offset=raw.start)
        if not self._resumed:
            if end.data_packets != data_count:
                raise CorruptStreamError(
                    f"end packet announces {end.data_packets} data packets, file holds {data_count}",
                    packet=number, offset=raw.start)
            if self.header.media_type is MediaType.IMAGE and data_count != 1:
                raise CorruptStreamError(f"an image file holds one data packet, found {data_count}",
                                         packet=number, offset=raw.start)
            for entry in end.index:
                if ra_offsets.get(entry.offset) != entry.pts:
                    raise CorruptStreamError("index entry does not point at a random-access packet",
                                             packet=number, offset=raw.start)
        if self.layout == LAYOUT_1_1:
            trailer = self._stream.read(TRAILER_BYTES)
            decoded = decode_trailer(trailer, file_size=self._pos + TRAILER_BYTES, min_end_offset=self.header_bytes)
            if decoded != raw.start:
                raise CorruptStreamError("trailer does not point at the end packet", offset=self._pos)
            self._pos += TRAILER_BYTES
        if self._stream.read(1):
            raise CorruptStreamError("unexpected bytes after the end" +
                                     (" packet" if self.layout == LAYOUT_1_0 else " of the file"),
                                     offset=self._pos)
        self.end = end
        self._done = True

    def _read_packet(self, number: int | None) -> _RawPacket:
        start = self._pos
        fixed = self._stream.read(3)
        if not fixed:
            raise CorruptStreamError("file is truncated: end packet missing", packet=number, offset=start)
        if len(fixed) < 3:
            raise CorruptStreamError("truncated packet header", packet=number, offset=start + len(fixed))
        if fixed[0] != PACKET_MARKER:
            raise CorruptStreamError("bad packet marker", packet=number, offset=start)
        kind, flags = fixed[1], fixed[2]
        ancillary = self.layout == LAYOUT_1_1 and bool(flags & FLAG_ANCILLARY)
        if ancillary and kind in (PacketType.DATA, PacketType.END):
            raise CorruptStreamError("data and end packets cannot be ancillary", packet=number, offset=start + 2)
        if not ancillary and kind not in (PacketType.DATA, PacketType.END):
            raise CorruptStreamError(f"unknown packet type {kind}", packet=number, offset=start + 1)
        if self.layout == LAYOUT_1_0:
            flags &= FLAG_RANDOM_ACCESS  # 1.0: reserved bits are ignored
        # The varints of the head are read byte by byte: never over-read into the payload.
        head = bytearray(fixed)
        values = []
        for i in range(head_varint_count(self.layout)):
            varint_start = len(head)
            while True:
                b = self._stream.read(1)
                if not b:
                    raise CorruptStreamError("truncated packet header", packet=number, offset=start + len(head))
                head += b
                if not b[0] & 0x80 or len(head) - varint_start >= MAX_VARINT_BYTES:
                    break
            signed = i == 0 and self.layout == LAYOUT_1_1
            value, _ = (decode_svarint if signed else decode_varint)(bytes(head), varint_start, base_offset=start)
            values.append(value)
        if self.layout == LAYOUT_1_0:
            (pts, length), duration = values, 0
        else:
            pts, duration, length = values
        remaining = None if self._size is None else self._size - (start - self._origin) - len(head) - 4
        if length > MAX_PACKET_BYTES:
            raise CorruptStreamError(f"packet length {length} exceeds the format's limit of {MAX_PACKET_BYTES}",
                                     packet=number, offset=start + 3)
        if remaining is not None and length > remaining:
            raise CorruptStreamError(f"file is truncated (or its packet length is damaged): the packet needs "
                                     f"{length} bytes, {max(remaining, 0)} are left", packet=number, offset=start + 3)
        if length > CHECK_FIRST_BYTES and self._seekable:
            # A large length may be a damaged field: check the bytes it claims in bounded memory
            # before holding them, then read them again (and check them again: the file may change).
            payload_start = self._stream.tell()
            self._read_checked(head, length, number, start, keep=False)
            self._stream.seek(payload_start)
        payload = self._read_checked(head, length, number, start, keep=True)
        self._pos = start + len(head) + length + 4
        return _RawPacket(kind, flags, pts, duration, payload, start)

    def _read_checked(self, head: bytes, length: int, number: int | None, start: int, *, keep: bool) -> bytes:
        """Read ``length`` payload bytes and the packet's CRC in chunks; raise unless they are complete and
        the CRC matches. Chunks mean that memory follows the bytes that exist, never the length claimed."""
        crc = crc32c(head)
        chunks = []
        got = 0
        while got < length:
            chunk = self._stream.read(min(CHECK_FIRST_BYTES, length - got))
            if not chunk:
                break
            crc = crc32c(chunk, crc)
            got += len(chunk)
            if keep:
                chunks.append(chunk)
        crc_bytes = self._stream.read(4) if got == length else b""
        if got < length or len(crc_bytes) < 4:
            raise CorruptStreamError("file is truncated inside a packet", packet=number,
                                     offset=start + len(head) + got + len(crc_bytes))
        (stored,) = struct.unpack("<I", crc_bytes)
        if crc != stored:
            raise CorruptStreamError("packet checksum mismatch", packet=number, offset=start)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # -- random access -----------------------------------------------------------------------------
    def read_end(self) -> EndInfo:
        """The end packet (counts, totals, index) without reading the packets before it.

        Format 1.1 files are located through their trailer; 1.0 files have
        none and are scanned. The stream must be seekable; the reading
        position is restored afterwards.
        """
        if self.end is not None:
            return self.end
        if not self._seekable or self._size is None:
            raise CorruptStreamError("the random-access index needs a seekable file")
        here = self._stream.tell()
        try:
            if self.layout == LAYOUT_1_0:
                self.end = self._scan_for_end()
            else:
                self.end = self._end_from_trailer()
        finally:
            self._stream.seek(here)
        return self.end

    def _end_from_trailer(self) -> EndInfo:
        if self._size < self.header_bytes + TRAILER_BYTES:
            raise CorruptStreamError("file is truncated: trailer missing", offset=self._size)
        self._stream.seek(self._origin + self._size - TRAILER_BYTES)
        end_offset = decode_trailer(self._stream.read(TRAILER_BYTES), file_size=self._size,
                                    min_end_offset=self.header_bytes)
        self._stream.seek(self._origin + end_offset)
        saved = self._pos
        self._pos = end_offset
        try:
            raw = self._read_packet(None)
            packet_end = self._pos
        finally:
            self._pos = saved
        if raw.kind != PacketType.END or raw.flags or raw.pts or raw.duration or \
                packet_end != self._size - TRAILER_BYTES:
            raise CorruptStreamError("trailer does not point at an end packet", offset=end_offset)
        return decode_end_payload(self.layout, raw.payload, packet=None, base_offset=end_offset)

    def _scan_for_end(self) -> EndInfo:
        self._stream.seek(self._origin + self.header_bytes)
        scan = ContainerReader.__new__(ContainerReader)
        scan.__dict__.update(self.__dict__)
        scan._pos, scan._done, scan._resumed, scan._physical, scan.end = self.header_bytes, False, False, 0, None
        for _ in scan.packets():
            pass
        return scan.end

    def seek_packet(self, offset: int) -> None:
        """Continue :meth:`packets` at the data packet starting at file offset ``offset``
        (an entry of the index). Counts are not checked against the end packet after a seek."""
        if not self._seekable:
            raise CorruptStreamError("seeking needs a seekable file")
        if not self.header_bytes <= offset < (self._size or 0):
            raise CorruptStreamError(f"seek offset {offset} is outside the packets", offset=offset)
        self._stream.seek(self._origin + offset)
        self._pos = offset
        self._done = False
        self._resumed = True


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


@dataclass(frozen=True)
class ContainerFile:
    """A whole validated file: header, data packets, random-access index, byte size."""

    header: FileHeader
    packets: list[Packet]
    index: tuple[IndexEntry, ...]
    size: int
    end: EndInfo | None = None


def read_container(stream: BinaryIO, *, size: int | None = None) -> ContainerFile:
    """Read and validate a whole file from ``stream`` (for images and other small files)."""
    reader = ContainerReader(stream, size=size)
    packets = list(reader.packets())
    return ContainerFile(reader.header, packets, reader.index, reader.bytes_read, reader.end)


def open_container(path: str | os.PathLike[str]) -> ContainerFile:
    """Read and validate the file at ``path``."""
    with open(path, "rb") as f:
        return read_container(f, size=os.fstat(f.fileno()).st_size)


def parse_container(data: bytes) -> ContainerFile:
    """Read and validate a file already in memory."""
    return read_container(io.BytesIO(data), size=len(data))
