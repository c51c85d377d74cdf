"""The DCVC family behind the codec contract: a loaded model and its encoder and decoder sessions.

A frame is one packet (pts = frame index, duration 1 in the header's time
base of one frame). Intra frames, every ``--intra-period`` frames, are
random-access points: the decoder needs nothing before them, so the seek
index of the container lands on them. Between them, each frame is coded
against the previous frame's decoded feature, which both sides compute
exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.container.source import ChromaFormat, SourceInfo
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.media.video import VideoFrame, as_frame
from codec.models.base import (
    CodedPacket, DecodeOptions, DecoderSession, EncodeOptions, EncoderSession, Family, Model, ModelEntry,
)
from codec.models.video.dcvc.coder import FrameCoder
from codec.models.video.dcvc.family import (
    DEFAULT_INTRA_PERIOD_SECONDS, FRAME_INTRA, decode_params, encode_params,
)
from codec.models.video.dcvc.model_file import load_model_bytes
from codec.models.video.dcvc.rate import RateController
from codec.models.video.dcvc.schedule import base_qp, frame_qp, level_of


class DcvcModel(Model):
    def __init__(self, family: Family, entry: ModelEntry, weights: bytes | None) -> None:
        super().__init__(family, entry)
        if weights is None:
            raise ValueError("the dcvc family needs a weights file")
        self.coder = FrameCoder(load_model_bytes(weights, entry.weights or entry.id))

    def encoder(self, source: SourceInfo, options: EncodeOptions) -> EncoderSession:
        check_source(source)
        return DcvcEncoder(self, source, options)

    def decoder(self, header: FileHeader, options: DecodeOptions) -> DecoderSession:
        check_source(header.source, decoding=True)
        return DcvcDecoder(self, header, options)

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """SHA-256 of every frame's propagated feature (int64, little-endian, N C H W), in order."""
        digest = hashlib.sha256()
        reference = None
        src = header.source
        for packet in packets:
            _, _, reference = self.coder.decode_feature(packet.segments, reference, src.height, src.width,
                                                        device=device)
            digest.update(reference.cpu().numpy().astype("<i8").tobytes())
        return digest.hexdigest()


def check_source(source: SourceInfo, *, decoding: bool = False) -> None:
    """8-bit 4:2:0 (the video medium converts other sources before they get here)."""
    error = CorruptStreamError if decoding else BadInputError
    if source.bit_depth != 8 or source.chroma_format is not ChromaFormat.YUV420:
        raise error(f"{source.bit_depth}-bit {source.chroma_format.name if source.chroma_format else '?'} video: "
                    f"the dcvc model codes 8-bit YUV 4:2:0")


def intra_period_for(source: SourceInfo, asked: int | None) -> int:
    """Frames from one intra frame to the next; 0 when only the first frame is intra."""
    if asked is None:
        return max(1, round(DEFAULT_INTRA_PERIOD_SECONDS * float(source.frame_rate)))
    return 0 if asked == -1 else asked


class DcvcEncoder(EncoderSession):
    def __init__(self, model: DcvcModel, source: SourceInfo, options: EncodeOptions) -> None:
        rc = model.rate_control
        if options.quality is not None and options.target is not None:
            raise UsageError("give a quality or a target bitrate, not both")
        rc.check_preset(options.preset)
        self.model, self.source, self.options = model, source, options
        self.intra_period = intra_period_for(source, options.extra.get("intra_period"))
        self.controller = None
        if options.target is not None:
            self.controller = RateController(options.target, float(source.frame_rate), source.width, source.height)
            self.base = round(self.controller.base)
        else:
            self.base = base_qp(rc.check_quality(rc.default_quality if options.quality is None else options.quality))
        self._params = encode_params(self.base, self.intra_period,
                                     round(options.target / 1000) if options.target is not None else 0)
        self.reference = None
        self.frames = 0
        self.since_intra = 0

    @property
    def codec_params(self) -> bytes:
        return self._params

    @property
    def quality(self) -> int | None:
        return round(level_of(self.base))

    def encode(self, item) -> Iterable[CodedPacket]:
        src, opts = self.source, self.options
        if self.frames == 0:
            opts.progress.start(src.frame_count, "frame", "encoding")
        frame = as_frame(item, src, pts=self.frames)
        intra = self.reference is None or (self.intra_period and self.frames % self.intra_period == 0)
        if intra:
            self.since_intra = 0
        qp = (self.controller.next_qp(self.since_intra) if self.controller is not None
              else round(frame_qp(self.base, self.since_intra)))
        segments, self.reference = self.model.coder.encode(frame.planes, None if intra else self.reference, qp,
                                                           threads=opts.threads)
        if self.controller is not None:
            self.controller.update(8 * sum(len(s) for s in segments))
        packet = CodedPacket(tuple(segments), pts=self.frames, duration=1, random_access=bool(intra))
        self.frames += 1
        self.since_intra += 1
        opts.progress.advance()
        return [packet]

    def flush(self) -> Iterable[CodedPacket]:
        self.options.progress.finish()
        return ()


class DcvcDecoder(DecoderSession):
    def __init__(self, model: DcvcModel, header: FileHeader, options: DecodeOptions) -> None:
        self.model, self.header, self.options = model, header, options
        self.params = decode_params(header.codec_params)
        self.reference = None
        self.started = False

    def decode(self, packet: Packet) -> Iterable[VideoFrame]:
        src, opts, coder = self.header.source, self.options, self.model.coder
        if not self.started:
            opts.progress.start(None, "frame", "decoding")
            self.started = True
        try:
            kind, qp, feature = coder.decode_feature(packet.segments, self.reference, src.height, src.width,
                                                     threads=opts.threads, device=opts.device)
        except (CorruptStreamError, ValueError) as exc:
            raise CorruptStreamError(f"frame data is invalid: {_bare(exc)}", packet=packet.index,
                                     offset=packet.offset) from None
        if kind == FRAME_INTRA and not packet.random_access:
            raise CorruptStreamError("an intra frame not marked as a random-access point", packet=packet.index,
                                     offset=packet.offset)
        self.reference = feature
        y, u, v = coder.reconstruct(feature, qp, src.height, src.width)
        opts.progress.advance()
        return [VideoFrame(y, u, v, pts=packet.pts)]

    def flush(self) -> Iterable[VideoFrame]:
        self.options.progress.finish()
        return ()

    def reset(self) -> None:
        self.reference = None


def _bare(exc: Exception) -> str:
    text = str(exc)
    return text[: text.rfind(" (at ")] if text.endswith(")") and " (at " in text else text

