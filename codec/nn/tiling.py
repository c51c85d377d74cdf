"""Run a fully convolutional transform tile by tile with a halo, so memory stays bounded.

The halo covers the transform's receptive field, so each tile's centre is
what the whole-image pass would compute there (up to float rounding), and
peak memory depends on the tile size, not on the image size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def tile_count(shape: tuple[int, ...], tile: int, halo: int) -> int:
    """How many tiles :func:`tiled` runs for an input of this shape (for progress)."""
    h, w = shape[-2:]
    if h <= tile + 2 * halo and w <= tile + 2 * halo:
        return 1
    return -(-h // tile) * -(-w // tile)


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, factor: float, tile: int,
          halo: int, on_tile: Callable[[], None] | None = None) -> torch.Tensor:
    """Apply ``fn`` (which scales spatial size by ``factor``) over ``x`` in tiles of ``tile`` input samples.

    ``tile`` and ``halo`` are in input samples and must be such that tile
    boundaries map to whole output samples. ``on_tile`` is called after each tile.
    """
    h, w = x.shape[-2:]
    if h <= tile + 2 * halo and w <= tile + 2 * halo:
        out = fn(x)
        if on_tile is not None:
            on_tile()
        return out
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(0, top - halo), max(0, left - halo)
            t1, l1 = min(h, top + tile + halo), min(w, left + tile + halo)
            part = fn(x[..., t0:t1, l0:l1])
            if out is None:
                out = part.new_empty(*part.shape[:-2], int(h * factor), int(w * factor))
            ot, ol = int((top - t0) * factor), int((left - l0) * factor)
            oh = int(min(tile, h - top) * factor)
            ow = int(min(tile, w - left) * factor)
            out[..., int(top * factor): int(top * factor) + oh, int(left * factor): int(left * factor) + ow] = \
                part[..., ot: ot + oh, ol: ol + ow]
            if on_tile is not None:
                on_tile()
    return out
