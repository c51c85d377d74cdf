"""A plain-dict description of a file, for ``codec info`` and for programs (``bitstream/SPEC.md`` section 8.1).

The description comes from one streaming pass over the file: every checksum
is verified, and memory holds one packet at a time whatever the file's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from fractions import Fraction
from typing import Any, BinaryIO

from codec.container.header import FILE_EXTENSION, MIME_TYPE, FileHeader
from codec.container.packet import EndInfo
from codec.container.reader import ContainerFile, ContainerReader
from codec.container.source import MATRIX, PRIMARIES, TRANSFER, ChromaFormat, MediaType


@dataclass(frozen=True)
class PacketTotals:
    count: int
    random_access: int
    payload_bytes: int


def scan(stream: BinaryIO, *, size: int | None = None) -> tuple[FileHeader, PacketTotals, EndInfo | None, int]:
    """Validate a whole file packet by packet; return its header, packet totals, end packet and size."""
    reader = ContainerReader(stream, size=size)
    count = ra = payload = 0
    for packet in reader.packets():
        count += 1
        ra += packet.random_access
        payload += packet.size
    return reader.header, PacketTotals(count, ra, payload), reader.end, reader.bytes_read


def check_file(path: str | os.PathLike[str]) -> None:
    """Raise CorruptStreamError unless the file at ``path`` is complete and every checksum holds.

    Writers run it on their temporary file before it takes its final name.
    """
    with open(path, "rb") as f:
        scan(f, size=_regular_size(f))


def describe_path(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, "rb") as f:
        header, totals, end, size = scan(f, size=_regular_size(f))
    return describe(header, totals, end, size)


def _regular_size(f) -> int | None:
    import stat

    st = os.fstat(f.fileno())
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def summarize(file: ContainerFile) -> dict[str, Any]:
    """The description of a file read whole (see :func:`describe`)."""
    totals = PacketTotals(len(file.packets), sum(p.random_access for p in file.packets),
                          sum(p.size for p in file.packets))
    return describe(file.header, totals, file.end, file.size)


def describe(header: FileHeader, totals: PacketTotals, end: EndInfo | None, file_size: int) -> dict[str, Any]:
    """JSON-ready facts about a validated file: format, model, source, packets, totals and rate."""
    source: dict[str, Any] = {}
    for f in dc_fields(header.source):
        value = getattr(header.source, f.name)
        if value is None:
            continue
        if isinstance(value, Fraction):
            value = f"{value.numerator}/{value.denominator}"
        elif isinstance(value, ChromaFormat):
            value = value.name.lower()
        source[f.name] = value
    info: dict[str, Any] = {
        "format": {"name": "NMC", "version": f"{header.version[0]}.{header.version[1]}",
                   "packet_layout": header.packet_layout, "extension": FILE_EXTENSION, "mime_type": MIME_TYPE},
        "media_type": header.media_type.name.lower(),
        "model": {"id": header.model_id, "digest": header.model_digest.hex()},
        "quality": header.quality,
        "encoder": header.encoder,
        "source": source,
        "file_size": file_size,
        "packets": {"count": totals.count, "random_access": totals.random_access,
                    "payload_bytes": totals.payload_bytes},
        "unknown_optional_fields": [tag >> 1 for tag, _ in header.unknown_fields],
    }
    if header.media_type is MediaType.IMAGE:
        info["bits_per_pixel"] = 8 * file_size / (header.source.width * header.source.height)
    else:
        frames = end.frames if end is not None and end.frames else header.source.frame_count
        units = end.duration if end is not None and end.duration else header.source.duration
        seconds = None
        if units:
            unit = (Fraction(1, header.source.sample_rate) if header.media_type is MediaType.AUDIO
                    else header.source.time_base)
            seconds = float(units * unit)
        info["frames"] = frames
        info["duration_seconds"] = seconds
        info["bits_per_second"] = 8 * file_size / seconds if seconds else None
    return info


def format_summary(info: dict[str, Any], name: str) -> str:
    """Human-readable lines for :func:`describe`'s dict (and the decodability the CLI adds)."""
    src = info["source"]
    lines = [
        f"file:     {name} ({info['file_size']:,} bytes)",
        f"format:   NMC {info['format']['version']} ({info['format']['mime_type']})",
        f"media:    {info['media_type']}",
        f"model:    {info['model']['id']} (digest {info['model']['digest'][:16]}...)",
    ]
    if info["quality"] is not None:
        lines.append(f"quality:  {info['quality']}")
    if info["media_type"] in ("image", "video"):
        desc = (f"{src['width']}x{src['height']}, {src['components']} components, {src['bit_depth']}-bit, "
                f"{src['chroma_format']}, matrix {MATRIX.get(src['matrix'], src['matrix'])}, "
                f"{'full' if src['full_range'] else 'limited'} range, "
                f"primaries {PRIMARIES.get(src['colour_primaries'], src['colour_primaries'])}, "
                f"transfer {TRANSFER.get(src['transfer'], src['transfer'])}")
        if info["media_type"] == "video":
            desc += f", {src['frame_rate']} fps"
        lines.append(f"source:   {desc}")
    else:
        lines.append(f"source:   {src['sample_rate']} Hz, {src['channels']} channel{'' if src['channels'] == 1 else 's'} "
                     f"(layout 0x{src['channel_layout']:x})")
    pk = info["packets"]
    lines.append(f"packets:  {pk['count']} ({pk['random_access']} random-access), "
                 f"payload {pk['payload_bytes']:,} bytes")
    if "bits_per_pixel" in info:
        lines.append(f"rate:     {info['bits_per_pixel']:.4f} bits per pixel")
    elif info.get("duration_seconds"):
        frames = f"{info['frames']} frames, " if info.get("frames") and info["media_type"] == "video" else ""
        lines.append(f"duration: {frames}{info['duration_seconds']:.3f} s")
        lines.append(f"rate:     {info['bits_per_second'] / 1000:.2f} kbit/s")
    if info["encoder"]:
        lines.append(f"encoder:  {info['encoder']}")
    if info["unknown_optional_fields"]:
        lines.append(f"skipped:  optional fields {info['unknown_optional_fields']} (from a newer minor version)")
    if "decodable" in info:
        d = info["decodable"]
        params = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in d.get("params", {}).items())
        lines.append(f"decode:   {'yes' if d['ok'] else 'no'}: {d['reason']}" + (f" ({params})" if params else ""))
    return "\n".join(lines)
