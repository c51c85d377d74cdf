"""The latents' total bits for fitting, forward and backward in one C++ pass (``csrc/overfit/arm_fit.cpp``).

Fitting needs, at every step, the bits of every latent under the float
context model and their gradient. Autograd through
:meth:`~codec.models.image.overfit.network.Decoder.rate_bits` spends about
half of a CPU fitting step on it (a dozen passes over latents x 16 tensors);
the kernel computes the same total and gradients in one pass. The fitter's
loss is linear in the total bits, so the kernel computes the gradient with
the value and the backward only scales it.

Same arithmetic as ``rate_bits`` in float32 (the tests compare the two); on
other devices, or without the compiled module, the fitter uses autograd.
"""

from __future__ import annotations

import torch

from codec.models.image.overfit.architecture import LOG_SCALE_OFFSET
from codec.models.image.overfit.network import LOG_SCALE_MAX, LOG_SCALE_MIN, ContextModel


class FusedRate(torch.autograd.Function):
    """Total bits of an atlas of latents; the kernel's gradients are kept from the forward pass."""

    @staticmethod
    def forward(ctx, atlas: torch.Tensor, index: torch.Tensor, arm: ContextModel, *params: torch.Tensor):
        from codec.models.image.overfit import _overfit

        hidden = [(layer.weight.detach().numpy(), layer.bias.detach().numpy()) for layer in arm.hidden]
        out_weight = arm.out.weight.detach().numpy() if arm.hidden else None
        total, grad_atlas, layer_grads, g_out_w, g_out_b, g_stab = _overfit.rate_gradients(
            atlas.detach().numpy(), index.numpy(), hidden,
            out_weight if out_weight is not None else atlas.new_zeros(0).numpy(),
            arm.out.bias.detach().numpy(), arm.stabiliser.weight.detach().numpy(),
            LOG_SCALE_OFFSET, LOG_SCALE_MIN, LOG_SCALE_MAX)
        grads = [torch.from_numpy(g) for pair in layer_grads for g in pair]
        grads.append(torch.from_numpy(g_out_w) if out_weight is not None else torch.zeros(arm.out.weight.numel()))
        grads += [torch.from_numpy(g_out_b), torch.from_numpy(g_stab)]
        ctx.shapes = [p.shape for p in params]
        ctx.save_for_backward(torch.from_numpy(grad_atlas), *grads)
        return atlas.new_tensor(total)

    @staticmethod
    def backward(ctx, grad_total: torch.Tensor):
        grad_atlas, *grads = ctx.saved_tensors
        return (grad_atlas * grad_total, None, None,
                *[g.view(shape) * grad_total for g, shape in zip(grads, ctx.shapes)])


def parameters_in_kernel_order(arm: ContextModel) -> list[torch.Tensor]:
    """The context model's parameters in the order the kernel returns their gradients."""
    params = [p for layer in arm.hidden for p in (layer.weight, layer.bias)]
    return params + [arm.out.weight, arm.out.bias, arm.stabiliser.weight]


def available() -> bool:
    """Whether the compiled kernel is importable (it ships with the package's C++ core)."""
    try:
        from codec.models.image.overfit import _overfit
    except ImportError:
        return False
    return hasattr(_overfit, "rate_gradients")


def total_bits(arm: ContextModel, grids: list[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
    """The latents' total bits under ``arm`` (float32 CPU grids, finest first), differentiable in the
    grids and in ``arm``'s parameters; ``index`` is
    :func:`~codec.models.image.overfit.network.context_index` of the grids' shapes."""
    atlas = torch.cat([g.reshape(-1) for g in grids] + [grids[0].new_zeros(1)])
    return FusedRate.apply(atlas, index, arm, *parameters_in_kernel_order(arm))
