"""The hierarchical VAE behind the codec contract: a loaded model and its encoder and decoder sessions.

An image is one packet with one segment per latent group, coarse to fine.
The encoder chooses the level (a quality, or the largest level whose whole
file fits a target rate); the decoder reads it from ``codec_params``. Decode
options (``DecodeOptions.extra``): ``groups`` (``codec decode --groups K``)
decodes only the first K groups, the rest filled with their prior means;
``refinements`` (Python: ``codec.open(path, model_options={"refinements":
True})``) makes the reader yield the image after every prefix of groups,
coarsest first, the full decode last.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.errors import CorruptStreamError, UsageError
from codec.models.base import CodedPacket, DecodeOptions, DecoderSession
from codec.models.image.one_image import CoderModel, OneImageEncoder
from codec.models.image.hvae.coder import HvaeCoder
from codec.models.image.hvae.family import KODAK_BPP, LEVEL_STEPS, check_source, decode_params, encode_params
from codec.models.image.hvae.model_file import load_model_bytes


class HvaeCodecModel(CoderModel):
    check_source = staticmethod(check_source)

    def load(self, weights: bytes, name: str, digest: bytes) -> HvaeCoder:
        return HvaeCoder(load_model_bytes(weights, name, digest=digest))

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """SHA-256 of every group's decoded latent and the last top-down feature (bitstream/models/hvae.md)."""
        (packet,) = packets
        level, _ = decode_params(header.codec_params, self.coder.levels)
        src = header.source
        return self.coder.decode_top_down(packet.segments, src.height, src.width,
                                          round(level * LEVEL_STEPS), device=device).fingerprint()


class HvaeEncoder(OneImageEncoder):
    def encode(self, item: np.ndarray) -> Iterable[CodedPacket]:
        self._accept(item)
        coder, opts = self.model.coder, self.options
        groups = coder.groups
        opts.progress.start(None, "level", "encoding")

        def segments_at(level: float) -> list[bytes]:
            return coder.compress(item, round(level * LEVEL_STEPS), threads=opts.threads, device=opts.device)

        def params_at(level: float) -> bytes:
            return encode_params(level, groups)

        prior = KODAK_BPP.get(self.model.entry.revision)
        level, segments = self.level_and_segments(segments_at, params_at, coder.levels, prior)
        if opts.preset != "fast":
            refined = self._refine(item, level, segments)
            if opts.target is None:
                segments = refined
            else:
                level, segments = self.refined_within_budget(
                    level, segments, refined, lambda lv: self._refine(item, lv, segments_at(lv)), params_at, prior)
        self._params = params_at(level)
        opts.progress.finish()
        return [CodedPacket(tuple(segments))]

    def _refine(self, item: np.ndarray, level: float, one_pass: list[bytes]) -> list[bytes]:
        """The latents searched at ``level`` (:mod:`~codec.models.image.hvae.refine`), or ``one_pass``
        where they do not lower the rate-distortion cost."""
        from codec.models.image.hvae.refine import BUDGETS, HvaeRefiner

        opts = self.options
        refiner = HvaeRefiner(self.model.coder, item, round(level * LEVEL_STEPS), BUDGETS[opts.preset],
                              threads=opts.threads, time_limit=opts.time_limit, progress=opts.progress)
        result = refiner.run(one_pass)
        opts.progress.note(result.note)
        return result.segments


class HvaeDecoder(DecoderSession):
    def __init__(self, model: HvaeCodecModel, header: FileHeader, options: DecodeOptions) -> None:
        self.model = model
        self.header = header
        self.options = options
        level, groups = decode_params(header.codec_params, model.coder.levels)
        if groups != model.coder.groups:
            raise CorruptStreamError(f"the file declares {groups} latent groups; model {model.entry.full_id} "
                                     f"has {model.coder.groups}")
        self.level_steps = round(level * LEVEL_STEPS)
        wanted = options.extra.get("groups")
        if wanted is not None and (isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1):
            raise UsageError(f"groups must be a whole number >= 1, got {wanted!r}")
        if wanted is not None and wanted > groups:
            raise UsageError(f"the file has {groups} latent groups; --groups {wanted} asks for more")
        self.groups = wanted
        self.refinements = bool(options.extra.get("refinements", False))

    def decode(self, packet: Packet) -> Iterable[np.ndarray]:
        if self.refinements:
            return self._refinements(packet)
        src = self.header.source
        coder, opts = self.model.coder, self.options
        try:
            opts.progress.start(coder.synthesis_tiles(src.height, src.width), "tile", "decoding")
            rgb = coder.decompress(packet.segments, src.height, src.width, self.level_steps, groups=self.groups,
                                   threads=opts.threads, device=opts.device, on_tile=opts.progress.advance)
            opts.progress.finish()
            return [rgb]
        except (CorruptStreamError, ValueError) as exc:
            raise _located(exc, packet) from None

    def _refinements(self, packet: Packet) -> Iterable[np.ndarray]:
        """One image per prefix of groups, each yielded as soon as it is decoded."""
        src = self.header.source
        images = self.model.coder.refinements(packet.segments, src.height, src.width, self.level_steps,
                                              threads=self.options.threads, device=self.options.device)
        while True:
            try:
                image = next(images)
            except StopIteration:
                return
            except (CorruptStreamError, ValueError) as exc:
                raise _located(exc, packet) from None
            yield image


def _located(exc: Exception, packet: Packet) -> CorruptStreamError:
    return CorruptStreamError(f"entropy-coded data is invalid: {_bare(exc)}", packet=packet.index,
                              offset=packet.offset)


def _bare(exc: Exception) -> str:
    """The message without a location suffix (the packet's location replaces it)."""
    text = str(exc)
    if isinstance(exc, CorruptStreamError) and text.endswith(")") and " (at " in text:
        return text[: text.rfind(" (at ")]
    return text


# The sessions the model opens (defined after it, since they refer to it).
HvaeCodecModel.encoder_type = HvaeEncoder
HvaeCodecModel.decoder_type = HvaeDecoder
