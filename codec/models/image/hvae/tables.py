"""The symbol tables of the family: Gaussian, zero-mean, with log-spaced scales (the symbol domain).

Built once at export and stored in the weights file; decoders never rebuild them.
"""

from __future__ import annotations

import torch

from codec.entropy.cdf import gaussian_pmf, log_scale_grid, table_arrays

SCALE_GRID = (0.11, 256.0, 64)  # min, max, count


def scale_grid() -> torch.Tensor:
    """The scales of the tables, ascending (float64)."""
    return torch.from_numpy(log_scale_grid(*SCALE_GRID))


def build_tables() -> tuple:
    """``(cdfs, lengths, offsets)`` of every table (``codec.entropy.cdf.table_arrays``)."""
    return table_arrays([gaussian_pmf(float(s)) for s in scale_grid()])
