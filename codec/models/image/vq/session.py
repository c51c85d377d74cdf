"""The token codec behind the codec contract: a loaded model and its encoder and decoder sessions.

An image is one packet of seven segments (``coder.py``). The encoder chooses
the level (a quality, or the largest level whose whole file fits a target
rate, searched on the image's own sizes); the block levels it implies travel
in the file, so the decoder needs only the segments.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.errors import CorruptStreamError
from codec.models.base import CodedPacket, DecodeOptions, DecoderSession
from codec.models.image.one_image import CoderModel, OneImageEncoder
from codec.models.image.vq.coder import VqCoder
from codec.models.image.vq.family import check_source, decode_params, encode_params
from codec.models.image.vq.model_file import load_model_bytes

# Kodak bits per pixel of each quality level, per revision (the model card's table): where a target-rate
# search starts.
# Bits per pixel of each quality level on Kodak (the model card's table, 3 images): where a target-rate
# search starts. Only a starting point: the search measures the image's own sizes.
KODAK_BPP: dict[int, tuple[float, ...]] = {
    1: (0.0158, 0.0217, 0.0263, 0.0334, 0.0564, 0.0759),
}


class VqCodecModel(CoderModel):
    check_source = staticmethod(check_source)

    def load(self, weights: bytes, name: str, digest: bytes) -> VqCoder:
        return VqCoder(load_model_bytes(weights, name, digest=digest))

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """SHA-256 of the decoded block levels and token grids (bitstream/models/vq.md)."""
        (packet,) = packets
        src = header.source
        return self.coder.decode_grids(packet.segments, src.height, src.width, device=device).fingerprint()


class VqEncoder(OneImageEncoder):
    def encode(self, item: np.ndarray) -> Iterable[CodedPacket]:
        self._accept(item)
        coder, opts = self.model.coder, self.options
        opts.progress.start(None, "level", "encoding")
        analysis = coder.analyse(item, device=opts.device)

        def segments_at(level: float) -> list[bytes]:
            return coder.prior.encode(coder.grids_at(analysis, level), threads=opts.threads, device=opts.device)

        level, segments = self.level_and_segments(segments_at, lambda lv: encode_params(lv, coder.bits),
                                                  coder.levels, KODAK_BPP.get(self.model.entry.revision))
        self._params = encode_params(level, coder.bits)
        opts.progress.finish()
        return [CodedPacket(tuple(segments))]


class VqDecoder(DecoderSession):
    def __init__(self, model: VqCodecModel, header: FileHeader, options: DecodeOptions) -> None:
        self.model = model
        self.header = header
        self.options = options
        _, bits = decode_params(header.codec_params, model.coder.levels)
        if bits != model.coder.bits:
            raise CorruptStreamError(f"the file declares {bits}-bit tokens; model {model.entry.full_id} "
                                     f"has {model.coder.bits}")

    def decode(self, packet: Packet) -> Iterable[np.ndarray]:
        src = self.header.source
        coder, opts = self.model.coder, self.options
        try:
            opts.progress.start(None, "image", "decoding")
            rgb = coder.decompress(packet.segments, src.height, src.width, threads=opts.threads, device=opts.device)
            opts.progress.finish()
            return [rgb]
        except (CorruptStreamError, ValueError) as exc:
            text = str(exc)
            if isinstance(exc, CorruptStreamError) and text.endswith(")") and " (at " in text:
                text = text[: text.rfind(" (at ")]
            raise CorruptStreamError(f"entropy-coded data is invalid: {text}", packet=packet.index,
                                     offset=packet.offset) from None


# The sessions the model opens (defined after it, since they refer to it).
VqCodecModel.encoder_type = VqEncoder
VqCodecModel.decoder_type = VqDecoder
