"""A plain-dict description of a file, for ``codec info`` and for programs."""

from __future__ import annotations

from dataclasses import fields as dc_fields
from fractions import Fraction
from typing import Any

from codec.container.header import FILE_EXTENSION, MIME_TYPE
from codec.container.reader import ContainerFile
from codec.container.source import MATRIX, PRIMARIES, TRANSFER, ChromaFormat, MediaType


def summarize(file: ContainerFile) -> dict[str, Any]:
    """JSON-ready facts about a validated file: format, model, source, packets, rate."""
    header, packets, file_size = file.header, file.packets, file.size
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
                   "extension": FILE_EXTENSION, "mime_type": MIME_TYPE},
        "media_type": header.media_type.name.lower(),
        "model": {"id": header.model_id, "digest": header.model_digest.hex()},
        "quality": header.quality,
        "encoder": header.encoder,
        "source": source,
        "file_size": file_size,
        "packets": {
            "count": len(packets),
            "random_access": len(file.index),
            "payload_bytes": sum(p.size for p in packets),
        },
        "unknown_optional_fields": [tag >> 1 for tag, _ in header.unknown_fields],
    }
    if header.media_type is MediaType.IMAGE:
        info["bits_per_pixel"] = 8 * file_size / (header.source.width * header.source.height)
    return info


def format_summary(info: dict[str, Any], name: str) -> str:
    """Human-readable lines for :func:`summarize`'s dict."""
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
        lines.append(f"source:   {src['sample_rate']} Hz, {src['channels']} channels "
                     f"(layout 0x{src['channel_layout']:x})")
    pk = info["packets"]
    lines.append(f"packets:  {pk['count']} ({pk['random_access']} random-access), "
                 f"payload {pk['payload_bytes']:,} bytes")
    if "bits_per_pixel" in info:
        lines.append(f"rate:     {info['bits_per_pixel']:.4f} bits per pixel")
    if info["encoder"]:
        lines.append(f"encoder:  {info['encoder']}")
    if info["unknown_optional_fields"]:
        lines.append(f"skipped:  optional fields {info['unknown_optional_fields']} (from a newer minor version)")
    return "\n".join(lines)
