"""Exact integer convolutions: the arithmetic of the entropy-parameter path.

A learned codec decodes only if the decoder computes exactly the entropy
parameters the encoder used. These layers compute on integers with one
rounding rule, so the result is identical on every CPU, GPU, BLAS and thread
count (``bitstream/SPEC.md`` section 7.3 is the normative description):

- Activations are signed integers with a per-tensor number of fraction bits
  ``f`` (value = integer / 2^f), saturated to ``[-ACT_LIMIT, ACT_LIMIT]``.
- Weights are integers with a per-output-channel exponent ``e_c``
  (value = integer / 2^e_c), at most ``WEIGHT_LIMIT`` in magnitude; biases are
  integers at the accumulator's scale ``2^-(f_in + e_c)``.
- A layer accumulates exactly, then rescales to ``f_out`` with
  ``round_shift(a, s) = floor((a + 2^(s-1)) / 2^s)`` for ``s > 0`` (round half
  up) and ``a * 2^-s`` for ``s <= 0``, then applies ReLU where the layer has one.

The accumulation runs as a float64 convolution: every product and partial
sum is an integer below 2^53 in magnitude (checked by ``accumulator_bound``),
so float64 represents each exactly and any summation order gives the same
value. cuDNN is bypassed on GPUs because some of its algorithms (FFT,
Winograd) are not exact.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACT_LIMIT = (1 << 20) - 1
WEIGHT_LIMIT = (1 << 11) - 1
_EXACT_LIMIT = 1 << 53


def round_shift(acc: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rescale int64 ``acc`` (N, C, H, W) by per-channel ``shift`` (C,) with round half up."""
    shift = shift.view(1, -1, 1, 1)
    right = shift.clamp_min(0)
    half = torch.where(right > 0, torch.ones_like(right) << (right - 1).clamp_min(0), torch.zeros_like(right))
    down = torch.bitwise_right_shift(acc + half, right)
    return torch.bitwise_left_shift(down, (-shift).clamp_min(0))


def _exact_mode(device: torch.device):
    return torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else contextlib.nullcontext()


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


def fraction_bits_for(peak: float, limit: int = (1 << 15) - 1) -> int:
    """Fraction bits that fit activations up to ``peak`` (with 2x headroom) below ``limit``."""
    if peak <= 0:
        return 8
    return int(math.floor(math.log2(limit / (2 * peak))))
