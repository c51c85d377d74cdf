"""The float hierarchical VAE (QRes-VAE / QARV class) used for training.

Layout (strides relative to the image; ``HvaeConfig`` gives the widths):

- ``encoder`` (float, encoder side only): a 4x4 patch embedding to 1/4, then
  depthwise residual blocks and 2x2 patch merges down to 1/8, 1/16, 1/32 and
  1/64. Its features at each stride feed the posteriors of the latent groups
  at that stride. It knows the rate level through a per-stage embedding.
- the **top-down path**, coarse to fine: a learned constant feature at 1/64;
  for each latent group ``g`` (in file order), an optional ``entry`` (patch
  upsampling when the stride halves, then a residual block), a ``prior``
  head (the mean and log-scale of every latent element, from the top-down
  feature alone), a ``posterior`` (float, encoder side: the latent from the
  top-down feature and the encoder's feature) and a ``merge`` (the decoded
  latent projected and added to the feature, then a residual block). Each of
  ``entry``/``prior``/``merge`` is a module that
  :func:`codec.nn.integer.convert` turns into exact integer arithmetic, so
  the whole path from decoded symbols to every probability is exact
  (``integer_path.py``).
- ``synthesis`` (float, decoder): from the last top-down feature at 1/8 to
  pixels (a residual block, patch upsampling to 1/4, residual blocks, a 4x4
  patch upsampling to the image).

Quantization is per latent element in the *symbol domain*: a latent ``q``
with prior mean ``m`` is coded as ``round((q - m) / step)``, where ``step``
is a per-group, per-channel quantization step of the rate level (learned,
one vector per level, interpolated linearly between levels). The prior thus
lives in the latent's own units and is the same at every rate; the level
only changes how finely the latents are quantized, which is what lets one
set of weights code every rate. Training uses uniform noise in the symbol
domain for the rate and rounding with a straight-through gradient for the
reconstruction (mixed quantization).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from codec.models.image.hyperprior.network import gaussian_likelihood, interpolate_levels, pad_to_multiple
from codec.nn.integer import Parallel, ResidualBlock

SCALE_MIN = 0.11             # smallest symbol-domain scale (the first CDF table)
# Rate-distortion trade-offs of the quality levels (lambda * 255^2 * MSE + bits per pixel).
DEFAULT_LAMBDAS = (0.0003, 0.000666, 0.00148, 0.00328, 0.00729, 0.0162, 0.036, 0.08)


@dataclass(frozen=True)
class HvaeConfig:
    """Architecture hyperparameters; stored beside the weights so a checkpoint rebuilds its model.

    ``groups``: ``(stride, latent channels)`` of each latent group, coarse to
    fine (strides from 64 down, each at most halving the previous one).
    ``decoder_channels`` / ``encoder_channels``: the top-down / bottom-up
    width at each stride.
    """

    groups: tuple[tuple[int, int], ...] = ((64, 16), (32, 16), (32, 16), (16, 32), (16, 32), (16, 32), (8, 8), (8, 8))
    encoder_channels: tuple[tuple[int, int], ...] = ((4, 64), (8, 96), (16, 128), (32, 128), (64, 128))
    decoder_channels: tuple[tuple[int, int], ...] = ((64, 128), (32, 128), (16, 96), (8, 64))
    synthesis_channels: int = 64
    synthesis_blocks: int = 2
    encoder_blocks: tuple[tuple[int, int], ...] = ((4, 2), (8, 2), (16, 2), (32, 1), (64, 1))
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HvaeConfig":
        data = dict(data)
        for key in ("groups", "encoder_channels", "decoder_channels", "encoder_blocks"):
            if key in data:
                data[key] = tuple(tuple(int(v) for v in pair) for pair in data[key])
        if "lambdas" in data:
            data["lambdas"] = tuple(float(v) for v in data["lambdas"])
        return cls(**data)

    def check(self) -> None:
        strides = [s for s, _ in self.groups]
        if strides[0] != 64 or any(b not in (a, a // 2) for a, b in zip(strides, strides[1:])):
            raise ValueError(f"group strides must start at 64 and halve at most once per group: {strides}")
        dec = dict(self.decoder_channels)
        enc = dict(self.encoder_channels)
        for s in strides:
            if s not in dec or s not in enc:
                raise ValueError(f"no decoder or encoder width for stride {s}")
        if strides[-1] != min(dec):
            raise ValueError("the synthesis starts at the finest group's stride")


def block(channels: int, kernel: int) -> ResidualBlock:
    """A depthwise residual block (depthwise k x k, 1x1 to 2C, LeakyReLU, 1x1 back), last layer small.

    Depthwise blocks cost a quarter of a dense 3x3 pair on the CPU's budget;
    the small last layer starts each block near the identity, which keeps a
    deep stack without normalization stable.
    """
    b = ResidualBlock(channels, kernel, depthwise=True, hidden=2 * channels, slope=0.1)
    with torch.no_grad():
        b.body[-1].weight.mul_(0.1)
    return b


def kernel_for(stride: int) -> int:
    """Receptive field per stride: wide where the feature map is large, 1x1-ish where it is tiny."""
    return {4: 7, 8: 7, 16: 5, 32: 3, 64: 3}[stride]


class LevelEmbedding(nn.Module):
    """A per-channel bias for each rate level, interpolated linearly between levels (float parts only)."""

    def __init__(self, levels: int, channels: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(levels, channels))

    def forward(self, level: torch.Tensor) -> torch.Tensor:
        return interpolate_levels(self.table, level)[:, :, None, None]


class Encoder(nn.Module):
    """Image -> features at the strides of ``config.encoder_channels`` (float, encoder side)."""

    def __init__(self, config: HvaeConfig) -> None:
        super().__init__()
        widths = dict(config.encoder_channels)
        depth = dict(config.encoder_blocks)
        strides = sorted(widths)
        self.strides = strides
        self.downs = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.embeddings = nn.ModuleList()
        previous = 3
        for i, s in enumerate(strides):
            if i == 0:
                self.downs.append(nn.Conv2d(3, widths[s], s, stride=s))
            else:
                self.downs.append(nn.Conv2d(previous, widths[s], 2, stride=2))
            self.embeddings.append(LevelEmbedding(config.levels, widths[s]))
            self.stages.append(nn.Sequential(*[block(widths[s], kernel_for(s)) for _ in range(depth.get(s, 1))]))
            previous = widths[s]

    def forward(self, x: torch.Tensor, level: torch.Tensor) -> dict[int, torch.Tensor]:
        h = x * 2 - 1
        features = {}
        for s, down, emb, stage in zip(self.strides, self.downs, self.embeddings, self.stages):
            h = stage(down(h) + emb(level))
            features[s] = h
        return features


class LatentGroup(nn.Module):
    """One latent group of the top-down path: ``entry``, ``prior``, ``posterior``, ``merge``."""

    def __init__(self, stride: int, channels: int, latent: int, encoder_width: int, previous: int | None,
                 previous_stride: int | None) -> None:
        super().__init__()
        k = kernel_for(stride)
        if previous is None:
            self.entry = None                      # the first group reads the learned constant directly
        elif previous_stride != stride:
            self.entry = nn.Sequential(nn.Conv2d(previous, channels * 4, 1), nn.PixelShuffle(2), block(channels, k))
        else:
            self.entry = None
        self.prior = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.LeakyReLU(0.1),
                                   nn.Conv2d(channels, 2 * latent, 1))
        self.posterior = nn.Sequential(nn.Conv2d(channels + encoder_width, channels, 1), block(channels, 3),
                                       nn.Conv2d(channels, latent, 1))
        self.merge = nn.Sequential(Parallel(nn.Identity(), nn.Conv2d(latent, channels, 1), merge="add"),
                                   block(channels, k))
        self.stride, self.latent = stride, latent
        with torch.no_grad():  # start with wide priors: log-scale bias 1
            self.prior[-1].bias[latent:].fill_(1.0)


class HvaeModel(nn.Module):
    """The float model; see the module docstring."""

    PAD_MULTIPLE = 64

    def __init__(self, config: HvaeConfig = HvaeConfig()) -> None:
        super().__init__()
        config.check()
        self.config = config
        dec = dict(config.decoder_channels)
        enc = dict(config.encoder_channels)
        self.encoder = Encoder(config)
        self.constant = nn.Parameter(torch.zeros(1, dec[64], 1, 1))
        self.groups = nn.ModuleList()
        prev_c, prev_s = None, None
        for stride, latent in config.groups:
            self.groups.append(LatentGroup(stride, dec[stride], latent, enc[stride], prev_c, prev_s))
            prev_c, prev_s = dec[stride], stride
        # Per-level quantization steps of every group's channels: log-steps start spread like 1/sqrt(lambda).
        lam = torch.tensor(config.lambdas)
        spread = -0.5 * torch.log(lam / lam[len(lam) // 2])
        self.log_steps = nn.ParameterList([nn.Parameter(spread[:, None].repeat(1, latent).clone())
                                           for _, latent in config.groups])
        s = config.synthesis_channels
        last = dec[config.groups[-1][0]]
        self.synthesis_embedding = LevelEmbedding(config.levels, last)
        self.synthesis = nn.Sequential(
            block(last, 7), nn.Conv2d(last, s * 4, 1), nn.PixelShuffle(2),
            *[block(s, 7) for _ in range(config.synthesis_blocks)],
            nn.Conv2d(s, 3 * 16, 1), nn.PixelShuffle(4))

    # -- levels ----------------------------------------------------------------------------------
    def steps(self, g: int, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(step, log step) of group ``g`` for continuous levels (B,): each (B, C, 1, 1).

        Both are interpolated linearly between levels, as the integer path does
        with their fixed-point tables (so the log step is not exactly the log of
        the step between levels; each is what coding uses).
        """
        table = self.log_steps[g]
        step = interpolate_levels(torch.exp(table), level)
        log_step = interpolate_levels(table, level)
        return step[:, :, None, None], log_step[:, :, None, None]

    def level_lambdas(self, level: torch.Tensor) -> torch.Tensor:
        lambdas = torch.log(torch.tensor(self.config.lambdas, device=level.device))
        return torch.exp(interpolate_levels(lambdas, level))

    def top(self, batch: int, height: int, width: int) -> torch.Tensor:
        """The learned constant at 1/64 of an image of ``height`` x ``width`` (multiples of 64)."""
        return self.constant.expand(batch, -1, height // 64, width // 64)

    # -- training forward ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, level: torch.Tensor, *, coding: bool = False,
                preview: int | None = None, preview_samples: int = 1) -> dict[str, torch.Tensor]:
        """Reconstruction and bits per image. ``x``: (B, 3, H, W) in [0, 1], H and W multiples of 64.

        ``coding``: round the symbols as the coder does (no noise), for calibration and evaluation.
        ``preview``: also return ``x_preview``, the first ``preview_samples`` images decoded from the
        first ``preview`` groups alone, the later ones at their prior means (what ``--groups`` decodes).
        """
        features = self.encoder(x, level)
        f = self.top(x.shape[0], x.shape[2], x.shape[3])
        bits, states = [], []
        for g, group in enumerate(self.groups):
            if group.entry is not None:
                f = group.entry(f)
            mean, log_scale = group.prior(f).chunk(2, dim=1)
            q = group.posterior(torch.cat([f, features[group.stride]], dim=1))
            step, log_step = self.steps(g, level)
            u = (q - mean) / step
            scale = torch.exp(log_scale - log_step)
            if coding:
                rounded = torch.round(u)
                bits.append(-torch.log2(gaussian_likelihood(rounded, torch.zeros_like(u), scale)).sum((1, 2, 3)))
                z = mean + step * rounded
            else:
                noisy = u + torch.empty_like(u).uniform_(-0.5, 0.5)
                bits.append(-torch.log2(gaussian_likelihood(noisy, torch.zeros_like(u), scale)).sum((1, 2, 3)))
                z = mean + step * (u + (torch.round(u) - u).detach())
            f = group.merge((f, z))
            states.append(f)
        x_hat = self.synthesis(f + self.synthesis_embedding(level)) + 0.5
        group_bits = torch.stack(bits, dim=1)
        out = {"x_hat": x_hat, "bits": group_bits.sum(1), "group_bits": group_bits}
        if preview is not None:
            out["x_preview"] = self.prefix_synthesis(states[preview - 1][:preview_samples], preview,
                                                     level[:preview_samples])
        return out

    def prefix_synthesis(self, feature: torch.Tensor, start: int, level: torch.Tensor) -> torch.Tensor:
        """Pixels from the feature after ``start`` groups, the later groups taking their prior means."""
        for group in self.groups[start:]:
            if group.entry is not None:
                feature = group.entry(feature)
            mean, _ = group.prior(feature).chunk(2, dim=1)
            feature = group.merge((feature, mean))
        return self.synthesis(feature + self.synthesis_embedding(level)) + 0.5


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["HvaeConfig", "HvaeModel", "SCALE_MIN", "pad_to_multiple", "parameter_count"]
