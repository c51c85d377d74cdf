"""Writing files: header, data packets, then the end packet with its index."""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from codec.container.checksum import crc32c
from codec.container.header import FileHeader
from codec.container.packet import (
    FLAG_RANDOM_ACCESS, MAX_PACKET_BYTES, PACKET_MARKER, IndexEntry, PacketType, encode_end_payload,
    encode_segments,
)
from codec.container.varint import encode_varint


class ContainerWriter:
    """Writes one file to a binary stream; use as a context manager or call :meth:`close`.

    The end packet is written only by :meth:`close`, so a writer that dies
    midway leaves a file that every reader reports as truncated.
    """

    def __init__(self, stream: BinaryIO, header: FileHeader) -> None:
        self._stream = stream
        self._pos = stream.write(header.to_bytes())
        self._count = 0
        self._index: list[IndexEntry] = []
        self._closed = False

    def write_packet(self, segments: list[bytes] | tuple[bytes, ...], *, pts: int = 0,
                     random_access: bool = True) -> None:
        if self._closed:
            raise ValueError("writer is closed")
        if random_access:
            self._index.append(IndexEntry(pts, self._pos))
        self._write(PacketType.DATA, FLAG_RANDOM_ACCESS if random_access else 0, pts, encode_segments(segments))
        self._count += 1

    def close(self) -> None:
        if not self._closed:
            self._write(PacketType.END, 0, 0, encode_end_payload(self._count, self._index))
            self._closed = True

    def __enter__(self) -> "ContainerWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()

    def _write(self, kind: PacketType, flags: int, pts: int, payload: bytes) -> None:
        if len(payload) > MAX_PACKET_BYTES:
            raise ValueError(f"packet of {len(payload)} bytes exceeds {MAX_PACKET_BYTES}")
        head = bytes([PACKET_MARKER, kind, flags]) + encode_varint(pts) + encode_varint(len(payload))
        crc = crc32c(payload, crc32c(head))
        self._pos += self._stream.write(head + payload + struct.pack("<I", crc))


def build_container(header: FileHeader, packets: list[tuple[bytes, ...]]) -> bytes:
    """A whole single-shot file in memory: one random-access packet per item of ``packets``."""
    buf = io.BytesIO()
    with ContainerWriter(buf, header) as writer:
        for segments in packets:
            writer.write_packet(segments)
    return buf.getvalue()
