"""The float codec network: a causal STFT-domain encoder, residual VQ, and a causal waveform decoder.

Why this shape: training compute here is two shared CPU cores. The encoder
reads causal STFT frames (each window ends at the newest sample) and works
only at the latent frame rate (75 frames/s at 24 kHz): ConvNeXt blocks whose
one temporal operation is a left-padded depthwise convolution. The decoder
must make a coherent waveform, which frame-wise spectra learn slowly without
an adversary (their phase stays random); it therefore upsamples in time
with causal transposed convolutions and dilated residual units (the
SoundStream/EnCodec/DAC decoder, small and causal), and only its first
blocks run at the frame rate.

Streaming is exact: every temporal layer keeps its last inputs as state
(``kernel - 1`` frames for a convolution, one frame for a transposed one), so
coding a stream in pieces gives what coding it whole gives.

Output timing: frame ``t``'s analysis window spans samples
``[t*hop - (n_fft - hop), (t+1)*hop)``; the decoder's output for frame ``t``
is the samples ``[t*hop - decoder_lag, (t+1)*hop - decoder_lag)``, inside
that window rather than at its faded edge, so output runs ``decoder_lag``
samples (26.7 ms) behind.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from codec.models.audio.rvq.quantizer import ResidualVQ

COMPRESSION = 0.3   # the encoder reads spectra as |X|^0.3 with their phase


@dataclass(frozen=True)
class NetworkConfig:
    sample_rate: int = 24000
    hop: int = 320
    n_fft: int = 1280
    encoder_dim: int = 192
    encoder_blocks: int = 4
    decoder_dim: int = 256
    decoder_blocks: int = 2
    decoder_rates: tuple[int, ...] = (4, 4, 4, 5)
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    decoder_dilations: tuple[tuple[int, ...], ...] = ((1, 3), (1, 3), (1,), (1,))
    decoder_lag: int = 640
    expansion: int = 2
    kernel: int = 7
    latent_dim: int = 128
    codebooks: int = 32
    codebook_size: int = 1024
    codebook_dim: int = 8

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def analysis_lag(self) -> int:
        """Samples of history an analysis frame reads before its hop (n_fft - hop)."""
        return self.n_fft - self.hop

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("decoder_rates", "decoder_channels"):
            if key in values:
                values[key] = tuple(values[key])
        if "decoder_dilations" in values:
            values["decoder_dilations"] = tuple(tuple(d) for d in values["decoder_dilations"])
        return cls(**values)

    def check(self) -> None:
        if math.prod(self.decoder_rates) != self.hop:
            raise ValueError(f"decoder rates {self.decoder_rates} do not multiply to the hop {self.hop}")
        if not len(self.decoder_rates) == len(self.decoder_channels) == len(self.decoder_dilations):
            raise ValueError("decoder_rates, decoder_channels and decoder_dilations need one entry per stage")


# -- encoder -----------------------------------------------------------------------------------------
class CausalBlock(nn.Module):
    """ConvNeXt block over time: causal depthwise conv, LayerNorm, pointwise MLP, layer scale, residual.

    Tensors are (batch, time, channels); the depthwise convolution is written
    as ``kernel`` shifted multiply-adds, which on a CPU is much faster than a
    grouped convolution for these sizes.
    """

    def __init__(self, dim: int, expansion: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.dw_weight = nn.Parameter(torch.randn(kernel, dim) / kernel)
        self.dw_bias = nn.Parameter(torch.zeros(dim))
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, dim * expansion)
        self.pw2 = nn.Linear(dim * expansion, dim)
        self.scale = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, C); state: (B, kernel-1, C) previous inputs or None (zeros: start of stream)."""
        k, t = self.kernel, x.shape[1]
        if state is None:
            state = x.new_zeros(x.shape[0], k - 1, x.shape[2])
        padded = torch.cat([state, x], dim=1)
        y = self.dw_bias + sum(padded[:, j:j + t] * self.dw_weight[j] for j in range(k))
        y = self.pw2(F.gelu(self.pw1(self.norm(y))))
        return x + y * self.scale, padded[:, padded.shape[1] - (k - 1):]


class Stack(nn.Module):
    """Input projection, causal blocks, output norm and projection; (B, T, d_in) -> (B, T, d_out)."""

    def __init__(self, d_in: int, dim: int, d_out: int, blocks: int, expansion: int, kernel: int) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, dim)
        self.blocks = nn.ModuleList(CausalBlock(dim, expansion, kernel) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, d_out)

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        h = self.inp(x)
        new_state = []
        for i, block in enumerate(self.blocks):
            h, s = block(h, None if state is None else state[i])
            new_state.append(s)
        return self.out(self.norm(h)), new_state


def analysis_frames(x: torch.Tensor, cfg: NetworkConfig, history: torch.Tensor | None = None) -> torch.Tensor:
    """Causal STFT frames of x (B, N), N a multiple of hop: (B, N/hop, n_fft).

    ``history``: the ``analysis_lag`` samples before x (zeros at the start of a stream).
    """
    if history is None:
        history = x.new_zeros(x.shape[0], cfg.analysis_lag)
    padded = torch.cat([history, x], dim=1)
    return padded.unfold(1, cfg.n_fft, cfg.hop)


