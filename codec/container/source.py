"""What a file says about its source media: kind, geometry and meaning.

Colour description uses the code points of ITU-T H.273 (the same numbers as
HEVC/AV1/VVC/PNG cICP), so a decoder can hand them to any player unchanged.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from fractions import Fraction

from codec.errors import CorruptStreamError

# Limits that keep a decoder's allocations bounded whatever a file claims.
MAX_DIMENSION = 65535
MAX_PIXELS = 1 << 28
MAX_CHANNELS = 64
MAX_SAMPLE_RATE = 768_000


class MediaType(enum.IntEnum):
    IMAGE = 1
    VIDEO = 2
    AUDIO = 3


class ChromaFormat(enum.IntEnum):
    YUV400 = 0
    YUV420 = 1
    YUV422 = 2
    YUV444 = 3


# H.273 code points, named for display only; any value 0-255 is stored as-is.
PRIMARIES = {1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 12: "p3-d65"}
TRANSFER = {1: "bt709", 2: "unspecified", 8: "linear", 13: "srgb", 16: "pq", 18: "hlg"}
MATRIX = {0: "identity (RGB)", 1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020-ncl"}


@dataclass(frozen=True)
class SourceInfo:
    """Description of the source; which fields are required depends on the media type.

    Images and video: ``width``, ``height``, ``bit_depth``, ``components``,
    ``chroma_format``, ``colour_primaries``, ``transfer``, ``matrix``,
    ``full_range``. Video adds ``time_base`` and ``frame_rate``. Audio:
    ``sample_rate``, ``channels`` and ``channel_layout`` (a WAVE/FFmpeg
    speaker mask, 0 when unknown).
    """

    width: int | None = None
    height: int | None = None
    bit_depth: int | None = None
    components: int | None = None
    chroma_format: ChromaFormat | None = None
    colour_primaries: int | None = None
    transfer: int | None = None
    matrix: int | None = None
    full_range: bool | None = None
    time_base: Fraction | None = None
    frame_rate: Fraction | None = None
    frame_count: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    channel_layout: int | None = None
    duration: int | None = None

    @classmethod
    def srgb_image(cls, width: int, height: int, *, components: int = 3, bit_depth: int = 8) -> "SourceInfo":
        """The usual description of an 8-bit sRGB photograph stored as RGB samples."""
        return cls(
            width=width, height=height, bit_depth=bit_depth, components=components,
            chroma_format=ChromaFormat.YUV444, colour_primaries=1, transfer=13, matrix=0, full_range=True,
        )


_VISUAL_REQUIRED = ("width", "height", "bit_depth", "components", "chroma_format",
                    "colour_primaries", "transfer", "matrix", "full_range")
REQUIRED_FIELDS: dict[MediaType, tuple[str, ...]] = {
    MediaType.IMAGE: _VISUAL_REQUIRED,
    MediaType.VIDEO: _VISUAL_REQUIRED + ("time_base", "frame_rate"),
    MediaType.AUDIO: ("sample_rate", "channels", "channel_layout"),
}


_VISUAL = frozenset(_VISUAL_REQUIRED)
#: The source fields each media type may carry; any other is an error (a reader would not know its meaning).
ALLOWED_FIELDS: dict[MediaType, frozenset[str]] = {
    MediaType.IMAGE: _VISUAL,
    MediaType.VIDEO: _VISUAL | {"time_base", "frame_rate", "frame_count", "duration"},
    MediaType.AUDIO: frozenset({"sample_rate", "channels", "channel_layout", "duration"}),
}


def validate_source(media_type: MediaType, source: SourceInfo, *, offset: int | None = None) -> None:
    """Check that ``source`` is complete and within the limits for ``media_type``.

    Raises :class:`CorruptStreamError`; the writer calls this too, so a file
    that passes writing always passes reading.
    """
    def fail(msg: str) -> None:
        raise CorruptStreamError(f"invalid source description: {msg}", offset=offset)

    for name in REQUIRED_FIELDS[media_type]:
        if getattr(source, name) is None:
            fail(f"{media_type.name.lower()} file lacks required field '{name}'")
    for f in dataclasses.fields(SourceInfo):
        if getattr(source, f.name) is not None and f.name not in ALLOWED_FIELDS[media_type]:
            fail(f"field '{f.name}' does not belong to a {media_type.name.lower()} file")
    if media_type in (MediaType.IMAGE, MediaType.VIDEO):
        if not (1 <= source.width <= MAX_DIMENSION and 1 <= source.height <= MAX_DIMENSION):
            fail(f"dimensions {source.width}x{source.height} outside 1..{MAX_DIMENSION}")
        if source.width * source.height > MAX_PIXELS:
            fail(f"{source.width}x{source.height} exceeds {MAX_PIXELS} pixels")
        if not 1 <= source.bit_depth <= 16:
            fail(f"bit depth {source.bit_depth} outside 1..16")
        if source.components not in (1, 2, 3, 4):
            fail(f"component count {source.components} not in 1..4")
        for name in ("colour_primaries", "transfer", "matrix"):
            if not 0 <= getattr(source, name) <= 255:
                fail(f"{name} {getattr(source, name)} is not an H.273 code point")
    if media_type is MediaType.VIDEO:
        for name in ("time_base", "frame_rate"):
            value = getattr(source, name)
            if value <= 0:
                fail(f"{name} {value} must be positive")
    if media_type is MediaType.AUDIO:
        if not 1 <= source.sample_rate <= MAX_SAMPLE_RATE:
            fail(f"sample rate {source.sample_rate} outside 1..{MAX_SAMPLE_RATE}")
        if not 1 <= source.channels <= MAX_CHANNELS:
            fail(f"channel count {source.channels} outside 1..{MAX_CHANNELS}")
        if source.channel_layout and bin(source.channel_layout).count("1") != source.channels:
            fail(f"channel layout 0x{source.channel_layout:x} does not have {source.channels} channels")
