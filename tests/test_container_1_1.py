"""Format 1.1: signed pts and durations, ancillary packets, totals, the trailer, seeking, and 1.0 files."""

from __future__ import annotations

import io

import pytest

from codec.container import ContainerReader, ContainerWriter, build_container, parse_container
from codec.container.trailer import TRAILER_BYTES
from codec.errors import CorruptStreamError, UnsupportedVersionError
from container_fixtures import LEGACY, audio_header, image_header, video_header


def _video(packets=12, every=4, ancillary_after=None) -> bytes:
    buf = io.BytesIO()
    with ContainerWriter(buf, video_header()) as w:
        for i in range(packets):
            w.write_packet([bytes([i]) * (i + 1)], pts=(i - 2) * 3003, duration=3003, random_access=i % every == 0)
            if ancillary_after == i:
                w.write_ancillary(7, b"something a later minor version adds")
    return buf.getvalue()


def test_signed_pts_durations_and_totals():
    f = parse_container(_video())
    assert [p.pts for p in f.packets][:3] == [-6006, -3003, 0]
    assert all(p.duration == 3003 for p in f.packets)
    assert f.end.frames == 12 and f.end.duration == 12 * 3003
    assert [e.pts for e in f.index] == [-6006, 6006, 18018]


def test_ancillary_packets_are_skipped():
    plain, extra = parse_container(_video()), parse_container(_video(ancillary_after=5))
    assert [p.segments for p in extra.packets] == [p.segments for p in plain.packets]


def test_unknown_non_ancillary_type_is_refused():
    buf = io.BytesIO()
    with ContainerWriter(buf, video_header()) as w:
        w.write_packet([b"a"])
        w._write(7, 0, 0, 0, b"a packet type nobody defined, without the ancillary flag")
    with pytest.raises(CorruptStreamError, match="unknown packet type 7"):
        parse_container(buf.getvalue())


def test_trailer_locates_the_end_without_scanning():
    data = _video()

    class CountingReads(io.BytesIO):
        bytes_out = 0

        def read(self, n=-1):
            out = super().read(n)
            CountingReads.bytes_out += len(out)
            return out

    reader = ContainerReader(CountingReads(data))
    CountingReads.bytes_out = 0
    end = reader.read_end()
    assert end.frames == 12 and len(end.index) == 3
    assert CountingReads.bytes_out < 64  # the trailer and the end packet, not the packets before


def test_seek_to_an_index_entry_continues_from_there():
    reader = ContainerReader(io.BytesIO(_video()))
    entry = reader.read_end().index[1]
    reader.seek_packet(entry.offset)
    packets = list(reader.packets())
    assert packets[0].pts == entry.pts and packets[0].random_access
    assert len(packets) == 8 and packets[0].index is None


def test_legacy_files_have_no_trailer_but_still_seek():
    data = build_container(image_header(**LEGACY), [(b"x",)])
    reader = ContainerReader(io.BytesIO(data))
    assert reader.header.version == (1, 0) and reader.read_end().data_packets == 1


def test_truncated_stream_yields_every_complete_packet_first():
    data = _video()
    f = parse_container(data)
    cut = f.packets[7].offset + 5
    reader = ContainerReader(io.BytesIO(data[:cut]))
    got = []
    with pytest.raises(CorruptStreamError) as info:
        for p in reader.packets():
            got.append(p)
    assert len(got) == 7 and info.value.packet == 7


@pytest.mark.parametrize("damage", ["tag", "crc", "pointer", "missing"])
def test_damaged_trailer_is_refused(damage):
    data = bytearray(build_container(audio_header(), [(b"a",)]))
    if damage == "tag":
        data[-1] ^= 1
    elif damage == "crc":
        data[-5] ^= 1
    elif damage == "pointer":
        data[-16] ^= 1
        import struct
        from codec.container.checksum import crc32c
        data[-8:-4] = struct.pack("<I", crc32c(bytes(data[-16:-8])))
    else:
        del data[-TRAILER_BYTES:]
    with pytest.raises(CorruptStreamError):
        parse_container(bytes(data))
    with pytest.raises(CorruptStreamError):
        ContainerReader(io.BytesIO(bytes(data))).read_end()


def test_old_reader_refuses_1_1_files_by_the_critical_field():
    """A 1.0 reader does not know field 7 and, because it is critical, refuses the file with a clear message."""
    from codec.container import fields

    data = build_container(image_header(), [(b"x",)])
    saved = dict(fields.BY_TAG)
    fields.BY_TAG.pop((7 << 1) | 1)
    try:
        with pytest.raises(UnsupportedVersionError, match="critical header field 7"):
            parse_container(data)
    finally:
        fields.BY_TAG.clear()
        fields.BY_TAG.update(saved)


def test_repeated_unknown_optional_field_is_refused():
    data = build_container(image_header(unknown_fields=((900 << 1, b"a"), (900 << 1, b"b"))), [(b"x",)])
    with pytest.raises(CorruptStreamError, match="appears twice"):
        parse_container(data)


def test_field_of_another_media_type_is_refused():
    from dataclasses import replace
    header = image_header()
    with pytest.raises(CorruptStreamError, match="does not belong"):
        replace(header, source=replace(header.source, sample_rate=48000)).to_bytes()
