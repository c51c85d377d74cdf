"""A preview from the first bytes of an hvae file: decode the complete segments of a truncated file.

The data packet's segments are the latent groups, coarse to fine, so the
bytes of a file up to the end of segment ``k`` hold everything the first
``k`` groups need (bitstream/models/hvae.md section 3). This reads a file
prefix the way the container does (header checked with its CRC; packet
head and segment table parsed with the same bounds), keeps the segments that
are complete, and decodes them with the later groups at their prior means.

The packet's CRC covers the whole payload, so the segments of a prefix are
**not verified**: a damaged prefix decodes to a wrong image or raises
:class:`~codec.errors.CorruptStreamError`, never crashes. Readers of whole
files use ``codec decode --groups K``, which verifies everything.

>>> image, groups = preview(first_bytes)         # e.g. the first 10 % of a download
"""

from __future__ import annotations

import io

import numpy as np

from codec.container.header import parse_header
from codec.container.packet import LAYOUT_1_1, MAX_SEGMENTS, PACKET_MARKER, PacketType, head_varint_count
from codec.container.source import MediaType
from codec.container.varint import decode_svarint, decode_varint
from codec.errors import BadInputError, CorruptStreamError
from codec.models.base import Model
from codec.models.image.hvae.family import FAMILY, LEVEL_STEPS, check_source, decode_params


def complete_segments(data: bytes) -> tuple[object, list[bytes]]:
    """(header, the complete segments of the data packet) of a file prefix."""
    stream = io.BytesIO(data)
    header, pos = parse_header(stream.read)
    if header.media_type is not MediaType.IMAGE:
        raise BadInputError("not an image file")
    if len(data) < pos + 3:
        raise CorruptStreamError("the prefix ends before the data packet", offset=len(data))
    if data[pos] != PACKET_MARKER or data[pos + 1] != PacketType.DATA:
        raise CorruptStreamError("bad data packet head", offset=pos)
    at = pos + 3
    values = []
    for i in range(head_varint_count(header.packet_layout)):
        signed = i == 0 and header.packet_layout == LAYOUT_1_1
        value, at = (decode_svarint if signed else decode_varint)(data, at)
        values.append(value)
    count, at = decode_varint(data, at)
    if not 1 <= count <= MAX_SEGMENTS:
        raise CorruptStreamError(f"{count} segments: not a valid data packet", offset=at)
    lengths = []
    for _ in range(count):
        length, at = decode_varint(data, at)
        lengths.append(length)
    if sum(lengths) > values[-1]:
        raise CorruptStreamError("segment lengths exceed the packet length", offset=at)
    segments = []
    for length in lengths:
        if at + length > len(data):
            break
        segments.append(data[at: at + length])
        at += length
    return header, segments


def preview(data: bytes, *, weights: Model | None = None, threads: int = 1) -> tuple[np.ndarray, int]:
    """(RGB image, groups decoded) from a prefix of an hvae file; at least the first segment must be complete."""
    header, segments = complete_segments(bytes(data))
    if weights is None:
        from codec.zoo import model_for_header

        model = model_for_header(header)
    else:
        model = weights
    if model.family.name != FAMILY.name:
        raise BadInputError(f"a preview from a prefix needs an hvae file, not a {model.family.name} one")
    check_source(header.source, decoding=True)
    level, groups = decode_params(header.codec_params, model.coder.levels)
    if groups != model.coder.groups:
        raise CorruptStreamError(f"the file declares {groups} latent groups; the model has {model.coder.groups}")
    if not segments:
        raise CorruptStreamError("the prefix holds no complete segment: nothing to preview", offset=len(data))
    k = len(segments)
    padded = segments + [b""] * (groups - k)
    src = header.source
    try:
        image = model.coder.decompress(padded, src.height, src.width, round(level * LEVEL_STEPS), groups=k,
                                       threads=threads)
    except ValueError as exc:
        raise CorruptStreamError(f"entropy-coded data is invalid: {exc}") from None
    return image, k
