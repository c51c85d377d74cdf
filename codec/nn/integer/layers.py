"""Float building blocks whose structure :func:`codec.nn.integer.convert` understands.

Training code stays float: build networks from ``nn.Sequential``, the torch
layers listed in :mod:`codec.nn.integer.convert` and these blocks, which
express skip connections, fan-out and multiple inputs as modules (so the
integer graph mirrors the module tree, path for path).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    """``shortcut(x) + body(x)``; ``shortcut`` ``None`` is the identity."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x if self.shortcut is None else self.shortcut(x)) + self.body(x)


class ResidualBlock(Residual):
    """``x + conv(act(conv(x)))`` with ``k x k`` convolutions (``groups=channels`` for depthwise) and LeakyReLU."""

    def __init__(self, channels: int, kernel_size: int = 3, *, slope: float = 0.01, hidden: int | None = None,
                 depthwise: bool = False) -> None:
        hidden = hidden or channels
        if depthwise:  # depthwise k x k, then a pointwise mix (DCVC-RT / ConvNeXt style)
            body = nn.Sequential(nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2,
                                           groups=channels),
                                 nn.Conv2d(channels, hidden, 1), nn.LeakyReLU(slope), nn.Conv2d(hidden, channels, 1))
        else:
            body = nn.Sequential(nn.Conv2d(channels, hidden, kernel_size, padding=kernel_size // 2),
                                 nn.LeakyReLU(slope),
                                 nn.Conv2d(hidden, channels, kernel_size, padding=kernel_size // 2))
        super().__init__(body)


class Concat(nn.Module):
    """``cat([branch(x) for branch in branches], dim)``: fan-out of one input (``nn.Identity`` passes it on)."""

    def __init__(self, *branches: nn.Module, dim: int = 1) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], self.dim)


class Parallel(nn.Module):
    """Several inputs: ``merge(branch_j(x_j))``, ``merge`` ``"concat"`` (along ``dim``) or ``"add"``.

    Call it with the inputs as arguments or as one tuple (so it can open an
    ``nn.Sequential``: ``nn.Sequential(Parallel(a, b), ...)((x_a, x_b))``).
    """

    def __init__(self, *branches: nn.Module, merge: str = "concat", dim: int = 1) -> None:
        super().__init__()
        if merge not in ("concat", "add"):
            raise ValueError(f"merge must be 'concat' or 'add', got {merge!r}")
        self.branches = nn.ModuleList(branches)
        self.merge, self.dim = merge, dim

    def forward(self, *xs):
        if len(xs) == 1 and isinstance(xs[0], (tuple, list)):
            xs = tuple(xs[0])
        if len(xs) != len(self.branches):
            raise ValueError(f"Parallel needs {len(self.branches)} inputs, got {len(xs)}")
        outs = [b(x) for b, x in zip(self.branches, xs)]
        if self.merge == "add":
            total = outs[0]
            for o in outs[1:]:
                total = total + o
            return total
        return torch.cat(outs, self.dim)


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution over time that sees only the present and the past: ``dilation * (k - 1)`` zeros in front.

    Output ``t`` depends on inputs ``t - dilation*(k-1) .. t`` (for stride 1);
    the length is kept. The integer twin is an ``IntConv`` with pads
    ``((dilation * (k - 1), 0),)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, dilation=dilation,
                         groups=groups, bias=bias)

    @property
    def causal_padding(self) -> int:
        return self.dilation[0] * (self.kernel_size[0] - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.causal_padding, 0)))


class MaskedConv2d(nn.Conv2d):
    """A 2-D convolution whose kernel is multiplied by a fixed 0/1 ``kernel_mask`` (causal contexts).

    ``causal_mask(k)`` gives the raster-scan mask (positions strictly before
    the centre), as in a PixelCNN / Cool-chic style autoregressive context.
    The converter applies any ``kernel_mask`` attribute of a convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask: torch.Tensor | None = None,
                 **kwargs) -> None:
        kwargs.setdefault("padding", kernel_size // 2)
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        mask = causal_mask(kernel_size) if mask is None else mask.to(torch.float32)
        self.register_buffer("kernel_mask", mask.expand(1, 1, kernel_size, kernel_size).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.kernel_mask, self.bias)


def causal_mask(kernel_size: int) -> torch.Tensor:
    """``k x k`` mask, 1 at the positions before the centre in raster order (rows above, then left in its row)."""
    index = torch.arange(kernel_size * kernel_size).view(kernel_size, kernel_size)
    return (index < (kernel_size * kernel_size) // 2).to(torch.float32)
