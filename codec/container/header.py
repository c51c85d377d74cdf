"""The file header: magic, format version, model identity and source description.

Layout (all integers little-endian; see ``bitstream/SPEC.md`` section 3)::

    magic          8 bytes  89 4E 4D 43 0D 0A 1A 0A  ("\\x89NMC\\r\\n\\x1a\\n")
    version_major  u8
    version_minor  u8
    fields_length  u32      byte length of the field list, 1..MAX_HEADER_FIELDS_BYTES
    fields         tag-length-value list (``codec.container.fields``)
    header_crc     u32      CRC-32C of every byte above
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields as dc_fields

from codec.container.checksum import crc32c
from codec.container.fields import BY_NAME, BY_TAG, decode_value, encode_value
from codec.container.packet import LAYOUT_1_0, LAYOUT_1_1, LAYOUTS
from codec.container.source import ChromaFormat, MediaType, SourceInfo, validate_source
from codec.container.varint import decode_varint, encode_varint
from codec.errors import CorruptStreamError, UnsupportedVersionError

MAGIC = b"\x89NMC\r\n\x1a\n"
VERSION = (1, 1)
#: Format 1.0: the version and packet layout of files written before 1.1 (conformance files use it).
VERSION_1_0 = (1, 0)
FILE_EXTENSION = ".nmc"
MIME_TYPE = "application/x-nmc"
MAX_HEADER_FIELDS_BYTES = 1 << 16
_FIXED = struct.Struct("<8sBBI")
DIGEST_BYTES = 32


@dataclass(frozen=True)
class FileHeader:
    """Everything a reader learns before the first packet."""

    media_type: MediaType
    model_id: str
    model_digest: bytes
    source: SourceInfo
    codec_params: bytes = b""
    quality: int | None = None
    encoder: str | None = None
    version: tuple[int, int] = VERSION
    # 0: the packets of format 1.0; 1: those of 1.1 (signed pts, durations, ancillary packets, trailer).
    packet_layout: int = LAYOUT_1_1
    # Optional fields this reader does not know, kept as (tag, value) so tools can show them.
    unknown_fields: tuple[tuple[int, bytes], ...] = field(default=())

    def to_bytes(self) -> bytes:
        """Serialize; validates first, so an invalid header is never written."""
        _check_identity(self, offset=None)
        if self.packet_layout not in LAYOUTS:
            raise ValueError(f"unknown packet layout {self.packet_layout}")
        validate_source(self.media_type, self.source)
        body = bytearray()
        values = {"media_type": int(self.media_type), "model_id": self.model_id,
                  "model_digest": self.model_digest, "codec_params": self.codec_params or None,
                  "quality": self.quality, "encoder": self.encoder,
                  "packet_layout": self.packet_layout if self.packet_layout != LAYOUT_1_0 else None}
        for f in dc_fields(SourceInfo):
            values[f.name] = getattr(self.source, f.name)
        for name, value in values.items():
            if value is None:
                continue
            fdef = BY_NAME[name]
            data = encode_value(fdef, value)
            body += encode_varint(fdef.tag) + encode_varint(len(data)) + data
        for tag, data in self.unknown_fields:
            body += encode_varint(tag) + encode_varint(len(data)) + data
        if len(body) > MAX_HEADER_FIELDS_BYTES:
            raise ValueError("header fields exceed 64 KiB")
        head = _FIXED.pack(MAGIC, self.version[0], self.version[1], len(body)) + bytes(body)
        return head + struct.pack("<I", crc32c(head))


def _check_identity(header: FileHeader, offset: int | None) -> None:
    if not header.model_id:
        raise CorruptStreamError("header lacks a model id", offset=offset)
    if len(header.model_digest) != DIGEST_BYTES:
        raise CorruptStreamError(f"model digest must be {DIGEST_BYTES} bytes, got {len(header.model_digest)}",
                                 offset=offset)


def parse_header(read, *, file_size: int | None = None) -> tuple[FileHeader, int]:
    """Read and validate a header with ``read(n) -> bytes``; return it and its byte length.

    The version is checked before the checksum, so a file from a newer major
    version gets the helpful message rather than a checksum complaint.
    """
    fixed = read(_FIXED.size)
    if not fixed or not (fixed.startswith(MAGIC) or MAGIC.startswith(fixed)):
        raise CorruptStreamError("not a neural media codec file (bad magic bytes)", offset=0)
    if len(fixed) < _FIXED.size:
        raise CorruptStreamError("truncated file header", offset=len(fixed))
    _, major, minor, body_len = _FIXED.unpack(fixed)
    if major != VERSION[0]:
        raise UnsupportedVersionError(
            f"file format version {major}.{minor} is not supported by this reader "
            f"(it reads {VERSION[0]}.x); use a matching release of the codec package")
    if body_len == 0 or body_len > MAX_HEADER_FIELDS_BYTES:
        raise CorruptStreamError(f"header length {body_len} is invalid (1..{MAX_HEADER_FIELDS_BYTES})", offset=10)
    if file_size is not None and _FIXED.size + body_len + 4 > file_size:
        raise CorruptStreamError(f"truncated file header: it needs {_FIXED.size + body_len + 4} bytes, "
                                 f"the file has {file_size}", offset=file_size)
    body = read(body_len)
    crc_bytes = read(4)
    if len(body) < body_len or len(crc_bytes) < 4:
        raise CorruptStreamError("truncated file header", offset=_FIXED.size + len(body) + len(crc_bytes))
    (stored_crc,) = struct.unpack("<I", crc_bytes)
    if crc32c(fixed + body) != stored_crc:
        raise CorruptStreamError("file header checksum mismatch", offset=_FIXED.size + body_len)
    header = _parse_fields(body, (major, minor))
    return header, _FIXED.size + body_len + 4


def _parse_fields(body: bytes, version: tuple[int, int]) -> FileHeader:
    values: dict[str, object] = {}
    unknown: list[tuple[int, bytes]] = []
    seen_unknown: set[int] = set()
    pos = 0
    base = _FIXED.size
    while pos < len(body):
        field_start = pos
        tag, pos = decode_varint(body, pos, base_offset=base)
        length, pos = decode_varint(body, pos, base_offset=base)
        if length > len(body) - pos:
            raise CorruptStreamError("header field runs past the header", offset=base + field_start)
        data = body[pos: pos + length]
        fdef = BY_TAG.get(tag)
        if fdef is None:
            if tag & 1:
                raise UnsupportedVersionError(
                    f"file uses critical header field {tag >> 1} that this reader does not know; "
                    f"it needs a newer release of the codec package")
            if tag in seen_unknown:
                raise CorruptStreamError(f"header tag {tag} appears twice", offset=base + field_start)
            seen_unknown.add(tag)
            unknown.append((tag, bytes(data)))
        elif fdef.name in values:
            raise CorruptStreamError(f"header field '{fdef.name}' appears twice", offset=base + field_start)
        else:
            values[fdef.name] = decode_value(fdef, data, base + pos)
        pos += length

    for name in ("media_type", "model_id", "model_digest"):
        if name not in values:
            raise CorruptStreamError(f"header lacks required field '{name}'", offset=base)
    try:
        media_type = MediaType(values.pop("media_type"))
    except ValueError:
        raise CorruptStreamError("unknown media type", offset=base) from None
    seen = set(values)
    source_names = {f.name for f in dc_fields(SourceInfo)}
    source_values = {k: values.pop(k) for k in list(values) if k in source_names}
    if "chroma_format" in source_values:
        try:
            source_values["chroma_format"] = ChromaFormat(source_values["chroma_format"])
        except ValueError:
            raise CorruptStreamError("unknown chroma format", offset=base) from None
    source = SourceInfo(**source_values)
    validate_source(media_type, source, offset=base)
    layout = values.pop("packet_layout", LAYOUT_1_0)
    if layout not in LAYOUTS:
        raise UnsupportedVersionError(f"file uses packet layout {layout}, which this reader does not know; "
                                      f"it needs a newer release of the codec package")
    if layout == LAYOUT_1_0 and "packet_layout" in seen:
        raise CorruptStreamError("header field 'packet_layout' must not be 0 (omit it for format 1.0)",
                                 offset=base)
    header = FileHeader(media_type=media_type, source=source, version=version, packet_layout=layout,
                        unknown_fields=tuple(unknown), **values)
    _check_identity(header, offset=base)
    return header

