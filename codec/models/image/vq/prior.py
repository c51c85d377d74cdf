"""Coding the token grids with the exact integer context models (the learned prior).

Order of the file (bitstream/models/vq.md): the block levels, then for each
grid (coarse, fine, finest) two checkerboard passes, each one rANS payload:

- pass A codes the grid's present positions with (row + column) even, seeing
  only the coarser grid (nothing, for the coarse grid);
- pass B codes the other present positions, seeing the coarser grid and the
  pass-A tokens of its own grid.

A pass's context is a tensor of -1/0/1 integers (``network.prior_inputs``);
the grid's :class:`~codec.nn.integer.IntegerModule` maps it to logits with
4 fraction bits, exactly; ``softmax.tables`` turns the logits of the coded
positions (raster order) into one CDF table each. Decoding repeats the same
computation on the decoded tokens, so the tables, and hence the tokens, are
the same on every machine, thread count and device.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from codec.entropy import CdfTables
from codec.entropy import decode as rans_decode
from codec.entropy import encode as rans_encode
from codec.errors import CorruptStreamError
from codec.models.image.vq import softmax
from codec.nn.integer import IntegerModule

GRIDS = 3
# The block levels' table: 0, 1, 2 equally likely (and the unused escape symbol).
LEVEL_CDF = np.array([[0, 21845, 43690, 65535, 65536]], dtype=np.int32)


def level_tables() -> CdfTables:
    return CdfTables(LEVEL_CDF, np.array([5], dtype=np.int32), np.array([0], dtype=np.int32), precision=16)


@dataclass
class TokenGrids:
    """Block levels (hb, wb) and the token indices of the three grids (absent positions hold 0)."""

    levels: np.ndarray             # int64 (hb, wb), 0..2
    tokens: list[np.ndarray]       # int64 (hb * 2^s, wb * 2^s) for s = 0, 1, 2

    def present(self, s: int) -> np.ndarray:
        f = 1 << s
        return np.repeat(np.repeat(self.levels >= s, f, axis=0), f, axis=1)

    def fingerprint(self) -> str:
        """SHA-256 of the levels and every grid's indices (int64 little-endian, row-major)."""
        h = hashlib.sha256()
        for a in [self.levels, *self.tokens]:
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        return h.hexdigest()


def _anchor(h: int, w: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) % 2) == 0


def _bits(idx: np.ndarray, bits: int) -> np.ndarray:
    """(h, w) indices -> (bits, h, w) int64 of -1/+1."""
    return ((idx[None] >> np.arange(bits)[:, None, None]) & 1) * 2 - 1


class IntegerPrior:
    """The three grids' integer context models and the token coding they drive."""

    def __init__(self, nets: list[IntegerModule], bits: int) -> None:
        if len(nets) != GRIDS:
            raise ValueError(f"{len(nets)} context models, expected {GRIDS}")
        self.nets = nets
        self.bits = bits

    def _context(self, grids: TokenGrids, s: int, known: np.ndarray | None) -> np.ndarray:
        """(2 * bits + 2, h, w) int64 context of grid ``s``; ``known``: 0/1 mask of its decoded tokens."""
        h, w = grids.tokens[s].shape
        out = np.zeros((2 * self.bits + 2, h, w), dtype=np.int64)
        if s > 0:
            up = np.repeat(np.repeat(grids.present(s - 1), 2, axis=0), 2, axis=1).astype(np.int64)
            coarse = np.repeat(np.repeat(grids.tokens[s - 1], 2, axis=0), 2, axis=1)
            out[: self.bits] = _bits(coarse, self.bits) * up
            out[self.bits] = up
        if known is not None:
            k = known.astype(np.int64)
            out[self.bits + 1: 2 * self.bits + 1] = _bits(grids.tokens[s], self.bits) * k
            out[2 * self.bits + 1] = k
        return out

    def logits(self, grids: TokenGrids, s: int, known: np.ndarray | None, where: np.ndarray,
               device: str | torch.device = "cpu") -> np.ndarray:
        """(N, 2^bits) integer logits of the positions ``where`` (raster order) of grid ``s``."""
        ctx = torch.from_numpy(self._context(grids, s, known))[None].to(device)
        out = self.nets[s](ctx)[0].cpu().numpy()                   # (K, h, w)
        return out[:, where].T

    def _passes(self, grids: TokenGrids, s: int):
        h, w = grids.tokens[s].shape
        present = grids.present(s)
        a = _anchor(h, w)
        return ((None, a & present), (a & present, ~a & present))

    def encode(self, grids: TokenGrids, *, threads: int = 1, device: str | torch.device = "cpu") -> list[bytes]:
        """The levels' payload, then two payloads per grid."""
        levels = grids.levels.ravel()
        out = [rans_encode(levels, np.zeros_like(levels), level_tables(), threads=threads)]
        for s in range(GRIDS):
            for known, where in self._passes(grids, s):
                out.append(self._encode_pass(grids, s, known, where, threads, device))
        return out

    def _encode_pass(self, grids, s, known, where, threads, device) -> bytes:
        if not where.any():
            return b""
        tables = softmax.tables(self.logits(grids, s, known, where, device))
        symbols = grids.tokens[s][where]
        return rans_encode(symbols, np.arange(len(symbols)), tables, threads=threads)

    def ideal_bits(self, grids: TokenGrids, device: str | torch.device = "cpu") -> list[float]:
        """Bits of each grid's tokens under the prior, before the coder's overhead."""
        bits = []
        for s in range(GRIDS):
            total = 0.0
            for known, where in self._passes(grids, s):
                if where.any():
                    total += softmax.ideal_bits(self.logits(grids, s, known, where, device), grids.tokens[s][where])
            bits.append(total)
        return bits

    def decode(self, segments: list[bytes], hb: int, wb: int, *, threads: int = 1,
               device: str | torch.device = "cpu") -> TokenGrids:
        if len(segments) != 1 + 2 * GRIDS:
            raise CorruptStreamError(f"{len(segments)} segments, a vq image has {1 + 2 * GRIDS}")
        levels = rans_decode(segments[0], np.zeros(hb * wb, dtype=np.int32), level_tables(), threads=threads)
        if levels.min() < 0 or levels.max() > 2:
            raise CorruptStreamError("a block granularity level outside 0..2")
        grids = TokenGrids(levels.reshape(hb, wb).astype(np.int64),
                           [np.zeros((hb << s, wb << s), dtype=np.int64) for s in range(GRIDS)])
        k = 1
        for s in range(GRIDS):
            for known, where in self._passes(grids, s):
                data = segments[k]
                k += 1
                if not where.any():
                    if data:
                        raise CorruptStreamError(f"segment {k - 1} should be empty")
                    continue
                tables = softmax.tables(self.logits(grids, s, known, where, device))
                n = int(where.sum())
                symbols = rans_decode(data, np.arange(n, dtype=np.int32), tables, threads=threads)
                if symbols.min() < 0 or symbols.max() >= (1 << self.bits):
                    raise CorruptStreamError("a token outside the codebook")
                grids.tokens[s][where] = symbols
        return grids
