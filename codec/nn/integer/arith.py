"""The arithmetic rules every integer op shares: limits, the one rounding rule, exact accumulation.

Normative text: ``bitstream/SPEC.md`` section 7.2. Notation used in the
docstrings of this package (``x``, ``acc`` are mathematical integers):

- ``sat(v) = min(max(v, -ACT_LIMIT), ACT_LIMIT)``;
- ``round_shift(a, s) = floor((a + 2^(s-1)) / 2^s)`` for ``s > 0`` (divide by
  ``2^s``, ties rounded up, i.e. towards +infinity) and ``a * 2^(-s)`` for
  ``s <= 0`` (exact);
- ``requantize(a, s) = sat(round_shift(a, s))``: the only way any op turns a
  wider integer into an activation.

An activation tensor holds integers in ``[-ACT_LIMIT, ACT_LIMIT]`` and has one
fraction-bit count ``f`` (its value is ``integer / 2^f``); ``f`` is a static
property of the graph position, never stored in the tensor.
"""

from __future__ import annotations

import contextlib
import math

import torch

ACT_LIMIT = (1 << 20) - 1
WEIGHT_LIMIT = (1 << 11) - 1
_EXACT_LIMIT = 1 << 53

# requantize() is exact for every shift: beyond these, results no longer change (see its docstring).
_MAX_RIGHT = 62
_MAX_LEFT = 42


def round_shift(acc: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rescale int64 ``acc`` (N, C, H, W) by per-channel ``shift`` (C,) with round half up."""
    shift = shift.view(1, -1, 1, 1)
    right = shift.clamp_min(0)
    half = torch.where(right > 0, torch.ones_like(right) << (right - 1).clamp_min(0), torch.zeros_like(right))
    down = torch.bitwise_right_shift(acc + half, right)
    return torch.bitwise_left_shift(down, (-shift).clamp_min(0))


def _exact_mode(device: torch.device):
    return torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else contextlib.nullcontext()


def saturate(x: torch.Tensor) -> torch.Tensor:
    """``sat(x)``: clamp int64 ``x`` to ``[-ACT_LIMIT, ACT_LIMIT]``."""
    return x.clamp(-ACT_LIMIT, ACT_LIMIT)


def requantize(acc: torch.Tensor, shift: int | torch.Tensor, channel_dim: int = 1) -> torch.Tensor:
    """``sat(round_shift(acc, s))`` elementwise: the one rounding rule of every integer op.

    ``shift`` is a Python int (one shift for the whole tensor) or an int64
    tensor of one shift per index of ``acc``'s dimension ``channel_dim``.
    Exact for every int64 shift whenever ``|acc| < 2^61``: a right shift
    beyond 62 gives 0 exactly as 62 does, and a left shift of a nonzero value
    beyond 42 saturates exactly as 42 does, so the shifts are clamped to these
    before any int64 operation could overflow.
    """
    if isinstance(shift, int):
        if shift > 0:
            s = min(shift, _MAX_RIGHT)
            return saturate(torch.bitwise_right_shift(acc + (1 << (s - 1)), s))
        if shift == 0:
            return saturate(acc)
        return saturate(acc.clamp(-ACT_LIMIT - 1, ACT_LIMIT + 1) << min(-shift, _MAX_LEFT))
    shape = [1] * acc.dim()
    shape[channel_dim] = -1
    shift = shift.to(device=acc.device, dtype=torch.int64).view(shape)
    right = shift.clamp(0, _MAX_RIGHT)
    left = (-shift).clamp(0, _MAX_LEFT)
    half = torch.where(right > 0, torch.bitwise_left_shift(torch.ones_like(right), (right - 1).clamp_min(0)),
                       torch.zeros_like(right))
    down = torch.bitwise_right_shift(acc + half, right)
    # Where the shift is a left shift, `down == acc`; clamping first keeps the shift inside int64
    # without changing the saturated result.
    return saturate(torch.bitwise_left_shift(down.clamp(-ACT_LIMIT - 1, ACT_LIMIT + 1), left))


def align(x: torch.Tensor, f_from: int, f_to: int) -> torch.Tensor:
    """Change an activation's fraction bits: ``requantize(x, f_from - f_to)`` (exact when ``f_to >= f_from``)."""
    return requantize(x, int(f_from) - int(f_to))


def fraction_bits_for(peak: float, limit: int = (1 << 15) - 1) -> int:
    """Fraction bits that fit activations up to ``peak`` (with 2x headroom) below ``limit``."""
    if peak <= 0:
        return 8
    return int(math.floor(math.log2(limit / (2 * peak))))


def to_fixed(x: torch.Tensor, fraction_bits: int) -> torch.Tensor:
    """Float ``x`` to an activation with ``fraction_bits``: ``sat(floor(x * 2^f + 1/2))`` (not normative:

    it is where a float enters the integer domain, e.g. at the encoder or in tests).
    """
    scaled = torch.floor(x.to(torch.float64) * 2.0 ** fraction_bits + 0.5)
    return saturate(scaled.clamp(-ACT_LIMIT - 1, ACT_LIMIT + 1).to(torch.int64))


def from_fixed(x: torch.Tensor, fraction_bits: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The value of an activation: ``x / 2^f`` as floats (exact in float64)."""
    return (x.to(torch.float64) * 2.0 ** -fraction_bits).to(dtype)


def narrowest_int(t: torch.Tensor) -> torch.Tensor:
    """``t`` as the narrowest of int8/int16/int32/int64 that holds all its values (for compact storage)."""
    if t.numel() == 0:
        return t.to(torch.int8)
    lo, hi = int(t.min()), int(t.max())
    for dtype in (torch.int8, torch.int16, torch.int32):
        info = torch.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return t.to(dtype)
    return t.to(torch.int64)
