"""The float token codec (VQGAN class, binary tokens) used for training and for the float parts of coding.

Three token grids, nested (Control-GIC style variable granularity):

- every 32x32 block of the image has one token at stride 32 (the *coarse* grid);
- the blocks with the most information add 2x2 tokens at stride 16 (*fine*);
- the richest of those add 4x4 more at stride 8 (*finest*).

A block's *granularity level* g (0, 1 or 2) says which grids it has; the
levels are chosen by the encoder (``granularity.py``) and coded in the file.

Tokens are lookup-free binary codes (LFQ, as in MAGVIT-v2 / MaskBit): the
encoder projects its features to ``bits`` channels and a token is the vector
of their signs, so the codebook is {-1, +1}^bits (2^bits entries) with no
learned table to collapse. Its index is ``sum_k [bit_k > 0] 2^k``.

The decoder (``synthesis``) embeds the tokens of every grid, adds the finer
grids where they are present (a presence channel tells it where they are
not) and upsamples to pixels. It is deterministic: no noise is injected, so a
file decodes to the same image on the same kind of machine.

The *prior* (``priors``) is one small convolutional context model per grid.
Each grid is coded in two checkerboard passes; a pass sees the coarser grid
(upsampled, with its presence) and, in the second pass, the first pass's
tokens of its own grid. Its 2^bits logits become exact integers after
training (``prior.py``), so every machine derives the same rANS tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

STRIDES = (32, 16, 8)        # coarse, fine, finest grid
BLOCK = 32                   # a granularity decision covers one coarse cell


@dataclass(frozen=True)
class VqConfig:
    """Architecture hyperparameters, stored beside the weights so a checkpoint rebuilds its model.

    ``channels``: encoder/decoder width at strides 2, 4, 8, 16, 32.
    """

    bits: int = 10
    channels: tuple[int, ...] = (32, 64, 96, 128, 160)
    prior_channels: int = 64

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VqConfig":
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        return cls(**d)

    def check(self) -> None:
        if not 2 <= self.bits <= 14:
            raise ValueError(f"bits must be 2..14, got {self.bits}")
        if len(self.channels) != 5 or min(self.channels) < 1:
            raise ValueError("channels: five positive widths (strides 2..32)")
        if self.prior_channels < 1:
            raise ValueError("prior_channels must be positive")

    @property
    def symbols(self) -> int:
        return 1 << self.bits


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1)


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), _act(), nn.Conv2d(c, c, 3, padding=1))
        nn.init.zeros_(self.body[2].weight)   # each block starts as the identity: deep stacks without norms train
        nn.init.zeros_(self.body[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """Image in [0, 1] -> pre-quantisation token features at strides 32, 16 and 8."""

    def __init__(self, cfg: VqConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.stem = nn.Sequential(nn.Conv2d(3, c[0], 5, stride=2, padding=2), _act())
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c[i], c[i + 1], 3, stride=2, padding=1), _act(), ResBlock(c[i + 1]))
            for i in range(4))
        # Batch normalisation (no affine) before the sign keeps every bit near 50 % +1 from the first step;
        # without it the bits settle on constants before the decoder has learned to use them.
        self.heads = nn.ModuleList(nn.Sequential(nn.Conv2d(c[i], cfg.bits, 1), nn.BatchNorm2d(cfg.bits, affine=False))
                                   for i in (4, 3, 2))   # strides 32, 16, 8

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(x - 0.5)
        feats = []
        for stage in self.down:
            h = stage(h)
            feats.append(h)             # strides 4, 8, 16, 32
        return [self.heads[0](feats[3]), self.heads[1](feats[2]), self.heads[2](feats[1])]


class Synthesis(nn.Module):
    """Tokens (+-1 bits) of the three grids and their presence masks -> image in [0, 1]."""

    def __init__(self, cfg: VqConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.embed32 = nn.Conv2d(cfg.bits, c[4], 1)
        self.block32 = nn.Sequential(ResBlock(c[4]), ResBlock(c[4]))
        self.up16 = nn.Conv2d(c[4], c[3], 3, padding=1)
        self.embed16 = nn.Conv2d(cfg.bits + 1, c[3], 1)
        self.block16 = nn.Sequential(ResBlock(c[3]), ResBlock(c[3]))
        self.up8 = nn.Conv2d(c[3], c[2], 3, padding=1)
        self.embed8 = nn.Conv2d(cfg.bits + 1, c[2], 1)
        self.block8 = nn.Sequential(ResBlock(c[2]), ResBlock(c[2]))
        self.up4 = nn.Sequential(nn.Conv2d(c[2], c[1], 3, padding=1), _act(), ResBlock(c[1]))
        self.up2 = nn.Sequential(nn.Conv2d(c[1], c[0], 3, padding=1), _act(), ResBlock(c[0]))
        self.up1 = nn.Sequential(nn.Conv2d(c[0], 12, 3, padding=1), nn.PixelShuffle(2))

    @staticmethod
    def _up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")

    def forward(self, tokens: list[torch.Tensor], present: list[torch.Tensor]) -> torch.Tensor:
        """``tokens``: +-1 bits per grid (coarse first); ``present``: 0/1 masks of the fine and finest grids."""
        t32, t16, t8 = tokens
        m16, m8 = present
        h = self.block32(self.embed32(t32))
        h = self.up16(self._up(h)) + self.embed16(torch.cat([t16 * m16, m16], 1))
        h = self.block16(F.leaky_relu(h, 0.1))
        h = self.up8(self._up(h)) + self.embed8(torch.cat([t8 * m8, m8], 1))
        h = self.block8(F.leaky_relu(h, 0.1))
        h = self.up4(self._up(h))
        h = self.up2(self._up(h))
        return self.up1(h) + 0.5


def prior_net(cfg: VqConfig) -> nn.Sequential:
    """One grid's context model: (coarser bits, coarser presence, known bits, known mask) -> 2^bits logits.

    Plain convolutions and leaky ReLUs, the layers :func:`codec.nn.integer.convert` makes exact.
    """
    c = cfg.prior_channels
    return nn.Sequential(nn.Conv2d(2 * cfg.bits + 2, c, 3, padding=1), nn.LeakyReLU(0.125),
                         nn.Conv2d(c, c, 3, padding=1), nn.LeakyReLU(0.125),
                         nn.Conv2d(c, c, 1), nn.LeakyReLU(0.125),
                         nn.Conv2d(c, cfg.symbols, 1))


def anchors(h: int, w: int, device=None) -> torch.Tensor:
    """(1, 1, h, w) 0/1: the first checkerboard pass, positions with (row + column) even."""
    i = torch.arange(h, device=device)[:, None]
    j = torch.arange(w, device=device)[None, :]
    return ((i + j) % 2 == 0).to(torch.float32)[None, None]


def prior_inputs(bits: int, coarser: torch.Tensor | None, coarser_present: torch.Tensor | None,
                 known: torch.Tensor | None, known_mask: torch.Tensor | None, h: int, w: int,
                 batch: int, device=None) -> torch.Tensor:
    """The context tensor of one pass: coarser tokens upsampled x2 and masked, then this grid's known tokens.

    Absent parts are zeros (with a zero presence channel); every value is -1, 0 or 1, an exact integer.
    """
    zeros_bits = torch.zeros(batch, bits, h, w, device=device)
    zeros_mask = torch.zeros(batch, 1, h, w, device=device)
    if coarser is None:
        up_bits, up_mask = zeros_bits, zeros_mask
    else:
        up_mask = F.interpolate(coarser_present, scale_factor=2.0, mode="nearest")
        up_bits = F.interpolate(coarser, scale_factor=2.0, mode="nearest") * up_mask
    if known is None:
        k_bits, k_mask = zeros_bits, zeros_mask
    else:
        k_bits, k_mask = known * known_mask, known_mask
    return torch.cat([up_bits, up_mask, k_bits, k_mask], 1)


def bits_to_index(t: torch.Tensor) -> torch.Tensor:
    """+-1 bits (B, bits, H, W) -> token indices (B, H, W), bit k worth 2^k."""
    weights = (1 << torch.arange(t.shape[1], device=t.device)).view(1, -1, 1, 1)
    return ((t > 0).long() * weights).sum(1)


def index_to_bits(idx: torch.Tensor, bits: int) -> torch.Tensor:
    """Token indices (B, H, W) -> +-1 bits (B, bits, H, W) as float32."""
    k = torch.arange(bits, device=idx.device).view(1, -1, 1, 1)
    return ((idx[:, None] >> k) & 1).to(torch.float32) * 2 - 1


def lfq(z: torch.Tensor, sharpness: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lookup-free quantisation: (+-1 tokens with a straight-through gradient, commitment, entropy term).

    The entropy term (MAGVIT-v2) is the mean per-token entropy of the soft code distribution minus the
    entropy of its batch average: low when each token is confident and the batch uses many codes.
    The soft distribution factorises over bits: p(bit_k = +1) = sigmoid(2 * sharpness * z_k).
    """
    q = torch.where(z > 0, 1.0, -1.0)
    st = z + (q - z).detach()
    commit = (z - q).square().mean()
    b = z.shape[1]
    flat = z.permute(0, 2, 3, 1).reshape(-1, b).float() * (2 * sharpness)
    lp_pos, lp_neg = F.logsigmoid(flat), F.logsigmoid(-flat)
    p_pos = lp_pos.exp()
    token_entropy = -(p_pos * lp_pos + (1 - p_pos) * lp_neg).sum(1).mean()
    codes = ((torch.arange(1 << b, device=z.device)[:, None] >> torch.arange(b, device=z.device)) & 1).float()
    log_p = lp_pos @ codes.T + lp_neg @ (1 - codes).T          # (N, 2^bits)
    avg = log_p.exp().mean(0).clamp_min(1e-12)
    batch_entropy = -(avg * avg.log()).sum()
    return st, commit, token_entropy - batch_entropy


