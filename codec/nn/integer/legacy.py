"""The image model's integer convolution (``IntegerConv``), kept exactly as shipped.

``bitstream/SPEC.md`` section 7.2 describes these layers; the shipped model
file stores them, so their code does not change. New models build graphs of
the general ops instead (:mod:`codec.nn.integer.ops`); :func:`codec.nn.integer.ops.from_legacy`
turns an ``IntegerConv`` into the equivalent general nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codec.nn.integer.arith import _EXACT_LIMIT, ACT_LIMIT, WEIGHT_LIMIT, _exact_mode


@dataclass
class IntegerConv:
    """One exact integer convolution (plain or transposed, stride 1 or 2), optionally with ReLU."""

    weight: torch.Tensor      # int64 (C_out, C_in, k, k) in conv2d layout (transposed convs pre-flipped)
    bias: torch.Tensor        # int64 (C_out,)
    shift: torch.Tensor       # int64 (C_out,): f_in + e_c - f_out
    stride: int
    transposed: bool
    relu: bool
    f_in: int                 # fraction bits of the input activations
    f_out: int                # fraction bits of the output activations

    @property
    def kernel(self) -> int:
        return self.weight.shape[-1]

    def accumulator_bound(self, input_limit: int = ACT_LIMIT) -> int:
        per_channel = self.weight.abs().sum(dim=(1, 2, 3)) * input_limit + self.bias.abs()
        return int(per_channel.max())

    def to_float(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The float weight (in the original layer's layout) and bias this layer stands for.

        Why: training can continue from a shipped model file, whose entropy
        path exists only in this integer form.
        """
        exponent = (self.shift - self.f_in + self.f_out).to(torch.float64)
        w = self.weight.to(torch.float64) * torch.pow(2.0, -exponent).view(-1, 1, 1, 1)
        if self.transposed:
            w = w.flip(-1, -2).transpose(0, 1)
        b = self.bias.to(torch.float64) * torch.pow(2.0, -(exponent + self.f_in))
        return w.to(torch.float32), b.to(torch.float32)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: int64 (N, C_in, H, W) -> int64 (N, C_out, H', W')."""
        return self.exact_float(x.to(torch.float64)).to(torch.int64)

    def exact_float(self, xf: torch.Tensor) -> torch.Tensor:
        """The same layer on float64 tensors holding integers, returning float64 integers.

        Why: every value here is an integer below 2^53, so float64 holds it
        exactly, and a chain of layers run this way skips two int64
        conversions and the int64 shifts per layer (most of the time of the
        entropy path on a CPU). The rescale is exact: ``acc + 2^(s-1)`` stays
        below 2^53 (checked), and scaling by a power of two and ``floor`` are
        exact; a left shift that leaves 2^53 only rounds values the clamp
        maps to ``ACT_LIMIT`` anyway.
        """
        k = self.kernel
        w = self._float_parameters(xf.device)
        with _exact_mode(xf.device):
            if self.transposed:
                # conv_transpose(k, stride 2, pad k//2, output_padding 1) == zero-insert, then conv.
                n, c, h, wd = xf.shape
                up = xf.new_zeros(n, c, 2 * h - 1, 2 * wd - 1)
                up[:, :, ::2, ::2] = xf
                lo = k - 1 - k // 2
                up = F.pad(up, (lo, lo + 1, lo, lo + 1))
                acc = F.conv2d(up, w["weight"])
            else:
                acc = F.conv2d(xf, w["weight"], stride=self.stride, padding=k // 2)
        out = torch.floor((acc + w["bias_half"]) * w["scale"])
        if self.relu:
            out = out.clamp_min(0)
        return out.clamp(-ACT_LIMIT, ACT_LIMIT)

    def exact_float_columns(self, x: torch.Tensor, *, inputs: slice = slice(None)) -> torch.Tensor:
        """A 1x1 layer on float64 integer columns ``x`` (C_in', n) -> (C_out, n), same integers as
        :meth:`exact_float` at those positions. ``inputs`` selects the input channels present in ``x``:
        the others are zero, so their products are skipped (exact: they add nothing)."""
        if self.kernel != 1 or self.transposed or self.stride != 1:
            raise ValueError("columns need a 1x1 stride-1 layer")
        w = self._float_parameters(x.device)
        matrices = w.setdefault("matrices", {})
        key = (inputs.start, inputs.stop)
        if key not in matrices:
            matrices[key] = w["weight"][:, inputs, 0, 0].contiguous()
        acc = matrices[key] @ x
        out = torch.floor((acc + w["bias_half"].view(-1, 1)) * w["scale"].view(-1, 1))
        if self.relu:
            out = out.clamp_min(0)
        return out.clamp(-ACT_LIMIT, ACT_LIMIT)

    def exact_float_at(self, xf: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """The layer's outputs at positions ``(rows[i], cols[i])`` only: float64 integers (N, C_out, n),
        the same integers as :meth:`exact_float` there (stride 1, not transposed).

        Why: the checkerboard context is needed at half the positions and its
        weights are zero at half the taps (the other colour). Gathering the
        taps with a nonzero weight into one matrix product skips both, and one
        float64 matrix product is much faster than a float64 convolution on a
        CPU. The integers are the same: every partial sum is an integer below
        2^53 (checked), so float64 adds them exactly in any order, and the
        skipped products are zero.
        """
        if self.transposed or self.stride != 1:
            raise ValueError("positions need a stride-1 convolution")
        w = self._float_parameters(xf.device)
        if "taps" not in w:
            used = (w["weight"] != 0).any(dim=0).any(dim=0).nonzero().tolist()
            w["taps"] = [(di, dj) for di, dj in used]
            w["tap_matrix"] = torch.cat([w["weight"][:, :, di, dj] for di, dj in w["taps"]], dim=1)
        half = self.kernel // 2
        padded = torch.nn.functional.pad(xf, (half, half, half, half))
        n, channels = xf.shape[:2]
        gathered = torch.stack([padded[:, :, rows + di, cols + dj] for di, dj in w["taps"]], dim=1)
        acc = w["tap_matrix"] @ gathered.reshape(n, len(w["taps"]) * channels, -1)
        out = torch.floor((acc + w["bias_half"].view(1, -1, 1)) * w["scale"].view(1, -1, 1))
        if self.relu:
            out = out.clamp_min(0)
        return out.clamp(-ACT_LIMIT, ACT_LIMIT)

    def _float_parameters(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Weights, ``bias + 2^(s-1)`` and ``2^-s`` as float64, cached per device."""
        cache = self.__dict__.setdefault("_float_cache", {})
        if device not in cache:
            right = self.shift.clamp_min(0)
            half = torch.where(right > 0, torch.ones_like(right) << (right - 1).clamp_min(0), torch.zeros_like(right))
            if self.accumulator_bound() + int(half.max()) >= _EXACT_LIMIT:
                raise ValueError("integer layer could exceed 2^53 when rescaling")
            cache[device] = {
                "weight": self.weight.to(device=device, dtype=torch.float64),
                "bias_half": (self.bias + half).to(device=device, dtype=torch.float64).view(1, -1, 1, 1),
                "scale": torch.pow(2.0, -self.shift.to(torch.float64)).to(device).view(1, -1, 1, 1),
            }
        return cache[device]


def quantize_conv(layer: nn.Conv2d | nn.ConvTranspose2d, f_in: int, f_out: int, *, relu: bool,
                  weight_mask: torch.Tensor | None = None) -> IntegerConv:
    """Convert a trained float convolution to an :class:`IntegerConv` (the one float-to-integer step).

    Each output channel gets the largest power-of-two exponent that keeps its
    weights within ``WEIGHT_LIMIT``.
    """
    w = layer.weight.detach().to(torch.float64)
    transposed = isinstance(layer, nn.ConvTranspose2d)
    if transposed:
        if layer.stride != (2, 2) or layer.output_padding != (1, 1) or layer.padding[0] != layer.kernel_size[0] // 2:
            raise ValueError("only stride-2 'same' transposed convolutions are supported")
        w = w.transpose(0, 1).flip(-1, -2)
    if weight_mask is not None:
        w = w * weight_mask.to(torch.float64)
    stride = layer.stride[0]
    peak = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)
    exponent = torch.floor(torch.log2(WEIGHT_LIMIT / peak)).to(torch.int64).clamp(-30, 40)
    scale = torch.pow(2.0, exponent.to(torch.float64))
    w_int = torch.round(w * scale.view(-1, 1, 1, 1)).to(torch.int64)
    b = layer.bias.detach().to(torch.float64) if layer.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    b_int = torch.round(b * scale * 2.0 ** f_in).to(torch.int64)
    conv = IntegerConv(w_int, b_int, exponent + f_in - f_out, stride, transposed, relu, f_in, f_out)
    if conv.accumulator_bound() >= _EXACT_LIMIT:
        raise ValueError("integer layer could exceed 2^53 in its accumulator")
    return conv
