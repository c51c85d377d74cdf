"""A toy model family for the contract tests: 8-bit RGB pixels stored as they are, quantized by a step.

It is everything a family must declare and implement, in a few lines, and it
lives outside the package: the tests register it through the
``CODEC_PLUGINS`` environment variable, which also reaches worker processes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from codec.container import MediaType
from codec.errors import CorruptStreamError
from codec.models.base import (
    CodedPacket, DecoderSession, EncoderSession, Exactness, Family, Model, ModelEntry, RateControl,
)

DIGEST = hashlib.sha256(b"toy-raw: RGB bytes quantized by a step of 2^(8-quality)").hexdigest()


def _step(quality: float) -> int:
    return 1 << (8 - int(round(quality)))


class ToyEncoder(EncoderSession):
    def __init__(self, quality: float) -> None:
        self.q = int(round(quality))

    @property
    def codec_params(self) -> bytes:
        return bytes([self.q])

    @property
    def quality(self) -> int:
        return self.q

    def encode(self, item: np.ndarray):
        return [CodedPacket((np.ascontiguousarray(item // _step(self.q)).astype(np.uint8).tobytes(),))]


class ToyDecoder(DecoderSession):
    def __init__(self, header) -> None:
        self.header = header
        self.q = header.codec_params[0]

    def decode(self, packet):
        src = self.header.source
        (data,) = packet.segments
        if len(data) != src.width * src.height * 3:
            raise CorruptStreamError("toy payload has the wrong size", packet=packet.index, offset=packet.offset)
        step = _step(self.q)
        pixels = np.frombuffer(data, np.uint8).reshape(src.height, src.width, 3).astype(np.int32) * step
        return [np.clip(pixels + step // 2, 0, 255).astype(np.uint8)]


class ToyModel(Model):
    @property
    def rate_control(self) -> RateControl:
        return self.family.rate_control(self.entry)

    def encoder(self, source, options):
        return ToyEncoder(self.rate_control.check_quality(options.quality or 8))

    def decoder(self, header, options):
        return ToyDecoder(header)

    def exact_fingerprint(self, header, packets, device="cpu") -> str:
        return hashlib.sha256(b"".join(s for p in packets for s in p.segments)).hexdigest()


class ToyFamily(Family):
    name = "toy"
    media = MediaType.IMAGE
    default_rank = 1000
    exactness = Exactness.SAMPLES
    models = (ModelEntry("toy-raw", 1, None, DIGEST, "test family: raw pixels"),)

    def rate_control(self, entry):
        return RateControl(qualities=8, default_quality=8, continuous=False)

    def load(self, entry, weights):
        return ToyModel(self, entry)

    def check_params(self, header):
        if len(header.codec_params) != 1 or not 1 <= header.codec_params[0] <= 8:
            raise CorruptStreamError("toy parameters are one byte 1..8")
        return {"quality": header.codec_params[0]}


FAMILY = ToyFamily()
