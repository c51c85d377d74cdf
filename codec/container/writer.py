"""Writing files: header, data packets, then the end packet with its index and, in 1.1, the trailer."""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from codec.container.checksum import crc32c
from codec.container.header import FileHeader
from codec.container.packet import (
    FLAG_ANCILLARY, FLAG_RANDOM_ACCESS, LAYOUT_1_1, MAX_PACKET_BYTES, EndInfo, IndexEntry, PacketType,
    encode_end_payload, encode_packet_head, encode_segments,
)
from codec.container.trailer import encode_trailer


class ContainerWriter:
    """Writes one file to a binary stream, front to back; use as a context manager or call :meth:`close`.

    It never seeks, so it writes to pipes too: counts and totals that are only
    known at the end go into the end packet (and the 1.1 trailer points at it).
    The end packet is written only by :meth:`close`, so a writer that dies
    midway leaves a file that every reader reports as truncated, after
    handing out every complete packet before the damage.
    """

    def __init__(self, stream: BinaryIO, header: FileHeader) -> None:
        self._stream = stream
        self._layout = header.packet_layout
        self._pos = stream.write(header.to_bytes())
        self._count = 0
        self._duration = 0
        self._index: list[IndexEntry] = []
        self._closed = False

    @property
    def bytes_written(self) -> int:
        return self._pos

    def write_packet(self, segments: list[bytes] | tuple[bytes, ...], *, pts: int = 0, duration: int = 0,
                     random_access: bool = True) -> None:
        """One data packet; ``duration`` (format 1.1) is in time-base units (video) or samples (audio)."""
        if self._closed:
            raise ValueError("writer is closed")
        if duration < 0:
            raise ValueError("packet duration must not be negative")
        if random_access:
            self._index.append(IndexEntry(pts, self._pos))
        self._write(PacketType.DATA, FLAG_RANDOM_ACCESS if random_access else 0, pts, duration,
                    encode_segments(segments))
        self._count += 1
        self._duration += duration

    def write_ancillary(self, packet_type: int, payload: bytes) -> None:
        """A packet that readers which do not know ``packet_type`` skip (format 1.1)."""
        if self._layout != LAYOUT_1_1:
            raise ValueError("ancillary packets need format 1.1")
        if packet_type in (PacketType.DATA, PacketType.END) or not 3 <= packet_type <= 255:
            raise ValueError(f"ancillary packet type must be 3..255, got {packet_type}")
        self._write(packet_type, FLAG_ANCILLARY, 0, 0, payload)

    def close(self, *, frames: int | None = None, duration: int | None = None) -> None:
        """Write the end packet (and the trailer); ``frames``/``duration`` default to the packets' totals."""
        if self._closed:
            return
        end_offset = self._pos
        end = EndInfo(self._count, tuple(self._index), self._count if frames is None else frames,
                      self._duration if duration is None else duration)
        self._write(PacketType.END, 0, 0, 0, encode_end_payload(self._layout, end))
        if self._layout == LAYOUT_1_1:
            self._pos += self._stream.write(encode_trailer(end_offset))
        self._closed = True

    def __enter__(self) -> "ContainerWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()

    def _write(self, kind: int, flags: int, pts: int, duration: int, payload: bytes) -> None:
        if len(payload) > MAX_PACKET_BYTES:
            raise ValueError(f"packet of {len(payload)} bytes exceeds {MAX_PACKET_BYTES}")
        head = encode_packet_head(self._layout, kind, flags, pts, duration, len(payload))
        crc = crc32c(payload, crc32c(head))
        self._pos += self._stream.write(head + payload + struct.pack("<I", crc))


def build_container(header: FileHeader, packets: list[tuple[bytes, ...]]) -> bytes:
    """A whole single-shot file in memory: one random-access packet per item of ``packets``."""
    buf = io.BytesIO()
    with ContainerWriter(buf, header) as writer:
        for segments in packets:
            writer.write_packet(segments)
    return buf.getvalue()
