"""Quantization-aware fine-tuning: make a float module round like its integer twin.

The forward pass rounds exactly as the integer graph does (activations to
their fraction bits, round half up, saturation; weights to their per-channel
power-of-two grid); the backward pass is the straight-through estimator
(gradient of the identity). Typical use::

    integer = convert(model, calibration_batches)
    handles = attach_fake_quant(model, integer)   # activations now round like the integer graph
    ...fine-tune model...
    for h in handles: h.remove()
    integer = convert(model, calibration_batches)  # the single float -> int step, again
"""

from __future__ import annotations

import torch
from torch import nn

from codec.nn.integer.arith import ACT_LIMIT, WEIGHT_LIMIT
from codec.nn.integer.graph import IntegerModule
from codec.nn.integer.ops import IntConcat, IntConv, IntLinear, IntParallel, IntResidual, IntSequential


def fake_quantize(x: torch.Tensor, fraction_bits: int, limit: int = ACT_LIMIT) -> torch.Tensor:
    """``clamp(floor(x * 2^f + 1/2), -limit, limit) / 2^f`` forward; identity gradient backward."""
    scale = 2.0 ** fraction_bits
    q = torch.clamp(torch.floor(x * scale + 0.5), -limit, limit) / scale
    return x + (q - x).detach()


def fake_quantize_weight(weight: torch.Tensor, weight_limit: int = WEIGHT_LIMIT) -> torch.Tensor:
    """Weights rounded to their per-output-channel power-of-two grid (as :func:`quantize_weights`); STE backward.

    For a transposed convolution pass the weight in correlation form (output
    channels first).
    """
    w = weight.detach()
    peak = w.abs().reshape(w.shape[0], -1).amax(dim=1).clamp_min(1e-30)
    exponent = torch.floor(torch.log2(weight_limit / peak.double())).clamp(-30, 40)
    scale = torch.pow(2.0, exponent).to(weight.dtype).view(-1, *([1] * (w.dim() - 1)))
    q = torch.round(weight * scale) / scale
    return weight + (q - weight).detach()


_ROUNDING = (IntConv, IntLinear, IntResidual, IntConcat, IntParallel, IntSequential)


def attach_fake_quant(module: nn.Module, integer: IntegerModule) -> list:
    """Forward hooks on ``module`` rounding each output to the fraction bits its integer node produces.

    ``integer`` is ``convert(module, ...)`` (its node paths mirror the module's).
    Returns the hook handles; ``handle.remove()`` restores plain float behaviour.
    """
    nodes = dict(integer.named_nodes())
    handles = []
    for path, m in module.named_modules():
        node = nodes.get(path)
        if isinstance(node, _ROUNDING):
            f = node.f_out

            def hook(_m, _inputs, output, f=f):
                return fake_quantize(output, f) if isinstance(output, torch.Tensor) else output

            handles.append(m.register_forward_hook(hook))
    return handles
