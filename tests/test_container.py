"""The file format: round trips, version and field rules, and damage detection."""

from __future__ import annotations

import io
import random
import struct
from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from codec.container import ContainerReader, ContainerWriter, build_container, parse_container
from codec.container.checksum import crc32c
from codec.container.header import MAGIC
from codec.container.varint import decode_varint, encode_varint
from codec.errors import CorruptStreamError, UnsupportedVersionError
from container_fixtures import LEGACY, audio_header, image_header, video_header


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_varint_round_trip(value):
    data = encode_varint(value)
    assert decode_varint(data, 0) == (value, len(data))


@pytest.mark.parametrize("data, why", [
    (b"\x80", "truncated"), (b"\x80\x00", "non-canonical"), (b"\xff" * 11, "longer than 10"),
    (b"\xff" * 9 + b"\x7f", "exceeds 64 bits"),
])
def test_varint_rejects(data, why):
    with pytest.raises(CorruptStreamError, match=why):
        decode_varint(data, 0)


@pytest.mark.parametrize("make_header", [video_header, audio_header])
def test_round_trip_each_media_type(make_header):
    header = make_header()
    buf = io.BytesIO()
    with ContainerWriter(buf, header) as w:
        w.write_packet([b"key", b""], pts=0, random_access=True)
        w.write_packet([b"delta" * 100], pts=3003, random_access=False)
        w.write_packet([], pts=6006, random_access=True)
    reader = ContainerReader(io.BytesIO(buf.getvalue()))
    packets = list(reader.packets())
    assert reader.header == header
    assert [p.segments for p in packets] == [(b"key", b""), (b"delta" * 100,), ()]
    assert [p.pts for p in packets] == [0, 3003, 6006]
    assert [p.random_access for p in packets] == [True, False, True]
    assert [(e.pts, e.offset) for e in reader.index] == [(0, packets[0].offset), (6006, packets[2].offset)]


def test_image_round_trip_and_the_one_packet_rule():
    data = build_container(image_header(), [(b"key", b"")])
    parsed = parse_container(data)
    assert parsed.header == image_header()
    assert [p.segments for p in parsed.packets] == [(b"key", b"")]
    for packets in ([], [(b"a",), (b"b",)]):
        with pytest.raises(CorruptStreamError, match="one data packet"):
            parse_container(build_container(image_header(), packets))


def test_reader_works_on_unseekable_stream():
    data = build_container(image_header(), [(b"abc",)])

    class Pipe(io.RawIOBase):
        def __init__(self):
            self._buf = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self._buf.read(min(len(b), 7))
            b[: len(chunk)] = chunk
            return len(chunk)

    reader = ContainerReader(io.BufferedReader(Pipe()))
    assert [p.segments for p in reader.packets()] == [(b"abc",)]


def _rebuild_header(data: bytes, fields: bytes) -> bytes:
    """Replace the header of ``data`` with one holding ``fields`` (checksum recomputed).

    Packet offsets in the end packet's index go stale, so only use it for
    files that must be refused while reading the header.
    """
    (old_len,) = struct.unpack_from("<I", data, 10)
    head = MAGIC + bytes([1, 0]) + struct.pack("<I", len(fields)) + fields
    return head + struct.pack("<I", crc32c(head)) + data[14 + old_len + 4:]


def _fields_of(data: bytes) -> bytes:
    (length,) = struct.unpack_from("<I", data, 10)
    return data[14: 14 + length]


def test_unknown_optional_field_is_skipped_and_newer_minor_accepted():
    newer = build_container(image_header(version=(1, 7), unknown_fields=((1000 << 1, b"new"),)), [(b"x",)])
    parsed = parse_container(newer)
    header, packets = parsed.header, parsed.packets
    assert header.version == (1, 7)
    assert header.unknown_fields == ((2000, b"new"),)
    assert packets[0].segments == (b"x",)