class Analysis(nn.Module):
    """Windowed rFFT of causal frames, power-law compressed (|X|^0.3 with the phase kept) as features."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(cfg.n_fft, periodic=True), persistent=False)

    def spectrum(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(frames * self.window, dim=-1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        spec = self.spectrum(frames)
        spec = spec * spec.abs().clamp_min(1e-7).pow(COMPRESSION - 1)
        return torch.cat([spec.real, spec.imag], dim=-1)


# -- decoder -----------------------------------------------------------------------------------------
class Snake(nn.Module):
    """x + sin^2(a x) / a with a learned per channel (Ziyin et al. 2020; DAC): a periodic inductive bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return x + torch.sin(a * x).square() / (a + 1e-9)


class CausalConv(nn.Module):
    """1-D convolution over (B, C, T) that sees only the past; its state is the last (k-1)*d inputs."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.context = (kernel - 1) * dilation

    def forward(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            state = x.new_zeros(x.shape[0], x.shape[1], self.context)
        padded = torch.cat([state, x], dim=2)
        return self.conv(padded), padded[:, :, padded.shape[2] - self.context:]


class CausalUpsample(nn.Module):
    """Transposed convolution (kernel 2r, stride r): output block t is complete once input t is known.

    Each output block receives input t and t-1, so the state is the last input frame.
    """

    def __init__(self, c_in: int, c_out: int, rate: int) -> None:
        super().__init__()
        self.rate = rate
        self.conv = nn.ConvTranspose1d(c_in, c_out, 2 * rate, stride=rate)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            state = x.new_zeros(x.shape[0], x.shape[1], 1)
        y = self.conv(torch.cat([state, x], dim=2))
        return y[:, :, self.rate: self.rate * (x.shape[2] + 1)], x[:, :, -1:]


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int, kernel: int = 7) -> None:
        super().__init__()
        self.act1, self.act2 = Snake(channels), Snake(channels)
        self.conv = CausalConv(channels, channels, kernel, dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, state):
        y, state = self.conv(self.act1(x), state)
        return x + self.mix(self.act2(y)), state


class UpStage(nn.Module):
    def __init__(self, c_in: int, c_out: int, rate: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.act = Snake(c_in)
        self.up = CausalUpsample(c_in, c_out, rate)
        self.units = nn.ModuleList(ResidualUnit(c_out, d) for d in dilations)

    def forward(self, x: torch.Tensor, state: list | None):
        state = state or [None] * (1 + len(self.units))
        h, s0 = self.up(self.act(x), state[0])
        new = [s0]
        for unit, s in zip(self.units, state[1:]):
            h, s = unit(h, s)
            new.append(s)
        return h, new


class WaveDecoder(nn.Module):
    """Latent (B, T, latent_dim) -> waveform (B, T*hop): frame-rate ConvNeXt blocks, then causal upsampling."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.frames = Stack(cfg.latent_dim, cfg.decoder_dim, cfg.decoder_dim, cfg.decoder_blocks, cfg.expansion,
                            cfg.kernel)
        channels = (cfg.decoder_dim, *cfg.decoder_channels)
        self.stages = nn.ModuleList(UpStage(channels[i], channels[i + 1], r, d)
                                    for i, (r, d) in enumerate(zip(cfg.decoder_rates, cfg.decoder_dilations)))
        self.act = Snake(channels[-1])
        self.out = CausalConv(channels[-1], 1, cfg.kernel)

    def forward(self, latent: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        state = state or [None] * (len(self.stages) + 2)
        h, s_frames = self.frames(latent, state[0])
        h = h.transpose(1, 2)
        new = [s_frames]
        for stage, s in zip(self.stages, state[1:]):
            h, s = stage(h, s)
            new.append(s)
        y, s_out = self.out(self.act(h), state[-1])
        new.append(s_out)
        return y[:, 0], new


class AudioCodecNetwork(nn.Module):
    """Mono codec network: waveform (B, N) at cfg.sample_rate -> latent -> RVQ -> waveform."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.analysis = Analysis(cfg)
        self.encoder = Stack(2 * cfg.bins, cfg.encoder_dim, cfg.latent_dim, cfg.encoder_blocks, cfg.expansion,
                             cfg.kernel)
        self.quantizer = ResidualVQ(cfg.latent_dim, cfg.codebooks, cfg.codebook_size, cfg.codebook_dim)
        self.decoder = WaveDecoder(cfg)

    def encode(self, x: torch.Tensor, state: list | None = None,
               history: torch.Tensor | None = None) -> tuple[torch.Tensor, list]:
        """Latent (B, N/hop, latent_dim) of waveform x (B, N)."""
        return self.encoder(self.analysis(analysis_frames(x, self.cfg, history)), state)

    def decode(self, latent: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """Waveform (B, T*hop) from a latent (B, T, latent_dim): sample j is source sample j - decoder_lag."""
        return self.decoder(latent, state)

    def forward(self, x: torch.Tensor, n_q: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Training: the reconstruction of x aligned with x (its first ``decoder_lag`` samples are not
        reconstructed: they would come from frames before x), decoded with ``n_q[b]`` codebooks for item b,
        and the quantiser's losses."""
        latent, _ = self.encode(x)
        quantized, losses = self.quantizer(latent, n_q)
        y, _ = self.decode(quantized)
        lag = self.cfg.decoder_lag
        return F.pad(y[:, lag:], (0, lag)), losses


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
