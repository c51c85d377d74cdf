"""Small headers of each media type, shared by the container and CLI tests."""

from __future__ import annotations

import hashlib
from fractions import Fraction

from codec.container import ChromaFormat, FileHeader, MediaType, SourceInfo

DIGEST = hashlib.sha256(b"test model").digest()
#: Header overrides that make a format 1.0 file (the packet layout before 1.1).
LEGACY = {"version": (1, 0), "packet_layout": 0}


def image_header(**overrides) -> FileHeader:
    fields = dict(media_type=MediaType.IMAGE, model_id="test-image", model_digest=DIGEST,
                  source=SourceInfo.srgb_image(64, 48), quality=3, encoder="tests")
    fields.update(overrides)
    return FileHeader(**fields)


def video_header() -> FileHeader:
    source = SourceInfo(width=352, height=288, bit_depth=8, components=3, chroma_format=ChromaFormat.YUV420,
                        colour_primaries=1, transfer=1, matrix=1, full_range=False,
                        time_base=Fraction(1, 90000), frame_rate=Fraction(30000, 1001), frame_count=3,
                        duration=9009)
    return FileHeader(media_type=MediaType.VIDEO, model_id="test-video", model_digest=DIGEST, source=source)


def audio_header() -> FileHeader:
    source = SourceInfo(sample_rate=48000, channels=6, channel_layout=0x3F, duration=480000)
    return FileHeader(media_type=MediaType.AUDIO, model_id="test-audio", model_digest=DIGEST, source=source)