def test_unknown_critical_field_is_refused():
    data = build_container(image_header(), [(b"x",)])
    extra = encode_varint((1000 << 1) | 1) + encode_varint(1) + b"\x01"
    with pytest.raises(UnsupportedVersionError, match="critical header field 1000"):
        parse_container(_rebuild_header(data, _fields_of(data) + extra))


def test_unknown_major_version_is_refused_before_checksum():
    data = bytearray(build_container(image_header(), [(b"x",)]))
    data[8] = 2  # the checksum is now wrong too: the version message must win
    with pytest.raises(UnsupportedVersionError, match="version 2.1 is not supported"):
        parse_container(bytes(data))


def test_missing_required_source_field_is_refused():
    header = image_header()
    with pytest.raises(CorruptStreamError, match="lacks required field 'width'"):
        replace(header, source=replace(header.source, width=None)).to_bytes()


def test_duplicate_field_is_refused():
    data = build_container(image_header(), [(b"x",)])
    fields = _fields_of(data)
    dup = encode_varint(12 << 1 | 1) + encode_varint(1) + b"\x08"
    with pytest.raises(CorruptStreamError, match="appears twice"):
        parse_container(_rebuild_header(data, fields + dup))


def test_oversized_dimensions_are_refused():
    header = image_header()
    with pytest.raises(CorruptStreamError, match="exceeds"):
        replace(header, source=replace(header.source, width=65535, height=65535)).to_bytes()


def test_bad_magic():
    with pytest.raises(CorruptStreamError, match="magic"):
        parse_container(b"GIF89a" + b"\0" * 40)
    with pytest.raises(CorruptStreamError, match="magic"):
        parse_container(b"")


def test_every_truncation_is_reported_with_an_offset():
    data = build_container(video_header(), [(b"a" * 30, b"b" * 5), (b"c" * 10,)])
    for cut in range(len(data)):
        with pytest.raises(CorruptStreamError) as info:
            parse_container(data[:cut])
        assert info.value.offset is not None and 0 <= info.value.offset <= len(data)


def test_every_single_byte_change_is_detected():
    data = build_container(audio_header(), [(b"\x11" * 40,), (b"\x22" * 17,)])
    rng = random.Random(1)
    for pos in range(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 1 << rng.randrange(8)
        with pytest.raises((CorruptStreamError, UnsupportedVersionError)):
            parse_container(bytes(damaged))


def test_damaged_packet_names_packet_and_offset():
    data = bytearray(build_container(video_header(), [(b"first",), (b"second",)]))
    packets = parse_container(bytes(data)).packets
    data[packets[1].offset + 8] ^= 0xFF
    with pytest.raises(CorruptStreamError, match="packet 1") as info:
        parse_container(bytes(data))
    assert info.value.packet == 1 and info.value.offset == packets[1].offset


@pytest.mark.parametrize("legacy", [True, False], ids=["1.0", "1.1"])
def test_trailing_bytes_after_the_end(legacy):
    data = build_container(image_header(**(LEGACY if legacy else {})), [(b"x",)])
    with pytest.raises(CorruptStreamError, match="after the end"):
        parse_container(data + b"\0")


@pytest.mark.parametrize("legacy", [True, False], ids=["1.0", "1.1"])
def test_huge_packet_length_is_refused_without_reading(legacy):
    data = build_container(image_header(**(LEGACY if legacy else {})), [(b"x",)])
    packets = parse_container(data).packets
    start = packets[0].offset
    head = bytes([0x50, 1, 1, 0]) if legacy else bytes([0x50, 1, 1, 0, 0])
    forged = data[:start] + head + encode_varint(1 << 40)

    class NoBigReads(io.BytesIO):
        def read(self, n=-1):
            assert n is None or n < (1 << 20), "reader tried to read an unvalidated length"
            return super().read(n)

    with pytest.raises(CorruptStreamError, match="exceeds"):
        list(ContainerReader(NoBigReads(forged), size=None).packets())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(blob):
    for data in (blob, MAGIC + blob, build_container(image_header(), [(b"x",)])[:40] + blob):
        try:
            parse_container(data)
        except (CorruptStreamError, UnsupportedVersionError):
            pass
