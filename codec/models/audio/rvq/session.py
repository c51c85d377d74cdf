"""The RVQ audio family behind the codec contract: a loaded model and its encoder and decoder sessions.

Items are float32 arrays of shape (samples, channels) at the source rate, in
any block size; packets are fixed (``packet_frames`` latent frames) and each
is a random-access point. The encoder turns a quality level or a target
bitrate (all channels together) into a bit budget per packet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.container.source import SourceInfo
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.models.audio.rvq.coder import Geometry, StreamDecoder, StreamEncoder, unpack, fingerprint_update
from codec.models.audio.rvq.family import (
    DEFAULT_PACKET_FRAMES, TRANSFORM_DCT, TRANSFORM_NONE, decode_params, encode_params, level_bitrate, nearest_level,
)
from codec.models.audio.rvq.model_file import load_model_bytes
from codec.models.base import (
    CodedPacket, DecodeOptions, DecoderSession, EncodeOptions, EncoderSession, Family, Model, ModelEntry,
)

MAX_CHANNELS = 8


class RvqAudioModel(Model):
    def __init__(self, family: Family, entry: ModelEntry, weights: bytes | None) -> None:
        super().__init__(family, entry)
        if weights is None:
            raise ValueError("the rvq family needs a weights file")
        self.loaded = load_model_bytes(weights, entry.weights or entry.id)

    def geometry(self, rate: int, channels: int, frames: int) -> Geometry:
        cfg = self.loaded.config
        return Geometry(rate, channels, frames, cfg.hop, cfg.sample_rate, cfg.analysis_lag, cfg.decoder_lag)

    def encoder(self, source: SourceInfo, options: EncodeOptions) -> EncoderSession:
        return RvqEncoder(self, source, options)

    def decoder(self, header: FileHeader, options: DecodeOptions) -> DecoderSession:
        return RvqDecoder(self, header, options)

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """SHA-256 over every packet of its codebook counts (bytes) and its codes (int32 LE, channel, level,
        frame order, zeros beyond the counts): the symbols, exact on every machine. Only the entropy
        decoder and the integer prior tables decide them, so ``device`` changes nothing here."""
        params = decode_params(header.codec_params)
        geo = self.geometry(header.source.sample_rate, header.source.channels, params["packet_frames"])
        h = hashlib.sha256()
        for packet in packets:
            fingerprint_update(h, *unpack(self.loaded, geo, packet.segments))
        return h.hexdigest()


def _checked_source(source: SourceInfo) -> None:
    if not 1 <= (source.channels or 0) <= MAX_CHANNELS:
        raise BadInputError(f"{source.channels} channels: the rvq model codes 1 to {MAX_CHANNELS}")


class RvqEncoder(EncoderSession):
    def __init__(self, model: RvqAudioModel, source: SourceInfo, options: EncodeOptions) -> None:
        rc = model.rate_control
        rc.check_preset(options.preset)
        if options.quality is not None and options.target is not None:
            raise UsageError("give a quality or a target bitrate, not both")
        if options.target is not None:
            if not (isinstance(options.target, (int, float)) and options.target > 0):
                raise UsageError(f"target bitrate must be a positive number, got {options.target!r}")
            self.target = float(options.target)
            self._quality = nearest_level(self.target)
        else:
            quality = rc.check_quality(rc.default_quality if options.quality is None else options.quality)
            self.target = level_bitrate(quality)
            self._quality = round(quality)
        _checked_source(source)
        frames = options.extra.get("packet_frames") or DEFAULT_PACKET_FRAMES
        geo = model.geometry(source.sample_rate, source.channels, frames)
        try:
            self.stream = StreamEncoder(model.loaded, geo, self.target, threads=options.threads)
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
        self.source = source
        self.transform = TRANSFORM_NONE if source.channels == 1 else TRANSFORM_DCT
        self._params = encode_params(frames, self.transform, int(round(self.target)))

    @property
    def codec_params(self) -> bytes:
        return self._params

    @property
    def quality(self) -> int | None:
        return self._quality

    def encode(self, item: np.ndarray) -> Iterable[CodedPacket]:
        block = np.asarray(item)
        if block.ndim == 1 and self.source.channels == 1:
            block = block[:, None]
        if block.ndim != 2 or block.shape[1] != self.source.channels:
            raise UsageError(f"audio blocks must be (samples, {self.source.channels}) arrays, got shape {block.shape}")
        if block.dtype.kind in "iu":
            from codec.media.audio import to_float

            block = to_float(block)     # integer PCM: scaled to [-1, 1)
        elif block.dtype.kind != "f":
            raise UsageError(f"audio blocks must hold PCM samples (float in -1..1, or integers), got {block.dtype}")
        if block.size and not np.isfinite(block).all():
            raise BadInputError("audio block holds NaN or infinite samples")
        return [self._packet(p) for p in self.stream.push(block)]

    def flush(self) -> Iterable[CodedPacket]:
        return [self._packet(p) for p in self.stream.finish()]

    @staticmethod
    def _packet(p: tuple[tuple[bytes, ...], int, int]) -> CodedPacket:
        segments, pts, duration = p
        return CodedPacket(segments, pts=pts, duration=duration, random_access=True)

    def totals(self) -> tuple[int | None, int | None]:
        return None, self.stream.received


class RvqDecoder(DecoderSession):
    def __init__(self, model: RvqAudioModel, header: FileHeader, options: DecodeOptions) -> None:
        params = decode_params(header.codec_params)
        src = header.source
        if not 1 <= src.channels <= MAX_CHANNELS:
            raise CorruptStreamError(f"{src.channels} channels: the rvq model codes 1 to {MAX_CHANNELS}")
        geo = model.geometry(src.sample_rate, src.channels, params["packet_frames"])
        try:
            self.stream = StreamDecoder(model.loaded, geo, threads=options.threads)
        except ValueError as exc:
            raise CorruptStreamError(str(exc)) from None

    def decode(self, packet: Packet) -> Iterable[np.ndarray]:
        block = self.stream.decode(packet.segments, packet.pts, packet.duration,
                                   {"packet": packet.index, "offset": packet.offset})
        return [] if block is None else [block]

    def reset(self) -> None:
        self.stream.reset(emit_from=None)
