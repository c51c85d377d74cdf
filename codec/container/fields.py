"""The header's field table: numbers, value types, and which fields are critical.

A header is a list of tag-length-value fields. ``tag = (field_id << 1) | critical``:
a reader that meets an unknown tag with the critical bit set must refuse the
file (it would decode it wrongly), and skips an unknown tag without it. That
is how minor versions add information that older readers may ignore.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from codec.container.varint import decode_varint, encode_varint
from codec.errors import CorruptStreamError

MAX_STRING_BYTES = 1024


@dataclass(frozen=True)
class FieldDef:
    field_id: int
    name: str
    kind: str  # "uint", "bool", "bytes", "utf8" or "rational"
    critical: bool
    in_source: bool  # stored on SourceInfo rather than on FileHeader

    @property
    def tag(self) -> int:
        return (self.field_id << 1) | int(self.critical)


FIELDS: tuple[FieldDef, ...] = (
    FieldDef(1, "media_type", "uint", True, False),
    FieldDef(2, "model_id", "utf8", True, False),
    FieldDef(3, "model_digest", "bytes", True, False),
    FieldDef(4, "codec_params", "bytes", True, False),
    FieldDef(5, "quality", "uint", False, False),
    FieldDef(6, "encoder", "utf8", False, False),
    FieldDef(7, "packet_layout", "uint", True, False),
    FieldDef(10, "width", "uint", True, True),
    FieldDef(11, "height", "uint", True, True),
    FieldDef(12, "bit_depth", "uint", True, True),
    FieldDef(13, "components", "uint", True, True),
    FieldDef(14, "chroma_format", "uint", True, True),
    FieldDef(15, "colour_primaries", "uint", True, True),
    FieldDef(16, "transfer", "uint", True, True),
    FieldDef(17, "matrix", "uint", True, True),
    FieldDef(18, "full_range", "bool", True, True),
    FieldDef(20, "time_base", "rational", True, True),
    FieldDef(21, "frame_rate", "rational", True, True),
    FieldDef(22, "frame_count", "uint", False, True),
    FieldDef(30, "sample_rate", "uint", True, True),
    FieldDef(31, "channels", "uint", True, True),
    FieldDef(32, "channel_layout", "uint", True, True),
    FieldDef(40, "duration", "uint", False, True),
)
BY_TAG = {f.tag: f for f in FIELDS}
BY_NAME = {f.name: f for f in FIELDS}


def encode_value(field: FieldDef, value: Any) -> bytes:
    """Serialize one field value according to its kind."""
    if field.kind == "uint":
        return encode_varint(int(value))
    if field.kind == "bool":
        return bytes([1 if value else 0])
    if field.kind == "bytes":
        return bytes(value)
    if field.kind == "utf8":
        data = str(value).encode("utf-8")
        if len(data) > MAX_STRING_BYTES:
            raise ValueError(f"{field.name} longer than {MAX_STRING_BYTES} bytes")
        return data
    if field.kind == "rational":
        frac = Fraction(value)
        if frac <= 0:
            raise ValueError(f"{field.name} must be positive, got {value}")
        return encode_varint(frac.numerator) + encode_varint(frac.denominator)
    raise AssertionError(f"unknown field kind {field.kind}")


def decode_value(field: FieldDef, data: bytes, offset: int) -> Any:
    """Parse one field value; ``offset`` is the value's position in the file, for errors."""
    def fail(msg: str) -> None:
        raise CorruptStreamError(f"header field '{field.name}': {msg}", offset=offset)

    if field.kind in ("uint", "rational"):
        count = 1 if field.kind == "uint" else 2
        numbers, pos = [], 0
        for _ in range(count):
            value, pos = decode_varint(data, pos, base_offset=offset)
            numbers.append(value)
        if pos != len(data):
            fail("trailing bytes in value")
        if field.kind == "uint":
            return numbers[0]
        if numbers[1] == 0:
            fail("zero denominator")
        return Fraction(numbers[0], numbers[1])
    if field.kind == "bool":
        if data not in (b"\x00", b"\x01"):
            fail("boolean must be one byte, 0 or 1")
        return data == b"\x01"
    if field.kind == "bytes":
        return bytes(data)
    if field.kind == "utf8":
        if len(data) > MAX_STRING_BYTES:
            fail(f"longer than {MAX_STRING_BYTES} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            fail("not valid UTF-8")
    raise AssertionError(f"unknown field kind {field.kind}")
