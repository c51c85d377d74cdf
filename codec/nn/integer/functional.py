"""Integer ops on activation tensors (int64), one function each: the normative semantics.

Every function here takes and returns int64 tensors whose entries are
activations (``|x| <= ACT_LIMIT``) and documents its exact result with the
notation of :mod:`codec.nn.integer.arith` (``sat``, ``round_shift``,
``requantize``). The graph nodes of :mod:`codec.nn.integer.ops` call these;
hand-wired code (e.g. concatenating a decoded latent with a propagated
feature of other fraction bits) may call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from codec.nn.integer.arith import requantize

MAX_FRACTION_GAP = 32        # add(): inputs' fraction bits may differ by at most this much
LEAKY_MAX_SHIFT = 30


def relu(x: torch.Tensor) -> torch.Tensor:
    """``max(x, 0)``; fraction bits unchanged."""
    return x.clamp_min(0)


def leaky_slope(slope: float, shift: int = 16) -> tuple[int, int]:
    """The integer slope ``(num, shift)`` standing for a float negative slope in ``[0, 1]``.

    ``num = round(slope * 2^shift)``, then common factors of two removed
    (so 0.125 becomes ``(1, 3)`` and 0.01 becomes ``(655, 16)``).
    """
    if not 0.0 <= slope <= 1.0:
        raise ValueError(f"integer LeakyReLU needs a negative slope in [0, 1], got {slope}")
    num = int(round(slope * (1 << shift)))
    while shift > 0 and num % 2 == 0:
        num //= 2
        shift -= 1
    return num, shift


def leaky_relu(x: torch.Tensor, num: int, shift: int) -> torch.Tensor:
    """``x`` where ``x >= 0``, else ``round_shift(x * num, shift)`` (ties rounded up); fraction bits unchanged.

    Requires ``0 <= shift <= 30`` and ``0 <= num <= 2^shift`` (a slope
    ``num / 2^shift`` in ``[0, 1]``), so the result lies in ``[x, 0]`` and
    needs no saturation.
    """
    if not (0 <= shift <= LEAKY_MAX_SHIFT and 0 <= num <= (1 << shift)):
        raise ValueError(f"invalid integer LeakyReLU slope {num} / 2^{shift}")
    neg = x * num
    if shift > 0:
        neg = torch.bitwise_right_shift(neg + (1 << (shift - 1)), shift)
    return torch.where(x >= 0, x, neg)


def _check_gaps(fractions: Sequence[int], f_out: int | None = None) -> None:
    values = [int(f) for f in fractions] + ([int(f_out)] if f_out is not None else [])
    if max(values) - min(values) > MAX_FRACTION_GAP:
        raise ValueError(f"fraction bits {values} differ by more than {MAX_FRACTION_GAP}")


def add(xs: Sequence[torch.Tensor], fractions: Sequence[int], f_out: int) -> torch.Tensor:
    """Sum of activations with fraction bits ``fractions``, as an activation with ``f_out`` fraction bits.

    With ``F = max(fractions)``: ``requantize(sum_j x_j * 2^(F - f_j), F - f_out)``:
    every input is aligned exactly to the finest fraction, the exact sum is
    rounded once (round half up) and saturated. Inputs have the same shape
    (torch broadcasting otherwise); fraction bits (and ``f_out``) differ by at
    most ``MAX_FRACTION_GAP``; at most 256 inputs.
    """
    if len(xs) != len(fractions) or not 1 <= len(xs) <= 256:
        raise ValueError("add needs 1 to 256 inputs, one fraction-bit count each")
    _check_gaps(fractions, f_out)
    top = max(int(f) for f in fractions)
    total = None
    for x, f in zip(xs, fractions):
        term = x if top == f else torch.bitwise_left_shift(x, top - int(f))
        total = term if total is None else total + term
    return requantize(total, top - int(f_out))


def concat(xs: Sequence[torch.Tensor], fractions: Sequence[int], f_out: int | None = None,
           dim: int = 1) -> torch.Tensor:
    """Concatenation along ``dim`` after aligning each input to ``f_out`` fraction bits.

    Input ``j`` becomes ``requantize(x_j, f_j - f_out)`` (exact when
    ``f_out >= f_j``, else rounded half up), then the inputs are concatenated
    in order. ``f_out`` defaults to ``min(fractions)``, which never rounds
    away more than needed and never saturates.
    """
    if len(xs) != len(fractions) or not xs:
        raise ValueError("concat needs at least one input and one fraction-bit count per input")
    f_out = min(int(f) for f in fractions) if f_out is None else int(f_out)
    _check_gaps(fractions, f_out)
    return torch.cat([x if int(f) == f_out else requantize(x, int(f) - f_out) for x, f in zip(xs, fractions)], dim)


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """``(N, C*r*r, H, W) -> (N, C, H*r, W*r)``, ``y[n][c][h*r+i][w*r+j] = x[n][c*r*r + i*r + j][h][w]``.

    A pure rearrangement; fraction bits unchanged.
    """
    return F.pixel_shuffle(x, r)


def pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """The inverse of :func:`pixel_shuffle`: ``(N, C, H*r, W*r) -> (N, C*r*r, H, W)``."""
    return F.pixel_unshuffle(x, r)


def zero_pad(x: torch.Tensor, pads: Sequence[Sequence[int]]) -> torch.Tensor:
    """Zero padding of the last ``len(pads)`` dimensions; ``pads[d] = (before, after)`` in dimension order."""
    flat = []
    for lo, hi in reversed([tuple(p) for p in pads]):
        flat += [int(lo), int(hi)]
    return F.pad(x, flat) if any(flat) else x


def zero_insert(x: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    """``u[..., u_d * p_d ...] = x[..., p_d ...]``, other entries 0, over the last ``len(factors)`` dimensions.

    Each dimension of size ``L`` becomes ``factor * (L - 1) + 1`` (the input
    of a transposed convolution in correlation form).
    """
    factors = [int(f) for f in factors]
    if all(f == 1 for f in factors):
        return x
    lead = x.shape[: x.dim() - len(factors)]
    sizes = [f * (n - 1) + 1 for f, n in zip(factors, x.shape[x.dim() - len(factors):])]
    out = x.new_zeros(*lead, *sizes)
    index = (...,) + tuple(slice(None, None, f) for f in factors)
    out[index] = x
    return out


def table_index(x: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """The number of entries of ascending int ``thresholds`` that are ``<= x``, for every entry of int ``x``.

    How a parameter (e.g. a scale with some fraction bits) selects one of
    ``len(thresholds) + 1`` CDF tables with integer comparisons only.
    """
    return torch.bucketize(x, thresholds.to(device=x.device, dtype=x.dtype), right=True)
