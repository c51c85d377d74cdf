"""The overfitted family behind the codec contract: its model and its encoder and decoder sessions.

An image is one packet. The encoder fits the image at the asked level (or
searches a level for a target rate, :mod:`.rate_search`); the decoder reads
the level and network shapes from ``codec_params``. Torch's intra-op threads
follow ``threads`` while a session works (1 by default: on a busy machine a
second thread costs more in waiting than it gains).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.container.source import SourceInfo
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.models.base import (
    CodedPacket, DecodeOptions, DecoderSession, EncodeOptions, EncoderSession, Family, Model, ModelEntry,
)
from codec.models.image.one_image import OneImageEncoder
from codec.models.image.overfit.architecture import MAX_PIXELS
from codec.models.image.overfit.params import CodecParams

SUPPORTED_COMPONENTS = (1, 2, 3, 4)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_device(device: str) -> str:
    import torch

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"device must be cpu or cuda, got {device!r}")
    if device != "cpu" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    return device


class OverfitModel(Model):
    def __init__(self, family: Family, entry: ModelEntry) -> None:
        super().__init__(family, entry)

    def encoder(self, source: SourceInfo, options: EncodeOptions) -> EncoderSession:
        check_source(source)
        return OverfitEncoder(self, source, options)

    def decoder(self, header: FileHeader, options: DecodeOptions) -> DecoderSession:
        check_source(header.source, decoding=True)
        return OverfitDecoder(self, header, options)

    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """SHA-256 of the decoded networks' integers and latent grids (bitstream/models/overfit.md, section 5).
        They are decoded by the C++ kernel on the CPU whatever ``device`` says; only synthesis uses a GPU."""
        from codec.models.image.overfit.coder import decode_state, fingerprint

        (packet,) = packets
        _, coded, grids = decode_state(header.codec_params, packet.segments, header.source.height,
                                       header.source.width)
        return fingerprint(coded, grids)


def check_source(source: SourceInfo, *, decoding: bool = False) -> None:
    """8-bit sources of 1 to 4 components, up to MAX_PIXELS; anything else is refused, never silently changed."""
    error = CorruptStreamError if decoding else BadInputError
    if source.bit_depth != 8:
        raise error(f"{source.bit_depth}-bit samples: the overfitted model codes 8-bit images")
    if source.components not in SUPPORTED_COMPONENTS:
        raise error(f"{source.components} components: the overfitted model codes 1 to 4")
    if source.width * source.height > MAX_PIXELS:
        raise BadInputError(f"{source.width}x{source.height}: the overfitted model codes images of at most "
                            f"{MAX_PIXELS} pixels (fitting larger ones needs more memory than a CPU machine has); "
                            f"use the hyperprior model")


class OverfitEncoder(OneImageEncoder):
    def __init__(self, model: OverfitModel, source: SourceInfo, options: EncodeOptions) -> None:
        super().__init__(model, source, options)
        check_device(options.device)

    def encode(self, item: np.ndarray) -> Iterable[CodedPacket]:
        from codec.models.image.overfit import coder
        from codec.models.image.overfit.rate_search import fit_target

        self._accept(item)
        opts = self.options
        with torch_threads(opts.threads):
            if opts.target is None:
                level = self.quality_asked - 1
                encoded = coder.encode(item, level, preset=opts.preset, device=opts.device,
                                       time_limit=opts.time_limit, progress=opts.progress)
            else:
                size_of = opts.extra.get("file_size")
                if size_of is None:
                    raise UsageError("a target rate needs the container's file size function")
                budget = opts.target * self.source.width * self.source.height / 8
                encoded = fit_target(item, budget, lambda p, s: size_of(p, _quality_of(p), s), preset=opts.preset,
                                     device=opts.device, time_limit=opts.time_limit, progress=opts.progress)
        self._params = encoded.params
        self._quality = _quality_of(encoded.params)
        opts.progress.finish()
        return [CodedPacket(tuple(encoded.segments))]


class OverfitDecoder(DecoderSession):
    def __init__(self, model: OverfitModel, header: FileHeader, options: DecodeOptions) -> None:
        self.model = model
        self.header = header
        self.options = options
        CodecParams.from_bytes(header.codec_params)
        check_device(options.device)

    def decode(self, packet: Packet) -> Iterable[np.ndarray]:
        from codec.models.image.overfit import coder

        src = self.header.source
        try:
            with torch_threads(self.options.threads):
                rgb = coder.decode(self.header.codec_params, packet.segments, src.height, src.width,
                                   device=self.options.device)
        except (CorruptStreamError, ValueError) as exc:
            raise CorruptStreamError(f"overfitted image data is invalid: {_bare(exc)}", packet=packet.index,
                                     offset=packet.offset) from None
        return [rgb]


def _quality_of(params: bytes) -> int:
    """The header's display quality: the nearest whole quality to the coded level."""
    return round(CodecParams.from_bytes(params).level) + 1


def _bare(exc: Exception) -> str:
    """The message without a location suffix (the packet's location replaces it)."""
    text = str(exc)
    if isinstance(exc, CorruptStreamError) and text.endswith(")") and " (at " in text:
        return text[: text.rfind(" (at ")]
    return text
