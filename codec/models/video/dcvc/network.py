"""The float video model: conditional coding with an implicit temporal context, after DCVC-RT.

One frame is coded against the decoder's *feature* of the previous frame
(``channels`` at 1/8 resolution), never against warped pixels:

- ``extract1`` / ``extract2`` turn the previous feature into ``ctx_t`` (for the
  entropy model) and ``ctx`` (for the encoder and the decoder);
- the encoder sees the current frame (YUV 4:2:0 planes rearranged to 96
  channels at 1/8 by pixel-unshuffle: 64 luma + 2 x 16 chroma samples per
  8x8 block) beside ``ctx`` and produces one latent ``y`` at 1/16;
- a hyperprior ``z`` at 1/64 and the temporal prior from ``ctx_t`` give the
  means and scales of the checkerboard anchors of ``y``; a spatial prior on
  the decoded anchors gives those of the other half (two steps);
- the decoder turns ``y_hat`` and ``ctx`` into the new feature, which is both
  propagated to the next frame and the input of ``recon`` (pixels); a
  learned per-channel share ``feature_skip`` of the previous feature is added
  to it, so a still region can keep (and refine) what earlier frames built
  instead of coding it again (zero for an intra frame, whose reference is zero).

An intra frame is the same computation against a zero feature: the model is
its own intra codec. Variable rate: ``qps`` quality indexes, each with
per-channel vectors (gain of ``y`` at the encoder, inverse gain of ``y_hat``,
scales of ``ctx_t``, of the new feature and of the reconstruction features)
interpolated geometrically between ``anchors`` learned vectors, and a
hyper-latent distribution per quality.

Everything that decides probabilities or feeds the next frame (``extract1``,
``extract2``, ``hyper_synthesis``, ``temporal_prior``, ``fusion``,
``spatial_prior``, ``decoder`` and the three scalings between them) is
converted to exact integer arithmetic at export (``integer_path.py``); the
encoder (``encoder_in``, ``encoder``, ``hyper_analysis``) and ``recon`` stay
in floating point: they change symbols only through the encoder's choices,
or pixels of the current frame only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codec.nn.bounds import lower_bound
from codec.nn.checkerboard import anchor_mask
from codec.nn.integer.layers import Parallel, ResidualBlock

SCALE_MIN = 0.11
LIKELIHOOD_MIN = 1e-9
PACKED = 96          # 4:2:0 planes at 1/8: 64 luma + 16 + 16 chroma samples per block
PAD_MULTIPLE = 64    # luma size multiple: y is at 1/16 and z at 1/64


@dataclass(frozen=True)
class VideoConfig:
    """Architecture hyperparameters; stored with the weights so a checkpoint rebuilds its model."""

    channels: int = 64           # C: the propagated feature and the contexts, at 1/8
    latent_channels: int = 96    # M: y at 1/16
    hyper_channels: int = 64     # Z: z at 1/64
    recon_channels: int = 64     # R: reconstruction features at 1/8
    blocks: int = 2              # residual blocks per stage
    slope: float = 0.125         # LeakyReLU negative slope (a power of two: exact in integers)
    qps: int = 64                # quality indexes 0 (lowest rate) .. qps-1
    anchors: int = 8             # learned vectors between which quality vectors are interpolated
    lambda_min: float = 0.002    # rate-distortion trade-off of qp 0 (MSE on 0-255 samples x lambda + bpp)
    lambda_max: float = 0.12     # ... of the highest qp

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VideoConfig":
        return cls(**data)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


def gaussian_likelihood(values: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Probability of the unit-width bin around each value under N(mean, scale)."""
    scales = lower_bound(scales, SCALE_MIN)
    centred = (values - means).abs()
    upper = 0.5 * torch.erfc((centred - 0.5) / (scales * math.sqrt(2)))
    lower = 0.5 * torch.erfc((centred + 0.5) / (scales * math.sqrt(2)))
    return lower_bound(upper - lower, LIKELIHOOD_MIN)


