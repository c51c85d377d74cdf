"""A variable-rate mean-scale hyperprior image model with a checkerboard context.

Architecture (Minnen et al. 2018 mean-scale hyperprior, He et al. 2021
checkerboard context, Cui et al. 2021 gain units for variable rate):

- ``g_a``/``g_s``: four stride-2 convolutions with GDN/IGDN, image <-> latent ``y``
  at 1/16 resolution with ``M`` channels.
- ``h_a``/``h_s``: hyper-latent ``z`` at 1/64 resolution; ``h_s`` predicts
  features for the entropy parameters of ``y``.
- ``context``: checkerboard context from the decoded anchors; ``entropy_parameters``
  (1x1 convolutions) maps hyper features and context to a mean and a scale
  for every element of ``y``.
- ``gain``/``inverse_gain``: one learned per-channel vector per quality level,
  applied to ``y`` before quantization and after decoding; interpolating
  between neighbouring levels gives a continuous rate from one set of weights.
- ``z`` has a learned per-channel Gaussian (location and scale), which becomes
  fixed CDF tables at export.

This module is the float model used for training. Everything that decides
entropy-coding probabilities at coding time (``h_s``, ``context``,
``entropy_parameters``) is converted to exact integer arithmetic by
``codec.models.image.hyperprior.integer_path``; ``g_s`` stays in floating point because
it only changes pixels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codec.nn.bounds import lower_bound
from codec.nn.checkerboard import CheckerboardContext, anchor_mask
from codec.nn.gdn import GDN

SCALE_MIN = 0.11
LIKELIHOOD_MIN = 1e-9
# Rate-distortion trade-offs of the quality levels (MSE on 0-255 scale times lambda, plus bits per pixel).
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)


@dataclass(frozen=True)
class HyperpriorConfig:
    """Architecture hyperparameters; stored beside the weights so a checkpoint rebuilds its model."""

    channels: int = 64          # N: channels of the analysis/synthesis transforms
    latent_channels: int = 128  # M: channels of y
    hyper_channels: int = 64    # channels of z
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HyperpriorConfig":
        data = dict(data)
        data["lambdas"] = tuple(data["lambdas"])
        return cls(**data)


def _conv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2)


def _deconv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel, stride, kernel // 2, output_padding=stride - 1)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


def gaussian_likelihood(values: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Probability of the unit-width bin around each value under N(mean, scale)."""
    scales = lower_bound(scales, SCALE_MIN)
    centred = (values - means).abs()
    # Use the upper tail for both edges: numerically stable far from the mean.
    upper = 0.5 * torch.erfc((centred - 0.5) / (scales * math.sqrt(2)))
    lower = 0.5 * torch.erfc((centred + 0.5) / (scales * math.sqrt(2)))
    return lower_bound(upper - lower, LIKELIHOOD_MIN)