class VqModel(nn.Module):
    def __init__(self, cfg: VqConfig) -> None:
        super().__init__()
        cfg.check()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.synthesis = Synthesis(cfg)
        self.priors = nn.ModuleList(prior_net(cfg) for _ in STRIDES)

    def tokens(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Hard +-1 tokens of the three grids (coding)."""
        return [torch.where(z > 0, 1.0, -1.0) for z in self.encoder(x)]

    def prior_losses(self, tokens: list[torch.Tensor], present: list[torch.Tensor]) -> torch.Tensor:
        """Cross-entropy (bits) of every grid's tokens under its two-pass context model, summed per image.

        ``present``: 0/1 masks of all three grids (the coarse one all ones); tokens are detached, so the
        prior learns the tokens without pulling the encoder.
        """
        bits = self.config.bits
        total = torch.zeros(tokens[0].shape[0], device=tokens[0].device)
        for s in range(3):
            t = tokens[s].detach()
            b, _, h, w = t.shape
            target = bits_to_index(t)
            coarser = None if s == 0 else tokens[s - 1].detach()
            coarser_present = None if s == 0 else present[s - 1]
            a = anchors(h, w, t.device)
            first = prior_inputs(bits, coarser, coarser_present, None, None, h, w, b, t.device)
            second = prior_inputs(bits, coarser, coarser_present, t, a * present[s], h, w, b, t.device)
            for ctx, where in ((first, a), (second, 1 - a)):
                logits = self.priors[s](ctx)
                ce = F.cross_entropy(logits, target, reduction="none")      # nats, (B, H, W)
                total = total + (ce * where[:, 0] * present[s][:, 0]).sum((1, 2)) / 0.6931471805599453
        return total


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
