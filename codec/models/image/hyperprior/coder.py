"""Compressing and decompressing one image with a loaded hyperprior model.

Segments of the data packet (``bitstream/SPEC.md`` section 7.1):

0. ``z`` symbols, channel-major, table index = channel;
1. ``y`` anchor symbols (checkerboard positions with even row + col), channel-major;
2. ``y`` non-anchor symbols, channel-major.

Only the analysis and synthesis transforms run in floating point; every
table index and mean comes from :class:`IntegerEntropyPath`, so decoding is
bit-exact wherever it runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from codec.entropy import decode as rans_decode
from codec.entropy import encode as rans_encode
from codec.errors import CorruptStreamError
from codec.models.image.hyperprior.network import pad_to_multiple
from codec.models.image.hyperprior.integer_path import Y_FRACTION, Z_FRACTION
from codec.models.image.hyperprior.model_file import LoadedModel
from codec.nn.tiling import tile_count, tiled
from codec.nn.checkerboard import anchor_mask

TILE_PIXELS = 512     # analysis/synthesis tile (bounds memory for large photos)
HALO_PIXELS = 64


@dataclass
class LatentSymbols:
    """What the encoder sends for one latent, with what the decoder derives from it.

    ``y`` holds the symbols of every position (anchors and the rest), ``means``
    their means (``Y_FRACTION`` fixed point) and ``index`` their table indexes;
    the decoded latent is ``y * 2^Y_FRACTION + means``.
    """

    z: torch.Tensor
    y: torch.Tensor
    means: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor   # anchor positions
    hyper: torch.Tensor

    def latent(self) -> torch.Tensor:
        return self.y * (1 << Y_FRACTION) + self.means


class HyperpriorCoder:
    """Bytes <-> 8-bit RGB arrays for one :class:`LoadedModel`."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.net = model.float_model
        self.path = model.integer_path

    @property
    def levels(self) -> int:
        return self.model.config.levels

    # -- analysis ------------------------------------------------------------------------------
    def analysis_tiles(self, height: int, width: int) -> int:
        return tile_count((-(-height // 64) * 64, -(-width // 64) * 64), TILE_PIXELS, HALO_PIXELS)

    def module_on(self, name: str, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        """One of the float transforms (``g_a``, ``h_a``, ``g_s``) on a device and dtype, copied once."""
        device = torch.device(device)
        module = getattr(self.net, name)
        if device.type == "cpu" and dtype == torch.float32:
            return module
        cache = self.__dict__.setdefault("_modules", {})
        key = (name, str(device), dtype)
        if key not in cache:
            cache[key] = copy.deepcopy(module).to(device=device, dtype=dtype)
        return cache[key]

    def gains(self, level: float, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        gain, inverse = self.net.gains(torch.tensor([level]))
        return gain.to(device), inverse.to(device)

    def analyse(self, rgb: np.ndarray, *, on_tile=None, device: torch.device | str = "cpu") -> torch.Tensor:
        """The un-gained latent of an HxWx3 uint8 image (padded to a multiple of 64), on ``device``."""
        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].to(device).float().div_(255)
        x = pad_to_multiple(x, self.net.PAD_MULTIPLE)
        with torch.no_grad():
            return tiled(self.module_on("g_a", x.device), x, factor=1 / 16, tile=TILE_PIXELS, halo=HALO_PIXELS,
                         on_tile=on_tile)

    def hyper_symbols(self, y_gained: torch.Tensor) -> torch.Tensor:
        """The hyper-latent symbols ``z`` the encoder sends for a gained latent."""
        with torch.no_grad():
            z = self.module_on("h_a", y_gained.device)(y_gained)
        z_loc = self.path.z_loc.to(z.device).view(1, -1, 1, 1).double() / (1 << Z_FRACTION)
        return torch.round(z.double() - z_loc).to(torch.int64)

    def symbols(self, y_gained: torch.Tensor, z_sym: torch.Tensor) -> "LatentSymbols":
        """The symbols and table indexes of a gained latent, given the hyper symbols (the exact integer path)."""
        hyper = self.path.hyper(z_sym)
        mask = anchor_mask(*y_gained.shape[2:]).bool().expand_as(y_gained)
        scale = float(1 << Y_FRACTION)
        means_a, idx_a = self.path.anchor_parameters(hyper)
        sym_a = torch.round(y_gained.double() - means_a.double() / scale).to(torch.int64)
        y_hat_a = torch.where(mask, sym_a * (1 << Y_FRACTION) + means_a, torch.zeros_like(means_a))
        means_n, idx_n = self.path.nonanchor_parameters(hyper, y_hat_a)
        sym_n = torch.round(y_gained.double() - means_n.double() / scale).to(torch.int64)
        return LatentSymbols(z_sym, torch.where(mask, sym_a, sym_n), torch.where(mask, means_a, means_n),
                             torch.where(mask, idx_a, idx_n), mask, hyper)

    def encode_symbols(self, s: "LatentSymbols", *, threads: int = 1) -> list[bytes]:
        """The three segments of SPEC 7.1 for these symbols."""
        z, y, index, mask = s.z.cpu(), s.y.cpu(), s.index.cpu(), s.mask.cpu()
        z_idx = torch.arange(z.shape[1], dtype=torch.int32).view(1, -1, 1, 1).expand_as(z)
        return [
            rans_encode(_int32(z.flatten()), z_idx.flatten().numpy(), self.model.z_tables, threads=threads),
            rans_encode(_int32(y[mask]), index[mask].numpy(), self.model.y_tables, threads=threads),
            rans_encode(_int32(y[~mask]), index[~mask].numpy(), self.model.y_tables, threads=threads),
        ]

    # -- coding --------------------------------------------------------------------------------
    def compress_latent(self, y: torch.Tensor, level: float, *, threads: int = 1) -> list[bytes]:
        """Segments for the un-gained latent ``y`` at ``level`` (the one-pass encoder)."""
        gain, _ = self.gains(level, y.device)
        y_gained = y * gain
        return self.encode_symbols(self.symbols(y_gained, self.hyper_symbols(y_gained)), threads=threads)

    def compress(self, rgb: np.ndarray, level: float, *, threads: int = 1) -> list[bytes]:
        return self.compress_latent(self.analyse(rgb), level, threads=threads)

    def decode_latent(self, segments: tuple[bytes, ...] | list[bytes], height: int, width: int, *,
                      threads: int = 1, device: str | torch.device = "cpu") -> torch.Tensor:
        """The fixed-point latent (int64, Y_FRACTION fraction bits): entropy decoding and the integer path.

        This is the bit-exact part: the same file gives the same tensor on any
        device and any thread count.
        """
        if len(segments) != 3:
            raise CorruptStreamError(f"expected 3 segments, found {len(segments)}")
        cfg = self.model.config
        device = torch.device(device)
        yh, yw = -(-height // 64) * 4, -(-width // 64) * 4
        zh, zw = yh // 4, yw // 4
        z_idx = np.broadcast_to(np.arange(cfg.hyper_channels, dtype=np.int32)[:, None, None],
                                (cfg.hyper_channels, zh, zw)).ravel()
        z_sym = torch.from_numpy(rans_decode(segments[0], z_idx, self.model.z_tables, threads=threads))
        hyper = self.path.hyper(z_sym.to(device=device, dtype=torch.int64).view(1, -1, zh, zw))
        mask = anchor_mask(yh, yw, device=device).bool().expand(1, cfg.latent_channels, yh, yw)
        means_a, idx_a = self.path.anchor_parameters(hyper)
        y_q = torch.zeros(1, cfg.latent_channels, yh, yw, dtype=torch.int64, device=device)
        y_q[mask] = self._decode_part(segments[1], idx_a[mask], threads, device) + means_a[mask]
        means_n, idx_n = self.path.nonanchor_parameters(hyper, y_q)
        y_q[~mask] = self._decode_part(segments[2], idx_n[~mask], threads, device) + means_n[~mask]
        return y_q

    def _decode_part(self, data: bytes, indexes: torch.Tensor, threads: int, device: torch.device) -> torch.Tensor:
        symbols = rans_decode(data, indexes.cpu().numpy(), self.model.y_tables, threads=threads)
        return torch.from_numpy(symbols).to(device=device, dtype=torch.int64) * (1 << Y_FRACTION)

    def decompress(self, segments: tuple[bytes, ...] | list[bytes], height: int, width: int, level: float, *,
                   threads: int = 1, device: str | torch.device = "cpu",
                   synthesis_dtype: torch.dtype = torch.float32, on_tile=None) -> np.ndarray:
        """HxWx3 uint8 image from the three segments."""
        y_q = self.decode_latent(segments, height, width, threads=threads, device=device)
        return self.synthesise(y_q, level, height, width, dtype=synthesis_dtype, on_tile=on_tile)

    def synthesis_tiles(self, height: int, width: int) -> int:
        return tile_count((-(-height // 64) * 4, -(-width // 64) * 4), TILE_PIXELS // 16, HALO_PIXELS // 16)

    def synthesise(self, y_q: torch.Tensor, level: float, height: int, width: int, *,
                   dtype: torch.dtype = torch.float32, on_tile=None) -> np.ndarray:
        """Pixels from the fixed-point latent (floating point from here on; it changes pixels, not symbols)."""
        net = self.module_on("g_s", y_q.device, dtype)
        _, inverse_gain = self.gains(level, y_q.device)
        y_hat = y_q.to(torch.float64).div(1 << Y_FRACTION).to(dtype) * inverse_gain.to(dtype)
        with torch.no_grad():
            x = tiled(net, y_hat, factor=16, tile=TILE_PIXELS // 16, halo=HALO_PIXELS // 16, on_tile=on_tile)
        x = x[0, :, :height, :width].clamp(0, 1).mul(255).round().to(torch.uint8)
        return x.permute(1, 2, 0).contiguous().cpu().numpy()


def _int32(t: torch.Tensor) -> np.ndarray:
    """Symbols as int32; values beyond int32 cannot come from a sane latent and are clamped."""
    return t.clamp(-(2 ** 31), 2 ** 31 - 1).to(torch.int32).numpy()
