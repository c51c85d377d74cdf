"""Compressing and decompressing one image with a loaded hierarchical VAE.

The data packet holds one segment per latent group, coarse to fine
(``bitstream/models/hvae.md``): segment ``g`` is one rANS block of group
``g``'s symbols in channel-major, then row, then column order, each coded
with the table the integer path gives it. A decoder that stops after ``k``
segments completes the remaining groups with their prior means (symbol 0
everywhere) and still has a whole top-down feature to synthesise: a preview
from the first bytes of the packet.

Only the encoder (analysis and posteriors) and the synthesis run in floating
point; every mean, table index and top-down feature comes from
:class:`IntegerTopDown`, so decoding is bit-exact wherever it runs.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from codec.entropy import decode as rans_decode
from codec.entropy import encode as rans_encode
from codec.errors import CorruptStreamError
from codec.models.image.hvae.integer_path import FRACTION, LEVEL_STEPS, GroupParameters
from codec.models.image.hvae.model_file import LoadedHvae
from codec.models.image.hvae.network import pad_to_multiple
from codec.nn.integer import from_fixed
from codec.nn.tiling import tile_count, tiled

SYNTHESIS_TILE = 64   # latent samples at 1/8 (512 pixels)
SYNTHESIS_HALO = 8    # covers the synthesis' receptive field


@dataclass
class TopDown:
    """The result of the exact top-down pass: the last feature and every group's decoded latent."""

    feature: torch.Tensor          # int64 (1, C, H/8, W/8)
    fraction: int                  # its fraction bits
    latents: list[torch.Tensor]    # int64 per group, FRACTION bits
    symbols: list[torch.Tensor]    # int64 per group (zeros for groups filled with their prior means)
    indexes: list[torch.Tensor]    # int32 per group: the table of every symbol

    def fingerprint(self) -> str:
        """SHA-256 of every decoded latent and the last feature (int64, little-endian, N C H W order)."""
        h = hashlib.sha256()
        for t in [*self.latents, self.feature]:
            h.update(t.cpu().numpy().astype("<i8").tobytes())
        return h.hexdigest()


SymbolSource = Callable[[int, GroupParameters, torch.Tensor], torch.Tensor | None]


