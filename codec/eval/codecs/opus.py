"""Opus (libopus through PyAV) in Ogg: VBR, application "audio", 20 ms frames, 6 to 64 kbit/s.

libopus codes at 8/12/16/24/48 kHz; other sources (44.1 kHz) are resampled to
48 kHz by FFmpeg. Opus decoders output 48 kHz whatever the input was, so the
decoded signal is resampled back to the source rate, which the file records
in a comment of its OpusTags header (``SOURCE_RATE``; it counts in the
whole-file rate, not in the payload rate).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from codec.eval.audio_baselines import PyAvAudioCodec
from codec.eval.codecs.base import Codec
from codec.eval.media.audio import BaselineDecode

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


class OpusCodec(PyAvAudioCodec):
    extension = "opus"
    encoder = "libopus"
    muxer = "ogg"

    def __init__(self, application: str = "audio", default: bool = True) -> None:
        self.application = application
        self.options = {"application": application, "vbr": "on", "frame_duration": "20"}
        self.name = "opus" if application == "audio" else f"opus-{application}"
        self.label = f"Opus (libopus, VBR, application {application})"
        self.rate_points = (6, 8, 10, 12, 16, 24, 32, 48, 64)
        self.default = default

    def encode_rate(self, sample_rate: int) -> int:
        return sample_rate if sample_rate in OPUS_RATES else 48000

    def metadata(self, sample_rate: int) -> dict[str, str]:
        return {"SOURCE_RATE": str(sample_rate)}

    def decode(self, path: Path) -> BaselineDecode:
        import av

        decoded = super().decode(path)
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            tags = {k.upper(): v for k, v in {**container.metadata, **stream.metadata}.items()}
            decoded_rate = stream.codec_context.sample_rate or 48000
        source_rate = int(tags.get("SOURCE_RATE", decoded_rate))
        if source_rate == decoded_rate:
            return decoded
        from scipy.signal import resample_poly

        g = math.gcd(source_rate, decoded_rate)
        samples = resample_poly(decoded.samples.astype(np.float64), source_rate // g, decoded_rate // g, axis=0)
        return BaselineDecode(samples.astype(np.float32), decoded.payload_bytes)


def codecs(**tools) -> list[Codec]:
    return [OpusCodec("audio"), OpusCodec("voip", default=False)]
