"""Differentiable stand-ins for rounding the latents while they are fitted (C3, Kim et al. 2023).

Early in the fit the latents pass through ``softround(softround(y, t) + n, t)``
with Gaussian noise ``n``: the soft rounding keeps gradients useful and the
noise stops the synthesis from learning to undo it; the temperature ``t``
and the noise shrink towards plain rounding as the fit goes on (the last
phase of a fit rounds for real and tunes only the networks).
"""

from __future__ import annotations

import torch


def softround(x: torch.Tensor, t: float) -> torch.Tensor:
    """Agustsson & Theis' soft rounding: ``round(x)`` as ``t -> 0``, the identity as ``t`` grows."""
    floor = torch.floor(x)
    delta = x - floor - 0.5
    return floor + 0.5 * torch.tanh(delta / t) / torch.tanh(torch.tensor(0.5 / t)) + 0.5


def noisy_softround(x: torch.Tensor, t: float, noise: float) -> torch.Tensor:
    """``softround(softround(x, t) + n, t)`` with ``n ~ N(0, noise^2)``."""
    return softround(softround(x, t) + noise * torch.randn_like(x), t)

