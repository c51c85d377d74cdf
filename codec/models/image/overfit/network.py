"""The float networks of an overfitted image: context model, upsampler and synthesis.

The encoder fits them (and the latent grids) to one image; the decoder
rebuilds them from the quantized parameters in the file. Only the upsampler
and synthesis run in floating point when decoding (they change pixels, not
symbols); the context model runs in exact integer arithmetic there
(:mod:`~codec.models.image.overfit.integer_context`), so this float version of it
serves the fitting only.

Layouts follow ``bitstream/models/overfit.md`` section 3: grids are
``[1, 1, h_g, w_g]`` tensors, finest first; the upsampler turns them into a
``[1, G, H, W]`` stack (channel g = grid g brought to full resolution); the
synthesis maps that stack to RGB in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from codec.models.image.overfit.architecture import (
    COARSE_OFFSETS, CONTEXT_OFFSETS, LOG_SCALE_OFFSET, SCALE_MAX, SCALE_MIN, Architecture,
)

LOG_SCALE_MIN = math.log(SCALE_MIN)
LOG_SCALE_MAX = math.log(SCALE_MAX)
#: Bicubic (a = -0.75) weights of the two phases of a x2 upsampling: the initial transposed filter's half.
BICUBIC_HALF = (-0.0351562, -0.1054687, 0.2617187, 0.8789063)


# -- context model ---------------------------------------------------------------------------------


def context_index(shapes: list[tuple[int, int]], context: int) -> torch.Tensor:
    """``[N, context + len(COARSE_OFFSETS)]`` int32: where each latent's context lives in the flat atlas.

    The atlas is every grid flattened, finest first, followed by one zero (the
    value of every position outside a grid, and of the coarse context of the
    coarsest grid). Rows follow the same order as the atlas.
    """
    starts, total = [], 0
    for h, w in shapes:
        starts.append(total)
        total += h * w
    zero = total
    rows = []
    for g, (h, w) in enumerate(shapes):
        y = torch.arange(h).view(h, 1).expand(h, w).reshape(-1)
        x = torch.arange(w).view(1, w).expand(h, w).reshape(-1)
        cols = []
        for dy, dx in CONTEXT_OFFSETS[:context]:
            yy, xx = y + dy, x + dx
            inside = (yy >= 0) & (xx >= 0) & (xx < w)
            cols.append(torch.where(inside, starts[g] + yy * w + xx, torch.full_like(yy, zero)))
        for dy, dx in COARSE_OFFSETS:
            if g + 1 < len(shapes):
                ch, cw = shapes[g + 1]
                yy, xx = y // 2 + dy, x // 2 + dx
                inside = (yy >= 0) & (yy < ch) & (xx >= 0) & (xx < cw)
                cols.append(torch.where(inside, starts[g + 1] + yy * cw + xx, torch.full_like(yy, zero)))
            else:
                cols.append(torch.full_like(y, zero))
        rows.append(torch.stack(cols, 1).to(torch.int32))
    return torch.cat(rows, 0)


def arm_inputs(grids: list[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
    """The context of every latent (rows of :func:`context_index`), gathered in one step."""
    atlas = torch.cat([g.reshape(-1) for g in grids] + [grids[0].new_zeros(1)])
    return atlas.index_select(0, index.reshape(-1)).view(index.shape)


class ContextModel(nn.Module):
    """MLP from a latent's context to the mean and raw log-scale of its Laplace law.

    ``h = relu(W1 c + b1)``; then ``layers - 1`` times ``h = relu(W h + b + h)``;
    out ``= Wo h + bo + Ws c`` (a linear stabiliser straight from the context).
    With ``layers = 0`` it is linear: ``out = Ws c + bo``.
    """

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        n_in, width = arch.arm_inputs, arch.arm_hidden
        self.hidden = nn.ModuleList()
        for i in range(arch.arm_layers):
            self.hidden.append(nn.Linear(n_in if i == 0 else width, width))
        self.out = nn.Linear(width if arch.arm_layers else n_in, 2, bias=True)
        self.stabiliser = nn.Linear(n_in, 2, bias=False)
        self._initialise(width)

    def _initialise(self, width: int) -> None:
        with torch.no_grad():
            for i, layer in enumerate(self.hidden):
                layer.bias.zero_()
                if i == 0:
                    layer.weight.normal_(0, 1.0 / width)
                else:
                    layer.weight.zero_()
            self.out.weight.normal_(0, 1.0 / width ** 2)
            self.out.bias.zero_()
            self.stabiliser.weight.normal_(0, 1.0 / width ** 2)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        if not self.hidden:
            return self.out.bias + self.stabiliser(c)
        h = F.relu(self.hidden[0](c))
        for layer in self.hidden[1:]:
            h = F.relu(layer(h) + h)
        return self.out(h) + self.stabiliser(c)


def laplace_bits(y: torch.Tensor, mu: torch.Tensor, raw_log_scale: torch.Tensor) -> torch.Tensor:
    """Bits of integer-valued ``y`` under the discretised Laplace law (what the coder will spend, roughly)."""
    scale = torch.exp((raw_log_scale + LOG_SCALE_OFFSET).clamp(LOG_SCALE_MIN, LOG_SCALE_MAX))
    d = y - mu

    def cdf(x: torch.Tensor) -> torch.Tensor:
        return 0.5 - 0.5 * torch.sign(x) * torch.expm1(-x.abs() / scale)

    p = (cdf(d + 0.5) - cdf(d - 0.5)).clamp_min(2.0 ** -16)
    return -torch.log2(p)


# -- upsampler -------------------------------------------------------------------------------------


def symmetric(half: torch.Tensor, taps: int) -> torch.Tensor:
    """The full symmetric kernel from its first half: ``a b c d`` -> ``a b c d d c b a`` (8) or ``a b c d c b a`` (7)."""
    return torch.cat([half, half.flip(0)[taps % 2:]])


def upsample2(x: torch.Tensor, half: torch.Tensor, dim: int) -> torch.Tensor:
    """x2 along ``dim`` (2 or 3) of ``[N, 1, h, w]`` with the symmetric 8-tap transposed filter ``half``.

    With ``half = (a, b, c, d)`` and ``x`` replicated past its ends:
    ``y[2m] = a x[m-2] + c x[m-1] + d x[m] + b x[m+1]`` and
    ``y[2m+1] = b x[m-1] + d x[m] + c x[m+1] + a x[m+2]``
    Computed as a product of 5-wide windows with a [5, 2] matrix: on the CPU
    several times faster than a one-channel convolution, forward and backward.
    """
    a, b, c, d = half
    zero = half.new_zeros(())
    taps = torch.stack([torch.stack([a, c, d, b, zero]), torch.stack([zero, b, d, c, a])], 1)   # [5, 2]
    if dim == 2:
        x = x.transpose(2, 3)
    y = (F.pad(x, (2, 2, 0, 0), mode="replicate").unfold(3, 5, 1) @ taps).flatten(3)
    return y.transpose(2, 3) if dim == 2 else y


def upsample2x2_channels_last(stack: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """:func:`upsample2` along both axes of every channel of ``[1, n, h, w]``, as two depthwise
    channels-last convolutions (one per axis, both phases at once): the same values, and when fitting
    on the CPU about 40 % faster forward and backward than the window products."""
    a, b, c, d = half
    zero = half.new_zeros(())
    taps = torch.stack([torch.stack([a, c, d, b, zero]), torch.stack([zero, b, d, c, a])])   # [2 phases, 5]
    _, n, h, w = stack.shape
    x = F.pad(stack.contiguous(memory_format=torch.channels_last), (2, 2, 0, 0), mode="replicate")
    x = F.conv2d(x, taps.view(2, 1, 1, 5).repeat(n, 1, 1, 1), groups=n)            # [1, 2n, h, w]
    x = x.view(1, n, 2, h, w).permute(0, 1, 3, 4, 2).reshape(1, n, h, 2 * w)
    x = F.pad(x.contiguous(memory_format=torch.channels_last), (0, 0, 2, 2), mode="replicate")
    x = F.conv2d(x, taps.view(2, 1, 5, 1).repeat(n, 1, 1, 1), groups=n)            # [1, 2n, h, 2w]
    return x.view(1, n, 2, h, 2 * w).permute(0, 1, 3, 2, 4).reshape(1, n, 2 * h, 2 * w)


def preconcat(x: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """``x + k * x`` with the symmetric separable 7-tap kernel ``k`` (replicate padding)."""
    k = symmetric(half, 7)
    y = F.pad(x, (3, 3, 0, 0), mode="replicate").unfold(3, 7, 1) @ k
    y = F.pad(y, (0, 0, 3, 3), mode="replicate").unfold(2, 7, 1) @ k
    return x + y


class Upsampler(nn.Module):
    """Brings grids 1..G-1 to full resolution, coarse to fine, one learned x2 step per level.

    Level l (l = G-2 .. 0) upsamples the stack of grids l+1.. (all channels with
    the same filter ``up[l]``), crops it to grid l's size and puts grid l,
    filtered by ``pre[l]``, in front of it.
    """

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        levels = max(arch.grids - 1, 0)
        self.up = nn.Parameter(torch.tensor([BICUBIC_HALF] * levels).reshape(levels, 4))
        self.pre = nn.Parameter(torch.zeros(levels, 4))

    def forward(self, grids: list[torch.Tensor]) -> torch.Tensor:
        stack = grids[-1]
        for level in range(len(grids) - 2, -1, -1):
            target = grids[level]
            h, w = target.shape[-2:]
            n = stack.shape[1]
            if torch.is_grad_enabled() and stack.device.type == "cpu":
                x = upsample2x2_channels_last(stack, self.up[level])[..., :h, :w]
            else:
                x = stack.reshape(n, 1, *stack.shape[-2:])
                x = upsample2(upsample2(x, self.up[level], 3), self.up[level], 2)[..., :h, :w]
            stack = torch.cat([preconcat(target, self.pre[level]), x.reshape(1, n, h, w)], 1)
        return stack


# -- synthesis -------------------------------------------------------------------------------------


def conv3x3(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` (3x3, stride 1) over ``[1, C, H, W]`` with replicate padding.

    When gradients are needed (fitting) the input goes channels-last first:
    the CPU's channels-last convolution runs forward and backward about
    seven times faster than the default layout's on these 3-channel maps
    (19 ms against 146 ms at 768x512, one core), which matters because
    fitting runs it thousands of times.
    """
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    if torch.is_grad_enabled() and padded.device.type == "cpu":
        padded = padded.contiguous(memory_format=torch.channels_last)
    return F.conv2d(padded, conv.weight, conv.bias)


