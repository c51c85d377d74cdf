"""Fuzz target for the container reader: hostile files must be refused cleanly, never crash it.

Everything a reader takes from a file is untrusted: the header and its
fields, each packet's head (type, flags, pts, duration, length), the
segment table of data packets, the end packet's counts and index, and the
1.1 trailer. For any input :func:`test_one_input` reads it the ways the
package does (whole, as a stream that cannot seek, through the trailer and
the index) and accepts only success or a :class:`~codec.errors.CodecError`.
Anything else -- another exception, a hang, an allocation that follows a
length field rather than the bytes present -- is a bug.

Run (see fuzz/README.md): ``python fuzz/fuzz_container.py -max_total_time=60``

Each input is read in one of two modes:

* raw: the rest of the input is the file;
* damage: the input picks a valid seed file (the container and image
  conformance files of ``bitstream/conformance``, both packet layouts) and
  applies a few damages from :func:`damage`: truncations, byte flips and
  insertions (checksums then fail), and rewrites of header fields, packet
  heads, segment tables, entropy-coded segments, the end packet and the
  trailer *with their checksums recomputed*, so the reader's checks behind
  the checksums are reached too.

:func:`damage` is shared with ``tests/test_hardening.py``, which sends the
same families of damaged files through ``codec info`` and ``codec decode``.
``test_one_input`` does not need atheris, so ``tests/test_fuzz_smoke.py``
keeps it working in the ordinary test run.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from codec.container.checksum import crc32c
from codec.container.header import MAGIC, parse_header
from codec.container.packet import (
    LAYOUT_1_0, LAYOUT_1_1, PacketType, decode_end_payload, decode_segments, encode_end_payload,
    encode_packet_head, encode_segments,
)
from codec.container.reader import ContainerReader, parse_container
from codec.container.summary import describe, scan
from codec.container.trailer import encode_trailer
from codec.container.varint import decode_svarint, decode_varint, encode_varint
from codec.container.writer import ContainerWriter
from codec.errors import CodecError

CONFORMANCE = Path(__file__).resolve().parent.parent / "bitstream" / "conformance"
SEED_GLOBS = ("container/*.nmc", "container-1.1/*.nmc", "image-1.1/*-r2-q1.nmc")
MAX_DAMAGES = 4
MODE_RAW, MODE_DAMAGE = 0, 1

#: ``choose(n)`` returns an integer in ``range(n)`` (n >= 1): the fuzzer's bytes or a seeded RNG.
Choose = Callable[[int], int]


# -- a valid file taken apart, and put back together with fresh checksums ----------------------------

@dataclass
class RawPacket:
    kind: int
    flags: int
    pts: int
    duration: int
    payload: bytes


@dataclass
class Parts:
    """A valid file as pieces a damage can change: header TLV body, packets, and whether it has a trailer."""

    version: bytes            # major, minor
    body: bytes               # the header's tag-length-value fields
    layout: int
    packets: list[RawPacket]
    trailer: bool
    end_offset_delta: int = 0  # added to the trailer's end offset (a damage may point it elsewhere)


def split(data: bytes) -> Parts:
    """Take a valid file apart (the reader has accepted it; this walks its structure without checks)."""
    header, header_bytes = parse_header(io.BytesIO(data).read)
    layout = header.packet_layout
    body = data[14: header_bytes - 4]
    packets, pos = [], header_bytes
    while True:
        kind, flags = data[pos + 1], data[pos + 2]
        pos += 3
        if layout == LAYOUT_1_0:
            pts, pos = decode_varint(data, pos)
            duration = 0
        else:
            pts, pos = decode_svarint(data, pos)
            duration, pos = decode_varint(data, pos)
        length, pos = decode_varint(data, pos)
        packets.append(RawPacket(kind, flags, pts, duration, data[pos: pos + length]))
        pos += length + 4
        if kind == PacketType.END and not (layout == LAYOUT_1_1 and flags & 0x02):
            break
    return Parts(data[8:10], body, layout, packets, trailer=layout == LAYOUT_1_1)


def join(parts: Parts) -> bytes:
    """Serialize ``parts`` with every checksum (header, packets, trailer) computed afresh."""
    head = MAGIC + parts.version + struct.pack("<I", len(parts.body)) + parts.body
    out = bytearray(head + struct.pack("<I", crc32c(head)))
    end_offset = None
    for p in parts.packets:
        if p.kind == PacketType.END and end_offset is None:
            end_offset = len(out)
        if parts.layout == LAYOUT_1_0:
            packet_head = bytes([0x50, p.kind, p.flags]) + encode_varint(max(p.pts, 0)) + encode_varint(len(p.payload))
        else:
            packet_head = encode_packet_head(LAYOUT_1_1, p.kind, p.flags, p.pts, p.duration, len(p.payload))
        out += packet_head + p.payload + struct.pack("<I", crc32c(p.payload, crc32c(packet_head)))
    if parts.trailer:
        out += encode_trailer(max(0, (end_offset if end_offset is not None else len(out)) + parts.end_offset_delta))
    return bytes(out)


# -- damages -------------------------------------------------------------------------------------------

def _fields(body: bytes) -> list[tuple[int, bytes]]:
    fields, pos = [], 0
    while pos < len(body):
        tag, pos = decode_varint(body, pos)
        length, pos = decode_varint(body, pos)
        fields.append((tag, body[pos: pos + length]))
        pos += length
    return fields


def _tlv(fields: list[tuple[int, bytes]]) -> bytes:
    return b"".join(encode_varint(tag) + encode_varint(len(value)) + value for tag, value in fields)


def _some_bytes(choose: Choose, most: int = 12) -> bytes:
    return bytes(choose(256) for _ in range(choose(most + 1)))


def _edit_bytes(data: bytes, choose: Choose) -> bytes:
    """Flip a bit, overwrite a byte, cut, extend or replace ``data`` (with no checksum of its own)."""
    out = bytearray(data)
    op = choose(5)
    if op == 0 and out:
        out[choose(len(out))] ^= 1 << choose(8)
    elif op == 1 and out:
        out[choose(len(out))] = choose(256)
    elif op == 2:
        del out[choose(len(out) + 1):]
    elif op == 3:
        at = choose(len(out) + 1)
        out[at:at] = _some_bytes(choose)
    else:
        out = bytearray(_some_bytes(choose))
    return bytes(out)


def _rewrite_header(parts: Parts, choose: Choose) -> None:
    fields = _fields(parts.body)
    op = choose(6)
    if op == 0 and fields:      # a field's value
        i = choose(len(fields))
        fields[i] = (fields[i][0], _edit_bytes(fields[i][1], choose))
    elif op == 1 and fields:    # a field's tag (unknown optional or critical fields, other media's fields)
        i = choose(len(fields))
        fields[i] = (choose(64), fields[i][1])
    elif op == 2 and fields:    # a field missing
        del fields[choose(len(fields))]
    elif op == 3 and fields:    # a field twice
        fields.append(fields[choose(len(fields))])
    elif op == 4:               # the version
        parts.version = bytes([choose(3), choose(4)])
    else:                       # raw body bytes (a broken TLV list)
        parts.body = _edit_bytes(parts.body, choose)
        return
    parts.body = _tlv(fields)


def _rewrite_packet_head(parts: Parts, choose: Choose) -> None:
    p = parts.packets[choose(len(parts.packets))]
    op = choose(4)
    if op == 0:
        p.kind = choose(256)
    elif op == 1:
        p.flags = choose(256)
    elif op == 2:
        p.pts = (-1 if choose(2) else 1) * choose(1 << 20)
    else:
        p.duration = choose(1 << 20)


def _rewrite_segments(parts: Parts, choose: Choose, *, entropy_only: bool) -> None:
    """A data packet's segments (the entropy-coded blocks of an image) or its segment table."""
    data = [p for p in parts.packets if p.kind == PacketType.DATA]
    if not data:
        return
    p = data[choose(len(data))]
    segments = list(decode_segments(p.payload, packet=0, base_offset=0))
    op = choose(5) if not entropy_only else choose(2)
    if op == 0 and segments:       # bytes inside one segment
        i = choose(len(segments))
        segments[i] = _edit_bytes(segments[i], choose)
    elif op == 1 and len(segments) > 1:   # two segments swapped
        i, j = choose(len(segments)), choose(len(segments))
        segments[i], segments[j] = segments[j], segments[i]
    elif op == 2 and segments:     # a segment dropped
        del segments[choose(len(segments))]
    elif op == 3:                  # a segment added
        segments.insert(choose(len(segments) + 1), _some_bytes(choose, 40))
    elif op == 4:                  # the segment table itself
        p.payload = _edit_bytes(p.payload, choose)
        return
    p.payload = encode_segments(segments[:64])


