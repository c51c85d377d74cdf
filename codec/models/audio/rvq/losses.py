"""Training losses: multi-scale log-mel L1 (ours), multi-resolution STFT (auraloss) and waveform L1.

The mel term follows DAC's multi-scale mel loss in spirit: several window
lengths, each with its own mel resolution, so both transients and pitch are
penalised. auraloss supplies the multi-resolution STFT loss (spectral
convergence plus log-magnitude), a well-kept implementation of Yamamoto et
al. 2020. Magnitudes leave the phase free: a compressed complex-spectrum
loss and a waveform L1 keep what is predictable in time.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular HTK-mel filters, (n_mels, n_fft//2+1), each normalised to unit area (Slaney style)."""
    f_max = f_max or sample_rate / 2
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(f_min))), float(hz_to_mel(torch.tensor(f_max))),
                                     n_mels + 2, dtype=torch.float64))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / (centre - lower)
    down = (upper - freqs[None]) / (upper - centre)
    bank = torch.clamp(torch.minimum(up, down), min=0.0)
    bank = bank * (2.0 / (upper - lower))
    return bank.float()


def log_mel(x: torch.Tensor, sample_rate: int, n_fft: int, n_mels: int, hop: int | None = None,
            floor: float = 1e-10) -> torch.Tensor:
    """log10 mel power (B, n_mels, frames) of x (B, N), clamped below at ``floor``.

    The filters have unit area, so a band's value is a power per hertz: speech
    at -30 dBFS has 4-8 kHz bands near 1e-7. A floor of 1e-10 (DAC's 1e-5 on
    magnitudes) keeps them in the loss; the 1e-5 of the first two CPU stages
    clamped 60-90 % of such frames, and those stages lost 8 dB above 2 kHz.
    """
    hop = hop or n_fft // 4
    window = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x, n_fft, hop, window=window, return_complex=True, center=True).abs().square()
    mel = mel_filterbank(sample_rate, n_fft, n_mels).to(x.device) @ spec
    return torch.log10(mel.clamp_min(floor))


class MultiScaleMelLoss(nn.Module):
    def __init__(self, sample_rate: int, windows=(256, 512, 1024, 2048), mels=(20, 40, 80, 160),
                 floor: float = 1e-10) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.floor = floor
        self.scales = list(zip(windows, mels))

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(())
        for n_fft, n_mels in self.scales:
            total = total + F.l1_loss(log_mel(x_hat, self.sample_rate, n_fft, n_mels, floor=self.floor),
                                      log_mel(x, self.sample_rate, n_fft, n_mels, floor=self.floor))
        return total / len(self.scales)


COMPLEX_FFT = 1024


def compressed_spectrum_loss(predicted: torch.Tensor, target: torch.Tensor, power: float = 0.3
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared error of power-law compressed spectra (|X|^0.3 with the phase kept, and magnitudes alone).

    Unlike the magnitude losses it sees the phase, so it rewards a waveform
    that lines up with the input where the input is predictable (the
    compressed complex loss of speech enhancement, e.g. MP-SENet).
    """
    def compress(spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mag = spec.abs().clamp_min(1e-6)
        scaled = mag.pow(power)
        return spec * (scaled / mag), scaled

    p_c, p_m = compress(predicted)
    t_c, t_m = compress(target)
    return (p_c - t_c).abs().square().mean(), (p_m - t_m).square().mean()


class CodecLoss(nn.Module):
    """Weighted sum of the reconstruction terms and the quantiser's commitment/codebook terms.

    The phase-sensitive terms (waveform, complex spectrum) carry large weights on purpose: with the
    magnitude terms dominating, training settles on noise with the right spectral envelope (measured:
    SI-SDR stuck near -25 dB after 300 steps overfitting one clip); with these weights the same run
    reaches +17 dB and a lower mel distance too.
    """

    def __init__(self, sample_rate: int, mel: float = 10.0, stft: float = 1.0, waveform: float = 100.0,
                 commitment: float = 0.25, codebook: float = 1.0, complex_spectrum: float = 30.0,
                 magnitude: float = 2.0, mel_floor: float = 1e-10) -> None:
        super().__init__()
        import auraloss

        self.mel = MultiScaleMelLoss(sample_rate, floor=mel_floor)
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=[2048, 512, 128],
                                                          hop_sizes=[512, 128, 32],
                                                          win_lengths=[2048, 512, 128])
        self.weights = {"mel": mel, "stft": stft, "waveform": waveform, "commitment": commitment,
                        "codebook": codebook, "complex": complex_spectrum, "magnitude": magnitude}

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor, vq: dict) -> tuple[torch.Tensor, dict]:
        terms = {
            "mel": self.mel(x_hat, x),
            "stft": self.stft(x_hat[:, None], x[:, None]),
            "waveform": F.l1_loss(x_hat, x),
            "commitment": vq["commitment"],
            "codebook": vq["codebook"],
        }
        window = torch.hann_window(COMPLEX_FFT, device=x.device)
        spectra = [torch.stft(v, COMPLEX_FFT, COMPLEX_FFT // 4, window=window, return_complex=True)
                   for v in (x_hat, x)]
        terms["complex"], terms["magnitude"] = compressed_spectrum_loss(*spectra)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, {k: float(v.detach()) for k, v in terms.items()}
