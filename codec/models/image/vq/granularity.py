"""Where the fine grids go: an information measure per 32x32 block and the granularity levels it ranks.

The measure is the mean gradient energy (|dx| + |dy| of luma) of the block:
flat sky and smooth walls rank low, texture and edges high, which is where a
coarse token (one per 32x32 pixels) fails first. The encoder alone computes
it; the chosen levels are coded in the file, so the decoder never depends on
it (nor on its floating point).

A quality ``q`` sets two fractions of the blocks: those with at least the
fine grid, and those with the finest grid too (``FRACTIONS``, interpolated
linearly between whole levels); blocks are ranked by the measure,
ties by raster order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from codec.models.image.vq.network import BLOCK

# (fraction of blocks with the fine grid, fraction with the finest grid) of quality levels 1..6
FRACTIONS = ((0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (1.0, 0.0), (1.0, 0.25), (1.0, 0.5))


def fractions(quality: float) -> tuple[float, float]:
    """The two fractions of a (continuous) quality in 1..len(FRACTIONS)."""
    q = min(max(quality, 1.0), float(len(FRACTIONS))) - 1
    i = min(int(q), len(FRACTIONS) - 2)
    t = q - i
    (a0, b0), (a1, b1) = FRACTIONS[i], FRACTIONS[i + 1]
    return a0 + t * (a1 - a0), b0 + t * (b1 - b0)


def block_information(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1], H and W multiples of 32 -> (B, H/32, W/32) mean gradient energy of luma."""
    y = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    dx = F.pad((y[..., :, 1:] - y[..., :, :-1]).abs(), (0, 1, 0, 0))
    dy = F.pad((y[..., 1:, :] - y[..., :-1, :]).abs(), (0, 0, 0, 1))
    return F.avg_pool2d(dx + dy, BLOCK)[:, 0]


def levels_from_ranking(info: torch.Tensor, fine: torch.Tensor | float, finest: torch.Tensor | float) -> torch.Tensor:
    """(B, h, w) levels 0/1/2: the top ``finest`` fraction of blocks by ``info`` get 2, the next up to
    ``fine`` get 1 (fractions per image as tensors of shape (B,), or one float for all)."""
    b, h, w = info.shape
    n = h * w
    fine = torch.as_tensor(fine, dtype=torch.float32, device=info.device).expand(b)
    finest = torch.minimum(torch.as_tensor(finest, dtype=torch.float32, device=info.device).expand(b), fine)
    order = torch.argsort(info.reshape(b, n), dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(n, device=info.device).expand(b, n))
    n_fine = torch.round(fine * n).long()[:, None]
    n_finest = torch.round(finest * n).long()[:, None]
    levels = (rank < n_fine).long() + (rank < n_finest).long()
    return levels.reshape(b, h, w)


def presence(levels: torch.Tensor) -> list[torch.Tensor]:
    """0/1 float masks (B, 1, h*, w*) of the three grids from block levels (B, h, w)."""
    g = levels[:, None].float()
    return [torch.ones_like(g),
            F.interpolate((g >= 1).float(), scale_factor=2.0, mode="nearest"),
            F.interpolate((g >= 2).float(), scale_factor=4.0, mode="nearest")]
