"""AAC-LC with FFmpeg's native encoder (``aac``) through PyAV, in an M4A (MP4) file, 16 to 128 kbit/s.

The encoder runs at the source rate; the MP4 edit list tells FFmpeg's
decoder to drop the 1024 priming samples.
"""

from __future__ import annotations

from codec.eval.audio_baselines import PyAvAudioCodec
from codec.eval.codecs.base import Codec


class AacCodec(PyAvAudioCodec):
    name = "aac"
    label = "AAC-LC (FFmpeg aac)"
    extension = "m4a"
    encoder = "aac"
    muxer = "ipod"
    options = {"aac_coder": "twoloop"}
    rate_points = (16, 24, 32, 48, 64, 96, 128)


def codecs(**tools) -> list[Codec]:
    return [AacCodec()]