class HyperpriorImageModel(nn.Module):
    """The float model; see the module docstring for the architecture."""

    PAD_MULTIPLE = 64  # y is at 1/16 and z at 1/64 of the image size

    def __init__(self, config: HyperpriorConfig = HyperpriorConfig()) -> None:
        super().__init__()
        self.config = config
        N, M, Z = config.channels, config.latent_channels, config.hyper_channels
        self.g_a = nn.Sequential(_conv(3, N), GDN(N), _conv(N, N), GDN(N), _conv(N, N), GDN(N), _conv(N, M))
        self.g_s = nn.Sequential(_deconv(M, N), GDN(N, inverse=True), _deconv(N, N), GDN(N, inverse=True),
                                 _deconv(N, N), GDN(N, inverse=True), _deconv(N, 3))
        self.h_a = nn.Sequential(_conv(M, N, 3, 1), nn.ReLU(), _conv(N, N), nn.ReLU(), _conv(N, Z))
        self.h_s = nn.Sequential(_deconv(Z, N), nn.ReLU(), _deconv(N, N * 3 // 2), nn.ReLU(),
                                 _conv(N * 3 // 2, 2 * M, 3, 1))
        self.context = CheckerboardContext(M, 2 * M)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(4 * M, 3 * M, 1), nn.ReLU(), nn.Conv2d(3 * M, 5 * M // 2, 1), nn.ReLU(),
            nn.Conv2d(5 * M // 2, 2 * M, 1))
        # Log-gains start spread like sqrt(lambda), so levels differ from the first step.
        lam = torch.tensor(config.lambdas)
        log_gain = 0.5 * torch.log(lam / lam[len(lam) // 2])
        self.log_gain = nn.Parameter(log_gain[:, None].repeat(1, M))
        self.log_inverse_gain = nn.Parameter(-log_gain[:, None].repeat(1, M))
        self.z_loc = nn.Parameter(torch.zeros(Z))
        self.z_log_scale = nn.Parameter(torch.zeros(Z))

    # -- gains -------------------------------------------------------------------------------
    def gains(self, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gain and inverse gain for a (batch of) continuous level(s) in [0, levels-1].

        Between integer levels the gains are interpolated geometrically (linearly
        in the log domain), which moves the rate smoothly.
        """
        g = torch.exp(interpolate_levels(self.log_gain, level))
        ig = torch.exp(interpolate_levels(self.log_inverse_gain, level))
        return g[:, :, None, None], ig[:, :, None, None]

    def level_lambdas(self, level: torch.Tensor) -> torch.Tensor:
        """The rate-distortion trade-off of continuous levels: the levels' lambdas, interpolated geometrically."""
        lambdas = torch.log(torch.tensor(self.config.lambdas, device=level.device))
        return torch.exp(interpolate_levels(lambdas, level))

    # -- entropy parameters ------------------------------------------------------------------
    def split_parameters(self, hyper: torch.Tensor, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self.entropy_parameters(torch.cat([hyper, ctx], dim=1)).chunk(2, dim=1)
        return scales, means

    def z_likelihood(self, z: torch.Tensor) -> torch.Tensor:
        loc = self.z_loc[None, :, None, None]
        scale = torch.exp(self.z_log_scale)[None, :, None, None]
        return gaussian_likelihood(z, loc, scale)

    # -- training forward ----------------------------------------------------------------------
    def forward(self, x: torch.Tensor, level: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass: reconstruction and per-image bits with the usual noise/STE proxies.

        ``x`` is (B, 3, H, W) in [0, 1] with H and W multiples of 64; ``level``
        is (B,) continuous quality levels.
        """
        gain, inverse_gain = self.gains(level)
        y = self.g_a(x) * gain
        z = self.h_a(y)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_hat = ste_round(z - self.z_loc[None, :, None, None]) + self.z_loc[None, :, None, None]
        hyper = self.h_s(z_hat)

        mask = anchor_mask(y.shape[2], y.shape[3], device=y.device)
        zeros = torch.zeros_like(hyper)
        scales_a, means_a = self.split_parameters(hyper, zeros)
        y_hat_anchor = (ste_round(y - means_a) + means_a) * mask
        ctx = self.context(y_hat_anchor) * (1 - mask)
        scales_n, means_n = self.split_parameters(hyper, ctx)
        scales = scales_a * mask + scales_n * (1 - mask)
        means = means_a * mask + means_n * (1 - mask)

        y_hat = ste_round(y - means) + means
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        y_bits = -torch.log2(gaussian_likelihood(y_noisy, means, scales)).sum(dim=(1, 2, 3))
        z_bits = -torch.log2(self.z_likelihood(z_noisy)).sum(dim=(1, 2, 3))
        x_hat = self.g_s(y_hat * inverse_gain)
        return {"x_hat": x_hat, "bits": y_bits + z_bits, "y_bits": y_bits, "z_bits": z_bits}


def interpolate_levels(table: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` (one per level) interpolated linearly at continuous levels ``level`` (B,).

    The one rule for everything that varies with the level (gains, lambdas):
    applied to logarithms, it interpolates geometrically.
    """
    levels = table.shape[0]
    level = level.clamp(0, levels - 1)
    low = level.floor().long().clamp(max=levels - 2)
    t = (level - low.to(level.dtype)).view(-1, *([1] * (table.dim() - 1)))
    return table[low] * (1 - t) + table[low + 1] * t


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad the bottom and right edges so both sides are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")
