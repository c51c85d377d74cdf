"""The hyperprior family behind the codec contract: a loaded model and its encoder and decoder sessions.

An image is one packet. The encoder chooses the level (a quality, or the
largest level whose whole file fits a target rate), the decoder reads it
back from ``codec_params``; both run the exact integer entropy path of
:mod:`~codec.models.image.hyperprior.coder`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import numpy as np

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.container.source import SourceInfo
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.models.base import (
    CodedPacket, DecodeOptions, DecoderSession, EncodeOptions, EncoderSession, Family, Model, ModelEntry,
    RateControl,
)
from codec.models.image.hyperprior.coder import HyperpriorCoder
from codec.models.image.hyperprior.family import LEVEL_STEPS, decode_params, encode_params
from codec.models.image.hyperprior.model_file import load_model_bytes

SUPPORTED_COMPONENTS = (1, 2, 3, 4)


class HyperpriorModel(Model):
    def __init__(self, family: Family, entry: ModelEntry, weights: bytes | None) -> None:
        super().__init__(family, entry)
        if weights is None:
            raise ValueError("the hyperprior family needs a weights file")
        self.coder = HyperpriorCoder(load_model_bytes(weights, entry.weights or entry.id))

    @property
    def rate_control(self) -> RateControl:
        return self.family.rate_control(self.entry)

    def encoder(self, source: SourceInfo, options: EncodeOptions) -> EncoderSession:
        check_source(source)
        return HyperpriorEncoder(self, source, options)

    def decoder(self, header: FileHeader, options: DecodeOptions) -> DecoderSession:
        check_source(header.source, decoding=True)
        return HyperpriorDecoder(self, header, options)

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet]) -> str:
        """The decoded fixed-point latent (int64, little-endian, N C H W order): SPEC 7.1 steps 1-5."""
        (packet,) = packets
        latent = self.coder.decode_latent(packet.segments, header.source.height, header.source.width)
        return hashlib.sha256(latent.numpy().astype("<i8").tobytes()).hexdigest()


def check_source(source: SourceInfo, *, decoding: bool = False) -> None:
    """8-bit sources of 1 to 4 components (SPEC 7.1); anything else is refused, never silently changed."""
    error = CorruptStreamError if decoding else BadInputError
    if source.bit_depth != 8:
        raise error(f"{source.bit_depth}-bit samples: the hyperprior model codes 8-bit images")
    if source.components not in SUPPORTED_COMPONENTS:
        raise error(f"{source.components} components: the hyperprior model codes 1 to 4")


class HyperpriorEncoder(EncoderSession):
    def __init__(self, model: HyperpriorModel, source: SourceInfo, options: EncodeOptions) -> None:
        rc = model.rate_control
        if options.quality is not None and options.target is not None:
            raise UsageError("give a quality or a target bpp, not both")
        if options.target is not None and not (isinstance(options.target, (int, float)) and options.target > 0):
            raise UsageError(f"target bpp must be a positive number, got {options.target!r}")
        self.quality_asked = rc.check_quality(rc.default_quality if options.quality is None else options.quality)
        self.model = model
        self.source = source
        self.options = options
        self._params: bytes | None = None
        self._quality: int | None = None
        rc.check_preset(options.preset)

    @property
    def codec_params(self) -> bytes:
        if self._params is None:
            raise RuntimeError("codec parameters are known once the image is encoded")
        return self._params

    @property
    def quality(self) -> int | None:
        return self._quality

    def encode(self, item: np.ndarray) -> Iterable[CodedPacket]:
        if self._params is not None:
            raise UsageError("an image file holds one image")
        coder, opts = self.model.coder, self.options
        if item.shape[:2] != (self.source.height, self.source.width):
            raise UsageError(f"image is {item.shape[1]}x{item.shape[0]}, the file was opened for "
                             f"{self.source.width}x{self.source.height}")
        opts.progress.start(None, "stage", "analysis")
        y = coder.analyse(item)
        opts.progress.note("analysis done")

        def segments_at(level: float) -> list[bytes]:
            return coder.compress_latent(y, level, threads=opts.threads)

        size_of = opts.extra.get("file_size")
        if opts.target is None:
            level = self.quality_asked - 1
            segments = segments_at(level)
            self._quality = int(self.quality_asked) if self.quality_asked == int(self.quality_asked) else None
        else:
            budget = opts.target * self.source.width * self.source.height / 8
            if size_of is None:
                raise UsageError("a target rate needs the container's file size function")
            level, segments = fit_rate(segments_at, lambda lv, seg: size_of(encode_params(lv), None, seg),
                                       budget, coder.levels, opts.progress)
            opts.progress.note(f"target {opts.target} bpp: level {level:.4f} (quality {level + 1:.2f})")
        if opts.preset != "fast":
            refined = self._refine(item, y, level)
            # A target rate is a promise: refined symbols that no longer fit are not used.
            fits = opts.target is None or size_of(encode_params(level), None, refined) <= budget
            if fits:
                segments = refined
        self._params = encode_params(level)
        opts.progress.finish()
        return [CodedPacket(tuple(segments))]

    def _refine(self, item: np.ndarray, y, level: float) -> list[bytes]:
        from codec.models.image.hyperprior.refine import BUDGETS, Refiner

        opts = self.options
        refiner = Refiner(self.model.coder, item, level, BUDGETS[opts.preset], time_limit=opts.time_limit,
                          progress=opts.progress)
        return self.model.coder.encode_symbols(refiner.run(y), threads=opts.threads)


def fit_rate(segments_at: Callable[[float], list[bytes]], size: Callable[[float, list[bytes]], int],
             budget_bytes: float, levels: int, progress) -> tuple[float, list[bytes]]:
    """The largest level (in 1/256 steps) whose whole file fits the budget; the smallest level if none does."""
    lo, hi = 0, (levels - 1) * LEVEL_STEPS
    best = segments_at(0.0)
    if size(0.0, best) > budget_bytes:
        return 0.0, best
    while lo < hi:
        mid = (lo + hi + 1) // 2
        segments = segments_at(mid / LEVEL_STEPS)
        progress.advance()
        if size(mid / LEVEL_STEPS, segments) <= budget_bytes:
            lo, best = mid, segments
        else:
            hi = mid - 1
    return lo / LEVEL_STEPS, best


class HyperpriorDecoder(DecoderSession):
    def __init__(self, model: HyperpriorModel, header: FileHeader, options: DecodeOptions) -> None:
        self.model = model
        self.header = header
        self.options = options
        self.level = decode_params(header.codec_params, model.coder.levels)

    def decode(self, packet: Packet) -> Iterable[np.ndarray]:
        src = self.header.source
        try:
            rgb = self.model.coder.decompress(packet.segments, src.height, src.width, self.level,
                                              threads=self.options.threads, device=self.options.device)
        except (CorruptStreamError, ValueError) as exc:
            raise CorruptStreamError(f"entropy-coded data is invalid: {_bare(exc)}", packet=packet.index,
                                     offset=packet.offset) from None
        return [rgb]


def _bare(exc: Exception) -> str:
    """The message without a location suffix (the packet's location replaces it)."""
    if isinstance(exc, CorruptStreamError):
        text = str(exc)
        return text[: text.rfind(" (at ")] if text.endswith(")") and " (at " in text else text
    return str(exc)