def padded_size(height: int, width: int) -> tuple[int, int]:
    return -(-height // 64) * 64, -(-width // 64) * 64


class HvaeCoder:
    """Bytes <-> 8-bit RGB arrays for one :class:`LoadedHvae`."""

    def __init__(self, model: LoadedHvae) -> None:
        self.model = model
        self.net = model.float_model
        self.path = model.path

    @property
    def levels(self) -> int:
        return self.model.config.levels

    @property
    def groups(self) -> int:
        return self.path.groups

    def module_on(self, name: str, device: torch.device) -> torch.nn.Module:
        """A float part of the model (``encoder``, ``synthesis``...) on ``device``, copied once per device."""
        module = getattr(self.net, name)
        if torch.device(device).type == "cpu":
            return module
        cache = self.__dict__.setdefault("_modules", {})
        key = (name, str(device))
        if key not in cache:
            cache[key] = copy.deepcopy(module).to(device)
        return cache[key]

    @staticmethod
    def level_tensor(level_steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.tensor([level_steps / LEVEL_STEPS], device=device)

    # -- the exact top-down pass -----------------------------------------------------------------
    def top_down(self, height: int, width: int, level_steps: int, symbols_of: SymbolSource,
                 device: torch.device | str = "cpu") -> TopDown:
        """Run the integer path over the groups; ``symbols_of(g, parameters, feature)`` gives group
        ``g``'s symbols (int64, shaped like the means) or None to take the prior means."""
        ph, pw = padded_size(height, width)
        f = self.path.start(ph, pw).to(device)
        latents, symbols, indexes = [], [], []
        for g in range(self.groups):
            f = self.path.enter(g, f)
            params = self.path.parameters(g, f, level_steps)
            sym = symbols_of(g, params, f)
            if sym is None:
                sym = torch.zeros_like(params.means)
                z = params.means
            else:
                z = params.latent(sym)
            latents.append(z)
            symbols.append(sym)
            indexes.append(params.indexes)
            f = self.path.merge(g, f, z)
        return TopDown(f, self.path.final_fraction(), latents, symbols, indexes)

    # -- encoding ------------------------------------------------------------------------------
    def analyse(self, rgb: np.ndarray, level_steps: int, *, device: torch.device | str = "cpu") -> dict:
        """The encoder's features of an HxWx3 uint8 image (padded to a multiple of 64) at a level."""
        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].to(device).float().div_(255)
        x = pad_to_multiple(x, self.net.PAD_MULTIPLE)
        with torch.no_grad():
            return self.module_on("encoder", device)(x, self.level_tensor(level_steps, device))

    def encode_top_down(self, features: dict, height: int, width: int, level_steps: int, *,
                        device: torch.device | str = "cpu") -> TopDown:
        """The symbols the encoder sends: each group's posterior, rounded around its exact prior mean."""
        scale = float(1 << FRACTION)

        def posterior(g: int, params: GroupParameters, feature: torch.Tensor) -> torch.Tensor:
            group = self.net.groups[g]
            f = from_fixed(feature, self.path.feature_fraction(g))
            with torch.no_grad():
                q = group.posterior(torch.cat([f, features[group.stride]], dim=1)).double()
            means = params.means.double() / scale
            steps = params.steps.double().view(1, -1, 1, 1) / scale
            return torch.round((q - means) / steps).clamp(-(2 ** 30), 2 ** 30).to(torch.int64)

        return self.top_down(height, width, level_steps, posterior, device)

    def encode_symbols(self, result: TopDown, *, threads: int = 1) -> list[bytes]:
        """One segment per group: its symbols coded with the tables the exact path chose."""
        return [rans_encode(_int32(sym.flatten()), idx.flatten().cpu().numpy(), self.model.tables, threads=threads)
                for sym, idx in zip(result.symbols, result.indexes)]

    def compress(self, rgb: np.ndarray, level_steps: int, *, threads: int = 1,
                 device: torch.device | str = "cpu") -> list[bytes]:
        h, w = rgb.shape[:2]
        features = self.analyse(rgb, level_steps, device=device)
        result = self.encode_top_down(features, h, w, level_steps, device=device)
        return self.encode_symbols(result, threads=threads)

    # -- decoding ------------------------------------------------------------------------------
    def decode_top_down(self, segments: tuple[bytes, ...] | list[bytes], height: int, width: int, level_steps: int,
                        *, groups: int | None = None, threads: int = 1,
                        device: torch.device | str = "cpu") -> TopDown:
        """Entropy decoding and the integer path over the first ``groups`` segments (all by default);
        the later groups take their prior means. This is the bit-exact part of decoding."""
        if len(segments) != self.groups:
            raise CorruptStreamError(f"expected {self.groups} segments (one per latent group), found {len(segments)}")
        used = self.groups if groups is None else min(groups, self.groups)

        def decoded(g: int, params: GroupParameters, feature: torch.Tensor) -> torch.Tensor | None:
            if g >= used:
                return None
            idx = params.indexes.cpu().numpy().ravel()
            sym = rans_decode(segments[g], idx, self.model.tables, threads=threads)
            return torch.from_numpy(sym).to(device=params.means.device, dtype=torch.int64).view_as(params.means)

        return self.top_down(height, width, level_steps, decoded, device)

    def synthesis_tiles(self, height: int, width: int) -> int:
        ph, pw = padded_size(height, width)
        return tile_count((ph // 8, pw // 8), SYNTHESIS_TILE, SYNTHESIS_HALO)

    def synthesise(self, result: TopDown, level_steps: int, height: int, width: int, *, on_tile=None) -> np.ndarray:
        """Pixels from the exact top-down feature (floating point from here on: it changes pixels, not symbols)."""
        device = result.feature.device
        net = self.module_on("synthesis", device)
        embedding = self.module_on("synthesis_embedding", device)(self.level_tensor(level_steps, device))
        feature = from_fixed(result.feature, result.fraction) + embedding
        with torch.no_grad():
            x = tiled(net, feature, factor=8, tile=SYNTHESIS_TILE, halo=SYNTHESIS_HALO, on_tile=on_tile) + 0.5
        x = x[0, :, :height, :width].clamp(0, 1).mul(255).round().to(torch.uint8)
        return x.permute(1, 2, 0).contiguous().cpu().numpy()

    def decompress(self, segments, height: int, width: int, level_steps: int, *, groups: int | None = None,
                   threads: int = 1, device: torch.device | str = "cpu", on_tile=None) -> np.ndarray:
        result = self.decode_top_down(segments, height, width, level_steps, groups=groups, threads=threads,
                                      device=device)
        return self.synthesise(result, level_steps, height, width, on_tile=on_tile)

    def refinements(self, segments, height: int, width: int, level_steps: int, *, threads: int = 1,
                    device: torch.device | str = "cpu") -> Iterator[np.ndarray]:
        """The image after each prefix of groups, coarsest first, the full decode last.

        Pass ``k`` decodes segment ``k - 1`` (its tables come from the groups
        before it, already decoded) and fills the later groups with their prior
        means, so the first image needs only the first segment.
        """
        if len(segments) != self.groups:
            raise CorruptStreamError(f"expected {self.groups} segments (one per latent group), found {len(segments)}")
        known: list[torch.Tensor] = []
        for k in range(1, self.groups + 1):
            def source(g: int, params: GroupParameters, feature: torch.Tensor, k=k) -> torch.Tensor | None:
                if g < len(known):
                    return known[g]
                if g == k - 1:
                    idx = params.indexes.cpu().numpy().ravel()
                    sym = rans_decode(segments[g], idx, self.model.tables, threads=threads)
                    known.append(torch.from_numpy(sym).to(device=params.means.device,
                                                          dtype=torch.int64).view_as(params.means))
                    return known[g]
                return None

            yield self.synthesise(self.top_down(height, width, level_steps, source, device), level_steps,
                                  height, width)


def _int32(t: torch.Tensor) -> np.ndarray:
    """Symbols as int32 (the encoder clamps them far inside that range)."""
    return t.clamp(-(2 ** 31), 2 ** 31 - 1).to(torch.int32).cpu().numpy()