def pack(y: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Luma (B,1,H,W) and chroma (B,2,H/2,W/2) -> (B,96,H/8,W/8): the model's view of a 4:2:0 frame."""
    return torch.cat([F.pixel_unshuffle(y, 8), F.pixel_unshuffle(uv, 4)], dim=1)


def unpack(x: torch.Tensor, factor: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack` for a tensor at 1/``factor`` (``factor`` 8: 96 channels; 4: 24 channels)."""
    luma = factor * factor
    return F.pixel_shuffle(x[:, :luma], factor), F.pixel_shuffle(x[:, luma:], factor // 2)


def conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2)


def interpolate_anchors(table: torch.Tensor, qp: torch.Tensor, qps: int) -> torch.Tensor:
    """Rows of ``table`` (anchors, ch) interpolated at continuous ``qp`` (B,) in [0, qps-1] -> (B, ch).

    Anchors sit at evenly spaced quality indexes; between two, values move
    linearly (tables hold logarithms, so the vectors move geometrically).
    """
    anchors = table.shape[0]
    pos = qp.clamp(0, qps - 1) * ((anchors - 1) / (qps - 1))
    low = pos.floor().long().clamp(max=anchors - 2)
    t = (pos - low.to(pos.dtype))[:, None]
    return table[low] * (1 - t) + table[low + 1] * t


class VideoModel(nn.Module):
    """The float model; see the module docstring."""

    def __init__(self, config: VideoConfig = VideoConfig()) -> None:
        super().__init__()
        self.config = config
        C, M, Z, R, n, s = (config.channels, config.latent_channels, config.hyper_channels,
                            config.recon_channels, config.blocks, config.slope)

        def act() -> nn.LeakyReLU:
            return nn.LeakyReLU(s)

        def res(ch: int, count: int) -> list[nn.Module]:
            return [ResidualBlock(ch, 3, slope=s) for _ in range(count)]

        # -- exact at coding time (integer_path.py) --
        self.extract1 = nn.Sequential(conv(C, C), act(), *res(C, 1))
        self.extract2 = nn.Sequential(*res(C, n))
        self.temporal_prior = nn.Sequential(conv(C, M, 3, 2), act(), conv(M, M))
        self.hyper_synthesis = nn.Sequential(conv(Z, 4 * Z), nn.PixelShuffle(2), act(),
                                             conv(Z, 4 * M), nn.PixelShuffle(2), act(), conv(M, M))
        self.fusion = nn.Sequential(conv(2 * M, 2 * M), act(), conv(2 * M, 2 * M, 1), act())
        self.fusion_head = conv(2 * M, 2 * M, 1)
        self.spatial_prior = nn.Sequential(conv(3 * M, 2 * M), act(), conv(2 * M, 2 * M, 1), act(),
                                           conv(2 * M, 2 * M, 1))
        self.decoder = nn.Sequential(Parallel(nn.Sequential(conv(M, 4 * C), nn.PixelShuffle(2)), nn.Identity()),
                                     conv(2 * C, C), act(), *res(C, n), conv(C, C, 1))
        # -- floating point --
        self.encoder_in = conv(PACKED, C, 1)
        self.encoder = nn.Sequential(conv(2 * C, C), act(), *res(C, n), conv(C, M, 3, 2))
        self.hyper_analysis = nn.Sequential(conv(M, Z), act(), conv(Z, Z, 3, 2), act(), conv(Z, Z, 3, 2))
        self.recon = nn.Sequential(conv(C, R), act(), *res(R, n))
        self.recon_head = nn.Sequential(conv(R, 4 * (R // 2)), nn.PixelShuffle(2), act(), conv(R // 2, 24))
        # -- quality: log-domain anchor vectors --
        K = config.anchors
        lam = self.anchor_lambdas()
        spread = 0.5 * torch.log(lam / lam[K // 2])
        self.log_gain = nn.Parameter(spread[:, None].repeat(1, M))
        self.log_inverse_gain = nn.Parameter(-spread[:, None].repeat(1, M))
        self.log_q_ctx = nn.Parameter(torch.zeros(K, C))
        self.log_q_feature = nn.Parameter(torch.zeros(K, C))
        self.log_q_recon = nn.Parameter(torch.zeros(K, R))
        self.feature_skip = nn.Parameter(torch.zeros(C))
        self.z_loc = nn.Parameter(torch.zeros(K, Z))
        self.z_log_scale = nn.Parameter(torch.zeros(K, Z))

    # -- quality ---------------------------------------------------------------------------------
    def anchor_lambdas(self) -> torch.Tensor:
        cfg = self.config
        return torch.exp(torch.linspace(math.log(cfg.lambda_min), math.log(cfg.lambda_max), cfg.anchors))

    def lambdas(self, qp: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        t = qp.clamp(0, cfg.qps - 1) / (cfg.qps - 1)
        return torch.exp(math.log(cfg.lambda_min) * (1 - t) + math.log(cfg.lambda_max) * t)

    def vectors(self, qp: torch.Tensor) -> dict[str, torch.Tensor]:
        """The quality vectors at continuous ``qp`` (B,), each (B, ch, 1, 1); z's loc and scale (B, Z, 1, 1)."""
        q = self.config.qps

        def at(table: torch.Tensor) -> torch.Tensor:
            return interpolate_anchors(table, qp, q)[:, :, None, None]

        return {"gain": torch.exp(at(self.log_gain)), "inverse_gain": torch.exp(at(self.log_inverse_gain)),
                "q_ctx": torch.exp(at(self.log_q_ctx)), "q_feature": torch.exp(at(self.log_q_feature)),
                "q_recon": torch.exp(at(self.log_q_recon)), "z_loc": at(self.z_loc),
                "z_scale": torch.exp(at(self.z_log_scale))}

    # -- pieces shared by training and coding ----------------------------------------------------
    def contexts(self, reference: torch.Tensor, v: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(ctx, ctx_t) from the previous frame's feature (zeros for an intra frame)."""
        x1 = self.extract1(reference)
        return self.extract2(x1), x1 * v["q_ctx"]

    def analyse(self, packed: torch.Tensor, ctx: torch.Tensor, v: dict) -> torch.Tensor:
        """The gained latent ``y`` of a packed frame (encoder only)."""
        return self.encoder(torch.cat([self.encoder_in(packed), ctx], dim=1)) * v["gain"]

    def priors(self, z_hat: torch.Tensor, ctx_t: torch.Tensor) -> torch.Tensor:
        """Fused hyper and temporal features (2M at 1/16)."""
        return self.fusion(torch.cat([self.hyper_synthesis(z_hat), self.temporal_prior(ctx_t)], dim=1))

    def synthesise(self, y_hat: torch.Tensor, ctx: torch.Tensor, reference: torch.Tensor, v: dict) -> torch.Tensor:
        """The new feature from the decoded latent and the previous feature (propagated to the next frame)."""
        skip = reference * self.feature_skip[None, :, None, None]
        return self.decoder((y_hat * v["inverse_gain"], ctx)) * v["q_feature"] + skip

    def reconstruct(self, feature: torch.Tensor, v: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Planes (luma, chroma) in [0, 1]-ish floats from a feature (not clamped: training needs gradients)."""
        return unpack(self.recon_head(self.recon(feature) * v["q_recon"]), 4)

    # -- training forward ------------------------------------------------------------------------
    def forward(self, packed: torch.Tensor, reference: torch.Tensor | None, qp: torch.Tensor) -> dict:
        """Code one frame (training proxies): reconstruction, new feature and bits per frame.

        ``packed`` (B, 96, H/8, W/8) with H, W multiples of 64; ``reference``
        the previous feature or None for an intra frame; ``qp`` (B,) continuous.
        """
        cfg = self.config
        if reference is None:
            reference = packed.new_zeros(packed.shape[0], cfg.channels, *packed.shape[2:])
        v = self.vectors(qp)
        ctx, ctx_t = self.contexts(reference, v)
        # Quantization and likelihoods in float32 even under bf16 autocast (bf16 cannot round y finely).
        y = self.analyse(packed, ctx, v).float()
        z = self.hyper_analysis(y).float()
        z_hat = ste_round(z - v["z_loc"]) + v["z_loc"]
        h = self.priors(z_hat, ctx_t)
        scales_a, means_a = self.fusion_head(h).float().chunk(2, dim=1)
        mask = anchor_mask(*y.shape[2:], device=y.device)
        y_hat_a = (ste_round(y - means_a) + means_a) * mask
        scales_n, means_n = self.spatial_prior(torch.cat([y_hat_a, h.float()], dim=1)).float().chunk(2, dim=1)
        scales = scales_a * mask + scales_n * (1 - mask)
        means = means_a * mask + means_n * (1 - mask)
        y_hat = ste_round(y - means) + means
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        y_bits = -torch.log2(gaussian_likelihood(y_noisy, means, scales)).sum(dim=(1, 2, 3))
        z_bits = -torch.log2(gaussian_likelihood(z_noisy, v["z_loc"], v["z_scale"]))
        feature = self.synthesise(y_hat, ctx, reference, v)
        luma, chroma = self.reconstruct(feature, v)
        return {"luma": luma, "chroma": chroma, "feature": feature, "bits": y_bits + z_bits.sum(dim=(1, 2, 3))}


def pad_planes(luma: torch.Tensor, chroma: torch.Tensor, multiple: int = PAD_MULTIPLE) -> tuple[torch.Tensor, torch.Tensor]:
    """Replicate-pad bottom and right so luma sides are multiples of ``multiple`` (chroma half of it)."""
    h, w = luma.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return luma, chroma
    luma = F.pad(luma, (0, pw, 0, ph), mode="replicate")
    ch, cw = chroma.shape[-2:]
    chroma = F.pad(chroma, (0, luma.shape[-1] // 2 - cw, 0, luma.shape[-2] // 2 - ch), mode="replicate")
    return luma, chroma
