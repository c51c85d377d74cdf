"""Coding the latent grids with the integer context model (one rANS block, coarsest grid first).

The encoder knows every latent, so the C++ kernel computes every table index
and base at once; the decoder's kernel computes each one just before reading
its symbol. Both run the same code on the same integers, so the tables
always agree. The block is an ordinary rANS block (``bitstream/SPEC.md``
section 5) with one lane and one substream: given the indexes, the package's
standard decoder reads it too (the tests check that).
"""

from __future__ import annotations

import numpy as np
import torch

from codec.entropy import encode as rans_encode
from codec.models.image.overfit.integer_context import IntegerContext
from codec.models.image.overfit.tables import LatentTables


def _arrays(grids: list[torch.Tensor | np.ndarray]) -> list[np.ndarray]:
    out = []
    for g in grids:
        a = g.cpu().numpy() if isinstance(g, torch.Tensor) else np.asarray(g)
        out.append(np.ascontiguousarray(a.reshape(a.shape[-2:]), dtype=np.int32))
    return out


def coding_order(grids: list[np.ndarray]) -> np.ndarray:
    """All latents flattened in coding order: coarsest grid first, raster order."""
    return np.concatenate([g.ravel() for g in reversed(grids)])


def symbols_and_indexes(grids: list[torch.Tensor | np.ndarray], context: IntegerContext,
                        tables: LatentTables) -> tuple[np.ndarray, np.ndarray]:
    arrays = _arrays(grids)
    indexes, bases = context.kernel(tables).parameters(arrays)
    return (coding_order(arrays).astype(np.int64) - bases).astype(np.int32), indexes


def latent_bits(grids: list[torch.Tensor | np.ndarray], context: IntegerContext, tables: LatentTables) -> float:
    """What the latents cost under ``context`` (the coder adds a few bytes of framing)."""
    symbols, indexes = symbols_and_indexes(grids, context, tables)
    return tables.coder.information_bits(symbols, indexes)


def encode_latents(grids: list[torch.Tensor | np.ndarray], context: IntegerContext, tables: LatentTables) -> bytes:
    symbols, indexes = symbols_and_indexes(grids, context, tables)
    return rans_encode(symbols, indexes, tables.coder, lanes=1, substream_size=max(symbols.size, 1))


def decode_latents(data: bytes, shapes: list[tuple[int, int]], context: IntegerContext,
                   tables: LatentTables) -> list[np.ndarray]:
    """The grids (finest first, int32) from the latent block; CorruptStreamError if it does not decode."""
    return context.kernel(tables).decode(data, shapes)