def _rewrite_end(parts: Parts, choose: Choose) -> None:
    ends = [p for p in parts.packets if p.kind == PacketType.END]
    if not ends:
        return
    p = ends[-1]
    end = decode_end_payload(parts.layout, p.payload, packet=0, base_offset=0)
    op = choose(5)
    if op == 0:
        end = replace(end, data_packets=choose(8))
    elif op == 1:
        end = replace(end, frames=choose(1 << 16), duration=choose(1 << 24))
    elif op == 2 and end.index:
        entries = list(end.index)
        i = choose(len(entries))
        entries[i] = replace(entries[i], offset=choose(1 << 12), pts=choose(1 << 12) - (1 << 11))
        end = replace(end, index=tuple(entries))
    elif op == 3 and end.index:
        end = replace(end, index=end.index[:-1])
    else:
        p.payload = _edit_bytes(p.payload, choose)
        return
    if parts.layout == LAYOUT_1_0:
        end = replace(end, index=tuple(replace(e, pts=max(e.pts, 0)) for e in end.index))
    p.payload = encode_end_payload(parts.layout, end)


def _rewrite_packet_list(parts: Parts, choose: Choose) -> None:
    packets = parts.packets
    op = choose(4)
    i = choose(len(packets))
    if op == 0 and len(packets) > 1:
        del packets[i]
    elif op == 1:
        packets.insert(choose(len(packets) + 1), replace(packets[i]))
    elif op == 2:
        j = choose(len(packets))
        packets[i], packets[j] = packets[j], packets[i]
    else:                      # an ancillary packet of a later minor version, anywhere
        packets.insert(choose(len(packets) + 1), RawPacket(3 + choose(253), 0x02, 0, 0, _some_bytes(choose)))


