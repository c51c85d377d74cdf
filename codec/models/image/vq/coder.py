"""Compressing and decompressing one image with a loaded token codec.

The data packet holds seven segments (``bitstream/models/vq.md``): the
block levels, then two checkerboard passes for each grid (``prior.py``).
Images are padded to a multiple of 32 by repeating their last row and
column; the decoder crops the padding away.

Only the encoder (image to tokens, and the information measure that picks
the granularity) and the synthesis (tokens to pixels) run in floating
point; the tokens of a file and every probability they are coded with are
exact, so a file decodes to the same tokens wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from codec.models.image.vq.granularity import block_information, fractions, levels_from_ranking, presence
from codec.models.image.vq.model_file import LoadedVq
from codec.models.image.vq.network import BLOCK, bits_to_index, index_to_bits
from codec.models.image.vq.prior import GRIDS, TokenGrids


@dataclass
class Analysis:
    """What the encoder computes once per image, whatever the level: every grid's tokens and block ranking."""

    tokens: list[np.ndarray]       # int64 indices of the full grids
    information: torch.Tensor      # (1, hb, wb) block information measure


def padded_size(height: int, width: int) -> tuple[int, int]:
    return -(-height // BLOCK) * BLOCK, -(-width // BLOCK) * BLOCK


class VqCoder:
    """Bytes <-> 8-bit RGB arrays for one :class:`LoadedVq`."""

    levels = 6

    def __init__(self, model: LoadedVq) -> None:
        self.model = model
        self.net = model.float_model
        self.prior = model.prior

    @property
    def bits(self) -> int:
        return self.model.config.bits

    @torch.no_grad()
    def analyse(self, rgb: np.ndarray, *, device: str | torch.device = "cpu") -> Analysis:
        h, w = rgb.shape[:2]
        ph, pw = padded_size(h, w)
        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float().div_(255)
        x = F.pad(x, (0, pw - w, 0, ph - h), mode="replicate").to(device)
        net = self.net.to(device)
        tokens = [bits_to_index(t)[0].cpu().numpy().astype(np.int64) for t in net.tokens(x)]
        return Analysis(tokens, block_information(x).cpu())

    def grids_at(self, analysis: Analysis, level: float) -> TokenGrids:
        """The coded grids at ``level`` (0-based quality): block levels from the ranking, absent tokens zero."""
        fine, finest = fractions(level + 1)
        levels = levels_from_ranking(analysis.information, fine, finest)[0].numpy().astype(np.int64)
        grids = TokenGrids(levels, [t.copy() for t in analysis.tokens])
        for s in range(GRIDS):
            grids.tokens[s][~grids.present(s)] = 0
        return grids

    def compress(self, rgb: np.ndarray, level: float, *, threads: int = 1,
                 device: str | torch.device = "cpu") -> list[bytes]:
        return self.prior.encode(self.grids_at(self.analyse(rgb, device=device), level), threads=threads,
                                 device=device)

    def decode_grids(self, segments, height: int, width: int, *, threads: int = 1,
                     device: str | torch.device = "cpu") -> TokenGrids:
        ph, pw = padded_size(height, width)
        return self.prior.decode(list(segments), ph // BLOCK, pw // BLOCK, threads=threads, device=device)

    @torch.no_grad()
    def synthesise(self, grids: TokenGrids, height: int, width: int, *,
                   device: str | torch.device = "cpu") -> np.ndarray:
        tokens = [index_to_bits(torch.from_numpy(t)[None], self.bits).to(device) for t in grids.tokens]
        present = [p.to(device) for p in presence(torch.from_numpy(grids.levels)[None])]
        x = self.net.to(device).synthesis(tokens, present[1:])[0, :, :height, :width]
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def decompress(self, segments, height: int, width: int, *, threads: int = 1,
                   device: str | torch.device = "cpu") -> np.ndarray:
        grids = self.decode_grids(segments, height, width, threads=threads, device=device)
        return self.synthesise(grids, height, width, device=device)
