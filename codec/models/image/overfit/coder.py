"""One image end to end: fit, quantize, code; and back.

Segments of the data packet (bitstream/models/overfit.md, section 3):

0. the networks' integers (one rANS block, :mod:`.network_coding`);
1. the latents (one rANS block, coarsest grid first, :mod:`.latent_coding`).

Decoding runs the integer context model in the C++ kernel (exact), then the
upsampler and synthesis in float32 (pixels may differ by a rounding step
between machines; the latents never do).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from codec.errors import CorruptStreamError
from codec.models.base import Progress
from codec.models.image.overfit.architecture import Architecture, grid_shapes
from codec.models.image.overfit.fit import PRESETS, Fitted, Fitter, Schedule
from codec.models.image.overfit.latent_coding import decode_latents, encode_latents
from codec.models.image.overfit.network_coding import CodedNetworks, decode_networks, encode_networks
from codec.models.image.overfit.params import CodecParams, lambda_for
from codec.models.image.overfit.quantize import StepSearch
from codec.models.image.overfit.tables import latent_tables

SEGMENTS = 2


@dataclass
class Encoded:
    params: bytes
    segments: list[bytes]
    fitted: Fitted

    @property
    def level(self) -> float:
        return CodecParams.from_bytes(self.params).level


def default_architecture(level: float) -> Architecture:
    """The network shapes the encoder uses at a rate level (files may carry others)."""
    return Architecture()


def encode(rgb: np.ndarray, level: float, *, preset: str = "fast", schedule: Schedule | None = None,
           device: str = "cpu", time_limit: float | None = None, progress: Progress | None = None,
           seed: int = 0, resume: Fitted | None = None) -> Encoded:
    """Fit and code one HxWx3 uint8 image at a rate level (0..7, fractional allowed).

    ``resume``: start from an earlier fit of the same image (at another level) instead of from zero.
    """
    progress = progress or Progress()
    lam = lambda_for(level)
    arch = default_architecture(level)
    tables = latent_tables()
    fitter = Fitter(rgb, lam, arch, schedule or PRESETS[preset], device=device, seed=seed, time_limit=time_limit,
                    progress=progress, resume=resume)
    fitted = fitter.run()
    progress.note(f"fitted: {fitted.steps} steps, {fitted.seconds:.1f} s, estimated {fitted.bpp:.4f} bpp")
    coded = StepSearch(fitted, lam, tables, rgb.shape[0] * rgb.shape[1], fitter.target, progress).run()
    progress.note(f"quantization steps 2^-e: {coded.exponents}")
    segments = [encode_networks(coded, tables), encode_latents(fitted.grids, coded.integer_context(), tables)]
    params = CodecParams(level, arch, coded.exponents, coded.table_scales).to_bytes()
    return Encoded(params, segments, fitted)


def decode_state(params: bytes, segments: tuple[bytes, ...] | list[bytes], height: int,
                 width: int) -> tuple[CodecParams, CodedNetworks, list[np.ndarray]]:
    """The exact part of decoding: the networks' integers and the latent grids."""
    if len(segments) != SEGMENTS:
        raise CorruptStreamError(f"expected {SEGMENTS} segments, found {len(segments)}")
    p = CodecParams.from_bytes(params)
    tables = latent_tables()
    coded = decode_networks(segments[0], p.arch, p.exponents, p.table_scales, tables)
    grids = decode_latents(segments[1], grid_shapes(height, width, p.arch.grids), coded.integer_context(), tables)
    return p, coded, grids


def fingerprint(coded: CodedNetworks, grids: list[np.ndarray]) -> str:
    """SHA-256 of what decodes identically everywhere: the networks' integers, then the grids (int32 LE)."""
    h = hashlib.sha256()
    for group in coded.ints.values():
        for q in group:
            h.update(np.ascontiguousarray(q, dtype="<i8").tobytes())
    for g in grids:
        h.update(np.ascontiguousarray(g, dtype="<i4").tobytes())
    return h.hexdigest()


@torch.no_grad()
def synthesise(coded: CodedNetworks, grids: list[np.ndarray], device: str = "cpu") -> np.ndarray:
    """HxWx3 uint8 from decoded integers: upsampler and synthesis in float32."""
    decoder = coded.float_decoder(device)
    latents = [torch.from_numpy(np.asarray(g, dtype=np.float32)).to(device).view(1, 1, *g.shape) for g in grids]
    x = decoder.image(latents)[0]
    x = torch.nan_to_num(x, nan=0.0).clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return x.permute(1, 2, 0).contiguous().cpu().numpy()


def decode(params: bytes, segments: tuple[bytes, ...] | list[bytes], height: int, width: int,
           device: str = "cpu") -> np.ndarray:
    _, coded, grids = decode_state(params, segments, height, width)
    return synthesise(coded, grids, device)

