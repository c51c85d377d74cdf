"""Checkerboard split of a latent (He et al., 2021): a parallel two-pass spatial context.

Anchors (positions with even ``row + col``) are coded first from the
hyperprior alone; the other half is then coded with a context computed from
the decoded anchors. Both passes are fully parallel, unlike serial
autoregressive context models.
"""

from __future__ import annotations

import torch
from torch import nn


def anchor_mask(height: int, width: int, *, device: torch.device | None = None) -> torch.Tensor:
    """1.0 at anchor positions (even row + col), 0.0 elsewhere, shaped (1, 1, H, W)."""
    rows = torch.arange(height, device=device)[:, None]
    cols = torch.arange(width, device=device)[None, :]
    return ((rows + cols) % 2 == 0).to(torch.float32)[None, None]


class CheckerboardContext(nn.Conv2d):
    """A 5x5 convolution that only sees anchor neighbours of a non-anchor position.

    With the checkerboard pattern, the neighbours of a non-anchor at odd
    offsets are exactly the anchors, so masking the kernel to odd
    ``dy + dx`` positions guarantees the context never reads a value the
    decoder does not have yet.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        k = torch.arange(kernel_size) - kernel_size // 2
        mask = ((k[:, None] + k[None, :]) % 2 != 0).to(torch.float32)
        self.register_buffer("kernel_mask", mask[None, None], persistent=False)

    def forward(self, anchors: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(anchors, self.weight * self.kernel_mask, self.bias)
