"""The hyperprior family behind the codec contract: a loaded model and its encoder and decoder sessions.

An image is one packet. The encoder chooses the level (a quality, or the
largest level whose whole file fits a target rate), the decoder reads it
back from ``codec_params``; both run the exact integer entropy path of
:mod:`~codec.models.image.hyperprior.coder`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.errors import CorruptStreamError
from codec.models.base import CodedPacket, DecodeOptions, DecoderSession
from codec.models.image.one_image import CoderModel, OneImageEncoder
from codec.models.image.hyperprior.coder import HyperpriorCoder
from codec.models.image.hyperprior.family import KODAK_BPP, check_source, decode_params, encode_params
from codec.models.image.hyperprior.model_file import load_model_bytes


class HyperpriorModel(CoderModel):
    check_source = staticmethod(check_source)

    def load(self, weights: bytes, name: str, digest: bytes) -> HyperpriorCoder:
        return HyperpriorCoder(load_model_bytes(weights, name, digest=digest))

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """The decoded fixed-point latent (int64, little-endian, N C H W order): SPEC 7.1 steps 1-5."""
        (packet,) = packets
        latent = self.coder.decode_latent(packet.segments, header.source.height, header.source.width,
                                          device=device)
        return hashlib.sha256(latent.cpu().numpy().astype("<i8").tobytes()).hexdigest()


class HyperpriorEncoder(OneImageEncoder):
    def encode(self, item: np.ndarray) -> Iterable[CodedPacket]:
        self._accept(item)
        coder, opts = self.model.coder, self.options
        h, w = item.shape[:2]
        opts.progress.start(coder.analysis_tiles(h, w), "tile", "analysis")
        y = coder.analyse(item, on_tile=opts.progress.advance, device=opts.device)
        opts.progress.note("analysis")
        opts.progress.start(None, "level", "entropy coding")

        def segments_at(level: float) -> list[bytes]:
            return coder.compress_latent(y, level, threads=opts.threads)

        level, segments = self.level_and_segments(segments_at, encode_params, coder.levels,
                                                  KODAK_BPP.get(self.model.entry.revision))
        opts.progress.note("entropy coding")
        if opts.preset != "fast":
            refined = self._refine(item, y, level)
            opts.progress.note(f"refinement ({opts.preset})")
            if opts.target is None:
                segments = refined
            else:
                level, segments = self.refined_within_budget(
                    level, segments, refined, lambda lv: self._refine(item, y, lv), encode_params,
                    KODAK_BPP.get(self.model.entry.revision))
        self._params = encode_params(level)
        opts.progress.finish()
        return [CodedPacket(tuple(segments))]

    def _refine(self, item: np.ndarray, y, level: float) -> list[bytes]:
        from codec.models.image.hyperprior.refine import BUDGETS, Refiner

        opts = self.options
        refiner = Refiner(self.model.coder, item, level, BUDGETS[opts.preset], time_limit=opts.time_limit,
                          progress=opts.progress)
        return self.model.coder.encode_symbols(refiner.run(y), threads=opts.threads)


class HyperpriorDecoder(DecoderSession):
    def __init__(self, model: HyperpriorModel, header: FileHeader, options: DecodeOptions) -> None:
        self.model = model
        self.header = header
        self.options = options
        self.level = decode_params(header.codec_params, model.coder.levels)

    def decode(self, packet: Packet) -> Iterable[np.ndarray]:
        src = self.header.source
        progress = self.options.progress
        progress.start(self.model.coder.synthesis_tiles(src.height, src.width), "tile", "decoding")
        try:
            rgb = self.model.coder.decompress(packet.segments, src.height, src.width, self.level,
                                              threads=self.options.threads, device=self.options.device,
                                              on_tile=progress.advance)
        except (CorruptStreamError, ValueError) as exc:
            raise CorruptStreamError(f"entropy-coded data is invalid: {_bare(exc)}", packet=packet.index,
                                     offset=packet.offset) from None
        progress.note("decoding")
        progress.finish()
        return [rgb]


def _bare(exc: Exception) -> str:
    """The message without a location suffix (the packet's location replaces it)."""
    if isinstance(exc, CorruptStreamError):
        text = str(exc)
        return text[: text.rfind(" (at ")] if text.endswith(")") and " (at " in text else text
    return str(exc)


# The sessions the model opens (defined after it, since they refer to it).
HyperpriorModel.encoder_type = HyperpriorEncoder
HyperpriorModel.decoder_type = HyperpriorDecoder
