"""Coding one frame with a loaded video model: planes + reference feature <-> segments + new feature.

Segments of a frame's packet (``bitstream/models/dcvc.md``):

0. the frame header: u8 type (0 intra, 1 inter), u8 quality index;
1. ``z`` symbols, channel-major, table ``z_index[qp][channel]``;
2. ``y`` anchor symbols (checkerboard positions with even row + col), channel-major;
3. ``y`` non-anchor symbols, channel-major.

The float encoder chooses the symbols; every mean, table index, context and
the propagated feature come from the exact path, so the decoder reproduces
them bit for bit. Only the reconstruction of the current frame's pixels
(``recon``) is floating point: it feeds nothing.
"""

from __future__ import annotations

import numpy as np
import torch

from codec.entropy import decode as rans_decode
from codec.entropy import encode as rans_encode
from codec.errors import CorruptStreamError
from codec.models.video.dcvc.family import FRAME_INTRA, FRAME_INTER, decode_frame_header, encode_frame_header
from codec.models.video.dcvc.integer_path import Y_FRACTION, Z_FRACTION
from codec.models.video.dcvc.model_file import LoadedModel
from codec.models.video.dcvc.network import PAD_MULTIPLE, pack, pad_planes, unpack
from codec.nn.checkerboard import anchor_mask
from codec.nn.integer.arith import from_fixed, saturate

SEGMENTS = 4


