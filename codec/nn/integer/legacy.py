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

from codec.nn.integer.arith import _EXACT_LIMIT, ACT_LIMIT, WEIGHT_LIMIT, _exact_mode, round_shift


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
        k = self.kernel
        xf = x.to(torch.float64)
        w = self.weight.to(device=x.device, dtype=torch.float64)
        with _exact_mode(x.device):
            if self.transposed:
                # conv_transpose(k, stride 2, pad k//2, output_padding 1) == zero-insert, then conv.
                n, c, h, wd = xf.shape
                up = xf.new_zeros(n, c, 2 * h - 1, 2 * wd - 1)
                up[:, :, ::2, ::2] = xf
                lo = k - 1 - k // 2
                up = F.pad(up, (lo, lo + 1, lo, lo + 1))
                acc = F.conv2d(up, w)
            else:
                acc = F.conv2d(xf, w, stride=self.stride, padding=k // 2)
        acc = acc.to(torch.int64) + self.bias.to(x.device).view(1, -1, 1, 1)
        out = round_shift(acc, self.shift.to(x.device))
        if self.relu:
            out = out.clamp_min(0)
        return out.clamp(-ACT_LIMIT, ACT_LIMIT)


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
