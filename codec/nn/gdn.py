"""Generalized divisive normalization (Ballé et al., 2016), the analysis/synthesis nonlinearity.

GDN divides each channel by a learned norm of all channels at the same
position; it Gaussianizes image statistics far better than ReLU for its cost,
which is why hyperprior-class codecs use it. ``inverse=True`` multiplies
instead (IGDN), for the synthesis transform.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_BETA_MIN = 1e-6


class GDN(nn.Module):
    def __init__(self, channels: int, *, inverse: bool = False, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = inverse
        # Square parametrization keeps beta and gamma non-negative with live gradients.
        self.beta_sqrt = nn.Parameter(torch.ones(channels))
        self.gamma_sqrt = nn.Parameter(torch.eye(channels) * gamma_init ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta_sqrt.square() + _BETA_MIN
        gamma = self.gamma_sqrt.square()
        norm = torch.sqrt(F.conv2d(x * x, gamma[:, :, None, None], beta))
        return x * norm if self.inverse else x / norm