def padded_size(height: int, width: int) -> tuple[int, int]:
    return -(-height // PAD_MULTIPLE) * PAD_MULTIPLE, -(-width // PAD_MULTIPLE) * PAD_MULTIPLE


class FrameCoder:
    """Frames <-> segments for one :class:`LoadedModel`; the caller keeps the reference feature."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.net = model.float_model
        self.exact = model.exact
        self.config = model.config
        self._float_copies: dict = {}

    def zero_reference(self, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The reference of an intra frame: a zero feature at 1/8 of the padded size."""
        ph, pw = padded_size(height, width)
        return torch.zeros(1, self.config.channels, ph // 8, pw // 8, dtype=torch.int64, device=device)

    # -- encoder ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], reference: torch.Tensor | None, qp: int,
               *, threads: int = 1) -> tuple[list[bytes], torch.Tensor]:
        """Segments of one frame and the new reference feature; ``reference`` None codes an intra frame."""
        height, width = planes[0].shape
        kind = FRAME_INTRA if reference is None else FRAME_INTER
        if reference is None:
            reference = self.zero_reference(height, width)
        exact = self.exact
        ctx, ctx_t = exact.contexts(reference, qp)
        v = self.net.vectors(torch.tensor([float(qp)]))
        luma, chroma = _to_tensors(planes)
        packed = pack(*pad_planes(luma, chroma))
        y = self.net.analyse(packed, from_fixed(ctx, exact.fractions["ctx"]), v).double()
        z = self.net.hyper_analysis(y.float()).double()
        z_loc = exact.z_loc[qp].view(1, -1, 1, 1).double() / (1 << Z_FRACTION)
        z_sym = torch.round(z - z_loc).to(torch.int64)
        h = exact.priors(exact.z_hat(z_sym, qp), ctx_t)
        mask = anchor_mask(*y.shape[2:]).bool().expand_as(y)
        scale = float(1 << Y_FRACTION)
        means_a, idx_a = exact.anchor_parameters(h)
        sym_a = torch.round(y - means_a.double() / scale).to(torch.int64)
        y_hat = torch.where(mask, saturate(sym_a * (1 << Y_FRACTION) + means_a), torch.zeros_like(means_a))
        means_n, idx_n = exact.nonanchor_parameters(y_hat, h)
        sym_n = torch.round(y - means_n.double() / scale).to(torch.int64)
        y_hat = torch.where(mask, y_hat, saturate(sym_n * (1 << Y_FRACTION) + means_n))
        feature = exact.synthesise(y_hat, ctx, reference, qp)
        tables = self.model.tables
        z_idx = exact.z_index[qp].view(1, -1, 1, 1).expand_as(z_sym)
        segments = [
            encode_frame_header(kind, qp),
            rans_encode(_int32(z_sym.flatten()), z_idx.flatten().numpy(), tables, threads=threads),
            rans_encode(_int32(sym_a[mask]), idx_a[mask].numpy(), tables, threads=threads),
            rans_encode(_int32(sym_n[~mask]), idx_n[~mask].numpy(), tables, threads=threads),
        ]
        return segments, feature

    # -- decoder ---------------------------------------------------------------------------------
    @torch.no_grad()
    def decode_feature(self, segments: tuple[bytes, ...] | list[bytes], reference: torch.Tensor | None,
                       height: int, width: int, *, threads: int = 1,
                       device: torch.device | str = "cpu") -> tuple[int, int, torch.Tensor]:
        """(frame type, quality index, new feature) of one frame: entropy decoding and the exact path.

        This is the bit-exact part: the same segments and reference give the
        same feature on any device and thread count.
        """
        if len(segments) != SEGMENTS:
            raise CorruptStreamError(f"expected {SEGMENTS} segments in a frame, found {len(segments)}")
        kind, qp = decode_frame_header(segments[0])
        device = torch.device(device)
        if kind == FRAME_INTRA:
            reference = self.zero_reference(height, width, device)
        elif reference is None:
            raise CorruptStreamError("an inter frame without a preceding intra frame")
        exact, tables, cfg = self.exact, self.model.tables, self.config
        ctx, ctx_t = exact.contexts(reference, qp)
        ph, pw = padded_size(height, width)
        yh, yw, zh, zw = ph // 16, pw // 16, ph // 64, pw // 64
        z_idx = np.broadcast_to(exact.z_index[qp].numpy()[:, None, None], (cfg.hyper_channels, zh, zw)).ravel()
        z_sym = torch.from_numpy(rans_decode(segments[1], z_idx, tables, threads=threads))
        h = exact.priors(exact.z_hat(z_sym.to(device).view(1, -1, zh, zw), qp), ctx_t)
        mask = anchor_mask(yh, yw, device=device).bool().expand(1, cfg.latent_channels, yh, yw)
        means_a, idx_a = exact.anchor_parameters(h)
        y_hat = torch.zeros(1, cfg.latent_channels, yh, yw, dtype=torch.int64, device=device)
        y_hat[mask] = saturate(self._symbols(segments[2], idx_a[mask], threads, device) + means_a[mask])
        means_n, idx_n = exact.nonanchor_parameters(y_hat, h)
        y_hat[~mask] = saturate(self._symbols(segments[3], idx_n[~mask], threads, device) + means_n[~mask])
        return kind, qp, exact.synthesise(y_hat, ctx, reference, qp)

    def _symbols(self, data: bytes, indexes: torch.Tensor, threads: int, device: torch.device) -> torch.Tensor:
        symbols = rans_decode(data, indexes.cpu().numpy(), self.model.tables, threads=threads)
        return torch.from_numpy(symbols).to(device=device, dtype=torch.int64) * (1 << Y_FRACTION)

    @torch.no_grad()
    def reconstruct(self, feature: torch.Tensor, qp: int, height: int, width: int, *,
                    dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 planes of the frame from its feature (floating point: it changes pixels, nothing else)."""
        recon, head = self._float_parts(feature.device, dtype)
        v = self.net.vectors(torch.tensor([float(qp)]))
        x = from_fixed(feature, self.exact.fractions["feature"], dtype)
        x = head(recon(x) * v["q_recon"].to(feature.device, dtype))
        luma, chroma = unpack(x, 4)
        ch, cw = (height + 1) // 2, (width + 1) // 2
        luma = luma[0, 0, :height, :width]
        chroma = chroma[0, :, :ch, :cw]
        out = [t.clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy() for t in (luma, chroma[0], chroma[1])]
        return out[0], out[1], out[2]

    def _float_parts(self, device: torch.device, dtype: torch.dtype):
        if device.type == "cpu" and dtype == torch.float32:
            return self.net.recon, self.net.recon_head
        key = (device, dtype)
        if key not in self._float_copies:
            import copy

            self._float_copies[key] = (copy.deepcopy(self.net.recon).to(device, dtype),
                                       copy.deepcopy(self.net.recon_head).to(device, dtype))
        return self._float_copies[key]


def _to_tensors(planes) -> tuple[torch.Tensor, torch.Tensor]:
    y, u, v = (torch.from_numpy(np.array(p, dtype=np.uint8)).float().div_(255) for p in planes)
    return y[None, None], torch.stack([u, v])[None]


def _int32(t: torch.Tensor) -> np.ndarray:
    """Symbols as int32; values beyond int32 cannot come from a sane latent and are clamped."""
    return t.clamp(-(2 ** 31), 2 ** 31 - 1).to(torch.int32).numpy()
