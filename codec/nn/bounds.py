"""A lower bound that keeps gradients alive, for scales and likelihoods during training.

``clamp_min`` has zero gradient below the bound, so a scale that starts
below it could never grow back: the elements it serves stay stuck at the
minimum scale and training stalls. Here the gradient passes wherever it
would push the value up, as in Ballé et al.'s entropy models.
"""

from __future__ import annotations

import torch


class _LowerBound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        pass_through = (x >= ctx.bound) | (grad < 0)
        return grad * pass_through.to(grad.dtype), None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(x, bound)`` whose gradient still flows when it points upwards."""
    return _LowerBound.apply(x, bound)