def _rewrite_trailer(parts: Parts, choose: Choose) -> None:
    if choose(3) == 0:
        parts.trailer = not parts.trailer
    else:
        parts.end_offset_delta = choose(64) - 32


STRUCTURED = (_rewrite_header, _rewrite_packet_head, _rewrite_end, _rewrite_packet_list, _rewrite_trailer)
#: The families of damage, by name (tests count them).
FAMILIES = ("truncation", "byte flip", "insertion", "header rewrite", "packet head rewrite", "segment table rewrite",
            "entropy block rewrite", "end packet rewrite", "packet list rewrite", "trailer rewrite")


def damage(data: bytes, choose: Choose, family: int | None = None) -> bytes:
    """One damaged variant of the valid file ``data``; ``family`` indexes :data:`FAMILIES` (else chosen)."""
    family = choose(len(FAMILIES)) if family is None else family
    if not data:
        return data
    if family == 0:
        return data[: choose(len(data))]
    if family == 1:
        out = bytearray(data)
        for _ in range(1 + choose(3)):
            out[choose(len(out))] ^= 1 << choose(8)
        return bytes(out)
    if family == 2:
        at = choose(len(data) + 1)
        return data[:at] + _some_bytes(choose) + data[at:]
    parse_container(data)  # structured damage starts from a file that reads (else CodecError)
    parts = split(data)
    if family == 5:
        _rewrite_segments(parts, choose, entropy_only=False)
    elif family == 6:
        _rewrite_segments(parts, choose, entropy_only=True)
    else:
        STRUCTURED[(3, 4, 7, 8, 9).index(family)](parts, choose)
    return join(parts)


