"""MP3 with LAME (``libmp3lame``) through PyAV, CBR, 8 to 128 kbit/s.

LAME clamps a bitrate to what the MPEG layer allows at the source rate
(MPEG-1 at 32-48 kHz starts at 32 kbit/s; MPEG-2 at 16-24 kHz at 8): the
evaluator records the rate of what was written, so clamped points repeat.
The LAME header's delay and padding let FFmpeg's decoder drop the priming.
"""

from __future__ import annotations

from codec.eval.audio_baselines import PyAvAudioCodec
from codec.eval.codecs.base import Codec


class Mp3Codec(PyAvAudioCodec):
    name = "mp3"
    label = "MP3 (LAME, CBR)"
    extension = "mp3"
    encoder = "libmp3lame"
    muxer = "mp3"
    rate_points = (8, 16, 24, 32, 48, 64, 96, 128)


def codecs(**tools) -> list[Codec]:
    return [Mp3Codec()]
