"""Audio quality metrics for ``codec eval audio``: ViSQOL, mel distance, SI-SDR, PESQ and STOI.

- ViSQOL v3 (Hines et al.; Google's reference model, here the pure-Python
  port ``visqol-python`` with the lattice mapper of the C++ default):
  speech mode at 16 kHz for 16 kHz items, audio mode at 48 kHz for the
  others (resampled with a polyphase filter, as the C++ tool asks); computed
  per channel and averaged. MOS-LQO, 1 to 5, higher is better.
- Mel distance: mean absolute difference of log10 mel power (80 HTK mel
  bands, 0 to Nyquist, Hann window of about 46 ms, hop 1/4 window, floor
  1e-5) per channel, averaged; lower is better.
- SI-SDR (Le Roux et al. 2019) in dB per channel, averaged; higher is better.
- PESQ (ITU-T P.862.2 wideband, ``pesq``) and STOI (``pystoi``) for 16 kHz
  items only; NaN for other rates.
"""

from __future__ import annotations

import functools
import math

import numpy as np

SPEECH_RATE = 16000
VISQOL_AUDIO_RATE = 48000


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB of one channel; +inf for a perfect copy, NaN for a silent reference."""
    ref = reference.astype(np.float64) - reference.mean()
    est = estimate.astype(np.float64) - estimate.mean()
    energy = float(ref @ ref)
    if energy == 0:
        return float("nan")
    target = (est @ ref) / energy * ref
    noise = est - target
    noise_energy = float(noise @ noise)
    return math.inf if noise_energy == 0 else 10 * math.log10(float(target @ target) / noise_energy)


@functools.lru_cache(maxsize=8)
def _mel_bank(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = hz(np.linspace(0, mel(rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.clip(np.minimum((freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)), 0, None)


def log_mel(x: np.ndarray, rate: int, n_mels: int = 80) -> np.ndarray:
    n_fft = 1 << max(8, round(math.log2(0.046 * rate)))
    hop = n_fft // 4
    if x.shape[0] < n_fft:
        x = np.pad(x, (0, n_fft - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)) ** 2
    return np.log10(np.maximum(power @ _mel_bank(rate, n_fft, n_mels).T, 1e-5))


def mel_distance(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    return float(np.mean(np.abs(log_mel(reference, rate) - log_mel(estimate, rate))))


@functools.lru_cache(maxsize=2)
def _visqol(mode: str):
    import logging

    from visqol import VisqolApi

    logging.getLogger("visqol").setLevel(logging.ERROR)
    api = VisqolApi()
    api.create(mode=mode)
    return api


def visqol(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """ViSQOL MOS-LQO of one channel (speech mode at 16 kHz, audio mode at 48 kHz otherwise)."""
    if rate == SPEECH_RATE:
        ref, est, mode, at = reference, estimate, "speech", rate
    else:
        from scipy.signal import resample_poly

        g = math.gcd(rate, VISQOL_AUDIO_RATE)
        up, down = VISQOL_AUDIO_RATE // g, rate // g
        ref = resample_poly(reference.astype(np.float64), up, down)
        est = resample_poly(estimate.astype(np.float64), up, down)
        mode, at = "audio", VISQOL_AUDIO_RATE
    return float(_visqol(mode).measure_from_arrays(ref.astype(np.float64), est.astype(np.float64), at).moslqo)


def pesq_wb(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    if rate != SPEECH_RATE:
        return float("nan")
    from pesq import PesqError, pesq

    try:
        return float(pesq(rate, reference.astype(np.float64), estimate.astype(np.float64), "wb"))
    except PesqError:   # no utterance found (silence): PESQ has no score
        return float("nan")


def stoi(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    if rate != SPEECH_RATE:
        return float("nan")
    from pystoi import stoi as _stoi

    return float(_stoi(reference.astype(np.float64), estimate.astype(np.float64), rate, extended=False))


def all_metrics(reference: np.ndarray, estimate: np.ndarray, rate: int) -> dict[str, float]:
    """Every metric, each averaged over channels; (samples, channels) arrays of equal shape."""
    channels = range(reference.shape[1])

    def mean(fn) -> float:
        values = [fn(reference[:, c], estimate[:, c]) for c in channels]
        return float(np.mean(values))

    return {
        "visqol": mean(lambda r, e: visqol(r, e, rate)),
        "mel_distance": mean(lambda r, e: mel_distance(r, e, rate)),
        "si_sdr": mean(si_sdr),
        "pesq_wb": mean(lambda r, e: pesq_wb(r, e, rate)),
        "stoi": mean(lambda r, e: stoi(r, e, rate)),
    }