# -- reading, as the package does ---------------------------------------------------------------------

class _Unseekable(io.RawIOBase):
    """A pipe-like view of bytes: reads may come short, and it cannot seek."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), 7, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos: self._pos + n]
        self._pos += n
        return n


def read_every_way(data: bytes) -> str:
    """Read ``data`` whole, as a stream, through its trailer and index; return "ok" or the error class name.

    The seekable and the streaming reads must agree; a file that reads must
    describe itself and survive a rewrite through the writer unchanged.
    """
    outcomes = []
    for stream, size in ((io.BytesIO(data), len(data)), (io.BufferedReader(_Unseekable(data)), None)):
        try:
            header, totals, end, file_size = scan(stream, size=size)
            describe(header, totals, end, file_size)
            outcomes.append("ok")
        except CodecError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1], f"seekable and streaming reads disagree: {outcomes}"
    if outcomes[0] != "ok":
        return outcomes[0]
    whole = parse_container(data)
    reader = ContainerReader(io.BytesIO(data), size=len(data))
    try:
        end = reader.read_end()
        for entry in end.index:
            reader.seek_packet(entry.offset)
            first = next(iter(reader.packets()))
            assert first.offset == entry.offset and first.pts == entry.pts and first.random_access
    except CodecError:
        pass  # a trailer or index that a sequential read never uses may still be refused here
    buf = io.BytesIO()
    with ContainerWriter(buf, whole.header) as writer:
        for p in whole.packets:
            writer.write_packet(p.segments, pts=p.pts, duration=p.duration, random_access=p.random_access)
    again = parse_container(buf.getvalue())
    assert again.header == whole.header
    assert [(p.segments, p.pts, p.duration, p.random_access) for p in again.packets] == \
        [(p.segments, p.pts, p.duration, p.random_access) for p in whole.packets]
    return "ok"


def _load_seeds() -> list[bytes]:
    seeds = []
    for pattern in SEED_GLOBS:
        seeds += [path.read_bytes() for path in sorted(CONFORMANCE.glob(pattern))]
    return seeds


SEEDS = _load_seeds()


class _Choices:
    """The fuzz input as a source of choices; past its end every choice is 0."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def __call__(self, n: int) -> int:
        width = max(1, (max(n - 1, 1).bit_length() + 7) // 8)
        chunk = self.data[self.pos: self.pos + width]
        self.pos += width
        return int.from_bytes(chunk, "little") % n if n > 1 else 0


def test_one_input(data: bytes) -> None:
    """Read one fuzz input; an exception other than CodecError escaping (or an assertion) is a bug."""
    if not data or data[0] % 2 == MODE_RAW:
        read_every_way(data[1:])
        return
    choose = _Choices(data[1:])
    file = SEEDS[choose(len(SEEDS))]
    for _ in range(1 + choose(MAX_DAMAGES)):
        try:
            file = damage(file, choose)
        except CodecError:
            break  # a structured damage needs a file that still parses; the damage so far stands
    read_every_way(file)


def write_seed_corpus(folder: str) -> None:
    """Write every seed as a raw-mode input, so mutation starts from well-formed files."""
    os.makedirs(folder, exist_ok=True)
    for i, seed in enumerate(SEEDS):
        with open(os.path.join(folder, f"seed-{i:02d}"), "wb") as f:
            f.write(bytes([MODE_RAW]) + seed)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-seed-corpus":
        write_seed_corpus(sys.argv[2])
        return
    import atheris

    atheris.instrument_all()  # the reader is pure Python: coverage of every loaded module guides the fuzzer
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
