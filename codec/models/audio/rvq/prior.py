"""The learned prior over RVQ indices: one frequency table per codebook, fitted on training codes.

A symbol is the index chosen in codebook ``level`` at one frame of one
channel; it is coded with table ``level``. The tables are counts of the
training audio's codes (plus one for every entry, so each stays codable),
quantised with ``codec.entropy.quantize_pmf`` and shipped in the weights file
as 16-bit frequencies; the CDF is their running sum, integer and exact, so
every machine uses the same table for every symbol.

A context model over time (the previous frame's index of the same codebook,
clustered into 8 to 32 classes) was measured and left out: on held-out
training audio it saved about 0.6 % more than these tables
(``evaluation/audio/context_prior.py``), less than the second rANS block per
packet it would need, because the rANS API takes every table index before
decoding and a temporal context needs the previous symbol first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codec.entropy import CdfTables
from codec.entropy.cdf import quantize_pmf

PRECISION = 16
TAIL_MASS = 1e-9      # the escape symbol: never used by valid codes, required by the table format


@dataclass
class Prior:
    freqs: np.ndarray      # (levels, size + 1) uint16 symbol frequencies (escape last), each row summing to 2^16

    def __post_init__(self) -> None:
        levels, width = self.freqs.shape
        cdfs = np.zeros((levels, width + 1), dtype=np.int32)
        cdfs[:, 1:] = np.cumsum(self.freqs.astype(np.int64), axis=1)
        if not np.all(cdfs[:, -1] == 1 << PRECISION) or np.any(self.freqs == 0):
            raise ValueError("prior tables must hold positive frequencies summing to 2^16")
        self.size = width - 1
        self.levels = levels
        self.tables = CdfTables(cdfs, np.full(levels, width + 1, dtype=np.int32), np.zeros(levels, dtype=np.int32),
                                PRECISION)
        self._bits = PRECISION - np.log2(self.freqs[:, : self.size].astype(np.float64))

    def indexes(self, levels: int, frames: int) -> np.ndarray:
        """Table index of every symbol of one channel's (levels, frames) codes: its level."""
        return np.broadcast_to(np.arange(levels, dtype=np.int32)[:, None], (levels, frames))

    def level_bits(self, codes: np.ndarray) -> np.ndarray:
        """Ideal code length in bits of each level's row of ``codes`` (levels, frames)."""
        return self._bits[np.arange(codes.shape[0])[:, None], codes].sum(axis=1)


def fit_prior(sequences: list[np.ndarray], levels: int, size: int) -> Prior:
    """A prior from training code sequences, each (levels, frames) of one channel."""
    counts = np.ones((levels, size))
    for seq in sequences:
        for lv in range(levels):
            counts[lv] += np.bincount(seq[lv], minlength=size)
    rows = [np.diff(quantize_pmf(c / c.sum(), TAIL_MASS, PRECISION)) for c in counts]
    return Prior(np.stack(rows).astype(np.uint16))


def fixed_length_bits(size: int) -> float:
    """Bits per index without a prior (fixed-length codes)."""
    return float(np.log2(size))
