"""Audio: ViSQOL, mel distance and SI-SDR (PESQ and STOI for 16 kHz speech) against kbit/s.

An item is an :class:`~codec.media.audio.AudioClip` read from a lossless file
(optionally an excerpt: ``--start`` / ``--seconds``). Our files are counted
whole; a baseline's decoder reports the bytes of its packets' payloads too,
and curves use that payload rate (smaller than the file: it favours the
baselines), with the whole-file rate recorded beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import BadInputError, UsageError
from codec.eval import audio_report
from codec.eval.media.base import Medium
from codec.models.base import Option


@dataclass(frozen=True)
class BaselineDecode:
    """What a baseline's ``decode`` returns: the samples and the bytes of its packets' payloads."""

    samples: np.ndarray
    payload_bytes: int


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"expected a non-negative number of seconds, got {text!r}")
    return value


def load(path: Path, start: float | None = None, seconds: float | None = None, **options):
    """The whole file (or an excerpt) as float32 (samples, channels); lossless sources only, so that what is
    measured is what was on disk."""
    import soundfile as sf

    from codec.media.audio import AudioClip

    try:
        info = sf.info(str(path))
        if info.format not in ("WAV", "FLAC", "AIFF", "WAVEX", "RF64", "W64"):
            raise BadInputError(f"not a lossless audio file ({info.format})")
        first = int(round((start or 0.0) * info.samplerate))
        frames = -1 if seconds is None else int(round(seconds * info.samplerate))
        data, rate = sf.read(str(path), start=first, frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise BadInputError(f"cannot read audio: {str(exc).replace(str(path), path.name)}") from None
    if data.shape[0] == 0:
        raise BadInputError("no samples in the requested span")
    return AudioClip(np.ascontiguousarray(data), int(rate), path.name)


def decoded_samples(reference, decoded) -> np.ndarray:
    """The decoded signal as (samples, channels), cut or zero-padded to the reference's length."""
    if isinstance(decoded, BaselineDecode):
        decoded = decoded.samples
    if isinstance(decoded, list):
        decoded = np.concatenate(decoded) if decoded else np.zeros((0, reference.channels), np.float32)
    decoded = np.asarray(decoded, dtype=np.float32)
    if decoded.ndim != 2 or decoded.shape[1] != reference.channels:
        raise ValueError(f"decoded audio is {decoded.shape}, expected (n, {reference.channels})")
    n = reference.samples.shape[0]
    if decoded.shape[0] < n:
        decoded = np.pad(decoded, ((0, n - decoded.shape[0]), (0, 0)))
    return decoded[:n]


def measure(reference, decoded) -> dict[str, float]:
    from codec.eval.audio_metrics import all_metrics

    out = all_metrics(reference.samples, decoded_samples(reference, decoded), reference.sample_rate)
    if isinstance(decoded, BaselineDecode):
        out["kbps"] = 8 * decoded.payload_bytes / reference.seconds / 1000
    return out


def rate(size_bytes: int, reference) -> dict[str, float]:
    kbps = 8 * size_bytes / reference.seconds / 1000
    return {"bits": 8 * size_bytes, "kbps": kbps, "file_kbps": kbps}


MEDIUM = AUDIO = Medium(
    name="audio",
    suffixes=frozenset({".wav", ".flac"}),
    load=load,
    measure=measure,
    rate=rate,
    rate_key="kbps",
    rate_label="kbit/s",
    quality_keys=("visqol", "mel_distance", "si_sdr", "pesq_wb", "stoi"),
    quality_labels={"visqol": "ViSQOL MOS-LQO", "mel_distance": "mel distance (lower is better)",
                    "si_sdr": "SI-SDR (dB)", "pesq_wb": "PESQ (wideband)", "stoi": "STOI"},
    conditions={
        "decoded_output": "float32 samples at the source rate and channel count, the codec's own decoder "
                          "(baselines: FFmpeg's decoders through PyAV, resampled back to the source rate "
                          "where the codec needs another), cut or zero-padded to the reference length",
        "bits_counted": "ours: 8 x the size of the whole .nmc file; baselines: 8 x the sum of their packets' "
                        "payloads (kbps, used for curves and BD) and 8 x the whole file (file_kbps, recorded); "
                        "kbit/s = bits / duration / 1000",
        "metrics": {
            "visqol": "ViSQOL v3 MOS-LQO (visqol-python, lattice mapper): speech mode for 16 kHz items, audio "
                      "mode at 48 kHz (polyphase resampling) otherwise; per channel, averaged",
            "mel_distance": "mean |log10 mel power difference|, 80 HTK mel bands, ~46 ms Hann window, hop 1/4, "
                            "floor 1e-5; per channel, averaged (lower is better)",
            "si_sdr": "scale-invariant SDR (dB), per channel, averaged",
            "pesq_wb": "ITU-T P.862.2 wideband PESQ (pesq package), 16 kHz items only, else NaN",
            "stoi": "STOI (pystoi), 16 kHz items only, else NaN",
        },
        "aggregation": "dataset average at each rate point of kbps and of every metric",
        "source_audio": "lossless WAV/FLAC read as float32; an excerpt when --start/--seconds are given",
    },
    item_facts=lambda reference: {"seconds": reference.seconds, "sample_rate": reference.sample_rate,
                                  "channels": reference.channels},
    options=(
        Option(("--start",), "start", "audio: excerpt start in seconds (every item)", type=_seconds, metavar="T"),
        Option(("--seconds",), "seconds", "audio: excerpt length in seconds (every item)", type=_seconds,
               metavar="S"),
    ),
    report=audio_report,
)