class Synthesis(nn.Module):
    """``[1, G, H, W]`` -> RGB: 1x1 (relu), 1x1 to 3, 3x3 residual (relu), 3x3 residual, plus a 1x1 stabiliser."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        g, width = arch.grids, arch.synthesis_hidden
        self.expand = nn.Conv2d(g, width, 1)
        self.project = nn.Conv2d(width, 3, 1)
        self.refine1 = nn.Conv2d(3, 3, 3)
        self.refine2 = nn.Conv2d(3, 3, 3)
        self.stabiliser = nn.Conv2d(g, 3, 1, bias=False)
        with torch.no_grad():
            bound = 1.0 / (math.sqrt(g) * width ** 2)
            self.expand.weight.uniform_(-bound, bound)
            self.expand.bias.zero_()
            self.project.weight.uniform_(-1.0 / (math.sqrt(width) * 9), 1.0 / (math.sqrt(width) * 9))
            self.project.bias.fill_(0.5)
            for conv in (self.refine1, self.refine2):
                conv.weight.zero_()
                conv.bias.zero_()
            self.stabiliser.weight.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _, g, h, w = z.shape
        flat = z.reshape(g, h * w)            # 1x1 layers as matrix products over [channels, pixels]
        hidden = F.relu(torch.addmm(self.expand.bias[:, None], self.expand.weight[:, :, 0, 0], flat))
        x = torch.addmm(self.project.bias[:, None], self.project.weight[:, :, 0, 0], hidden).view(1, 3, h, w)
        x = F.relu(conv3x3(x, self.refine1) + x)
        x = conv3x3(x, self.refine2) + x
        return x + (self.stabiliser.weight[:, :, 0, 0] @ flat).view(1, 3, h, w)


# -- the whole decoder -----------------------------------------------------------------------------


class Decoder(nn.Module):
    """The three networks a file carries."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        self.arm = ContextModel(arch)
        self.upsampling = Upsampler(arch)
        self.synthesis = Synthesis(arch)
        self._index: tuple[list[tuple[int, int]], torch.Tensor] | None = None

    def context_index(self, grids: list[torch.Tensor]) -> torch.Tensor:
        shapes = [tuple(g.shape[-2:]) for g in grids]
        if self._index is None or self._index[0] != shapes:
            self._index = (shapes, context_index(shapes, self.arch.arm_context).to(grids[0].device))
        return self._index[1]

    def rate_bits(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """Bits of every latent (flat, finest grid first) under the float context model."""
        out = self.arm(arm_inputs(grids, self.context_index(grids)))
        flat = torch.cat([g.reshape(-1) for g in grids])
        return laplace_bits(flat, out[:, 0], out[:, 1])

    def total_bits(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """The sum of :meth:`rate_bits`. When fitting on the CPU, the compiled kernel of
        :mod:`~codec.models.image.overfit.fused_rate` computes it with its gradient in one pass."""
        from codec.models.image.overfit import fused_rate

        if torch.is_grad_enabled() and grids[0].device.type == "cpu" and fused_rate.available():
            return fused_rate.total_bits(self.arm, grids, self.context_index(grids))
        return self.rate_bits(grids).sum()

    def image(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """``[1, 3, H, W]`` RGB (unclamped) from the latent grids."""
        return self.synthesis(self.upsampling(grids))
