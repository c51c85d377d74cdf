"""What every image family with a weights file shares: the loaded model, and an encoder session for one
picture per file at a quality or a target bpp."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from codec.container.source import SourceInfo
from codec.errors import UsageError
from codec.container.header import FileHeader
from codec.models.base import DecodeOptions, DecoderSession, EncodeOptions, EncoderSession, Family, Model, ModelEntry
from codec.models.image.target_rate import fit_rate, spend_saving


class OneImageEncoder(EncoderSession):
    """Checks the options before any work and the one picture against the size the file was opened for;
    a family's ``encode`` calls :meth:`_accept` first and sets ``_params`` (and ``_quality``) as it codes."""

    def __init__(self, model: Model, source: SourceInfo, options: EncodeOptions) -> None:
        rc = model.rate_control
        if options.quality is not None and options.target is not None:
            raise UsageError("give a quality or a target bpp, not both")
        if options.target is not None and not (isinstance(options.target, (int, float)) and options.target > 0):
            raise UsageError(f"target bpp must be a positive number, got {options.target!r}")
        self.quality_asked = rc.check_quality(rc.default_quality if options.quality is None else options.quality)
        rc.check_preset(options.preset)
        self.model = model
        self.source = source
        self.options = options
        self._params: bytes | None = None
        self._quality: int | None = None

    @property
    def codec_params(self) -> bytes:
        if self._params is None:
            raise RuntimeError("codec parameters are known once the image is encoded")
        return self._params

    @property
    def quality(self) -> int | None:
        return self._quality

    def _accept(self, item: np.ndarray) -> None:
        if self._params is not None:
            raise UsageError("an image file holds one image")
        if item.shape[:2] != (self.source.height, self.source.width):
            raise UsageError(f"image is {item.shape[1]}x{item.shape[0]}, the file was opened for "
                             f"{self.source.width}x{self.source.height}")

    def refined_within_budget(self, level: float, plain: list[bytes], refined: list[bytes],
                              refine_at: Callable[[float], list[bytes]], params_at: Callable[[float], bytes],
                              prior_bpp: tuple[float, ...] | None) -> tuple[float, list[bytes]]:
        """The level and segments to send for a target rate, given the refined segments at the level
        the one-pass search chose: those, or refined ones at a higher level that still fit
        (:func:`~codec.models.image.target_rate.spend_saving`); the one-pass ones if the refined
        ones do not fit (a target rate is a promise)."""
        def size(lv: float, segments: list[bytes]) -> int:
            return self.options.extra["file_size"](params_at(lv), None, segments)

        if size(level, refined) > self.budget_bytes:
            return level, plain
        chosen, segments = spend_saving(refine_at, size, level, refined, self.budget_bytes,
                                        self.model.coder.levels, prior_bpp)
        if chosen != level:
            self.options.progress.note(f"target {self.options.target} bpp: refined at level {chosen:.4f}")
        return chosen, segments

    @property
    def budget_bytes(self) -> float:
        """The whole file's size that a target rate allows."""
        return self.options.target * self.source.width * self.source.height / 8

    def level_and_segments(self, segments_at: Callable[[float], list[bytes]], params_at: Callable[[float], bytes],
                           levels: int, prior_bpp: tuple[float, ...] | None) -> tuple[float, list[bytes]]:
        """The level the options ask for, with its segments: the quality's level, or the largest level
        whose whole file fits the target (:func:`~codec.models.image.target_rate.fit_rate`, starting from
        the model's Kodak rates ``prior_bpp``). ``params_at(level)`` is the file's codec parameters."""
        opts = self.options
        if opts.target is None:
            level = self.quality_asked - 1
            self._quality = int(self.quality_asked) if self.quality_asked == int(self.quality_asked) else None
            return level, segments_at(level)
        size_of = opts.extra.get("file_size")
        if size_of is None:
            raise UsageError("a target rate needs the container's file size function")
        level, segments = fit_rate(segments_at, lambda lv, seg: size_of(params_at(lv), None, seg), self.budget_bytes,
                                   levels, opts.progress, prior_bpp, self.source.width * self.source.height)
        opts.progress.note(f"target {opts.target} bpp: level {level:.4f} (quality {level + 1:.2f})")
        return level, segments


class CoderModel(Model):
    """A model whose weights file loads into one coder, with the family's source check on both sides.

    A family sets ``encoder_type`` and ``decoder_type`` (its sessions) and
    implements :meth:`load` and :meth:`check_source`.
    """

    encoder_type: type[EncoderSession]
    decoder_type: type[DecoderSession]

    def __init__(self, family: Family, entry: ModelEntry, weights: bytes | None) -> None:
        super().__init__(family, entry)
        if weights is None:
            raise ValueError(f"the {family.name} family needs a weights file")
        self.coder = self.load(weights, entry.weights or entry.id, entry.digest_bytes)

    def load(self, weights: bytes, name: str, digest: bytes):
        """The family's coder for a weights file's bytes (checked against ``digest``)."""
        raise NotImplementedError

    def check_source(self, source: SourceInfo, *, decoding: bool = False) -> None:
        """Refuse a picture (or a file's source) this family cannot code."""
        raise NotImplementedError

    def encoder(self, source: SourceInfo, options: EncodeOptions) -> EncoderSession:
        self.check_source(source)
        return self.encoder_type(self, source, options)

    def decoder(self, header: FileHeader, options: DecodeOptions) -> DecoderSession:
        self.check_source(header.source, decoding=True)
        return self.decoder_type(self, header, options)

