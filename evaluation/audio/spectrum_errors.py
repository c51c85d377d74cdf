"""Where decoded speech differs from its source: band levels, harmonic structure, magnitude against phase.

    python evaluation/audio/spectrum_errors.py runs/audio/evalset/speech [--model rvq-audio-small] [--quality 4]

ViSQOL can score a codec near its floor while the mel distance calls it good;
this says why. For each file, coded and decoded at one level, it prints:

- the level error (dB) in five bands, over the frames within 30 dB of the
  loudest (a band too quiet shows as a negative number);
- the harmonic structure, over the frames within 25 dB of the loudest and
  below 4 kHz: the error in the source's quietest quarter of bins (the
  valleys between harmonics; positive = filled in) and in its loudest tenth
  (the peaks);
- tonal lines: how far the long-term spectrum (4096-point frames) stands
  above its local median at the multiples of ``--comb`` Hz (300 Hz is the
  sample rate of the rvq decoder's first upsampling stage, 75 frames/s x 4),
  for the source and the decoded file;
- ViSQOL of the decoded file, and of two hybrids made from 512-point STFTs:
  the source's magnitudes with the decoded phases, and the decoded magnitudes
  with the source's phases. The lower hybrid names what ViSQOL penalises.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.ndimage import median_filter
from scipy.signal import istft, stft

import codec
from codec.eval.audio_metrics import visqol

BANDS = ((0, 500), (500, 1000), (1000, 2000), (2000, 4000), (4000, 8000))
FFT = 512


def spectra(x: np.ndarray, y: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frequencies and the FFT-point STFTs of the source and the decoded file, shared by every measure."""
    freqs, _, sx = stft(x, rate, nperseg=FFT)
    _, _, sy = stft(y, rate, nperseg=FFT)
    return freqs, sx, sy


def band_errors(freqs: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    px, py = np.abs(sx) ** 2, np.abs(sy) ** 2
    frame_db = 10 * np.log10(px.sum(0) + 1e-12)
    loud = frame_db > frame_db.max() - 30
    out = []
    for lo, hi in BANDS:
        rows = (freqs >= lo) & (freqs < hi)
        ex = 10 * np.log10(px[rows][:, loud].mean(0) + 1e-12)
        ey = 10 * np.log10(py[rows][:, loud].mean(0) + 1e-12)
        out.append(float(np.mean(ey - ex)))
    return np.array(out)


def harmonic_errors(freqs: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> tuple[float, float]:
    dx, dy = (10 * np.log10(np.abs(s) ** 2 + 1e-12) for s in (sx, sy))
    frame_db = dx.max(0)
    low = freqs < 4000
    valleys, peaks = [], []
    for t in np.flatnonzero(frame_db > frame_db.max() - 25):
        column, error = dx[low, t], dy[low, t] - dx[low, t]
        valleys.append(error[column <= np.percentile(column, 25)].mean())
        peaks.append(error[column >= np.percentile(column, 90)].mean())
    return float(np.mean(valleys)), float(np.mean(peaks))


def comb_lines(x: np.ndarray, rate: int, base: float, n: int = 4096) -> float:
    """Mean height (dB) of the long-term spectrum above its 31-bin running median at multiples of ``base``."""
    frames = [np.abs(np.fft.rfft(x[i:i + n] * np.hanning(n))) ** 2 for i in range(0, len(x) - n, n // 4)]
    power = 10 * np.log10(np.mean(frames, axis=0) + 1e-12)
    above = power - median_filter(power, 31)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    return float(np.mean([above[np.argmin(np.abs(freqs - f))] for f in np.arange(base, rate / 2, base)]))


def hybrids(sx: np.ndarray, sy: np.ndarray, rate: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(source magnitudes with decoded phases, decoded magnitudes with source phases)."""
    a = istft(np.abs(sx) * np.exp(1j * np.angle(sy)), rate, nperseg=FFT)[1][:length]
    b = istft(np.abs(sy) * np.exp(1j * np.angle(sx)), rate, nperseg=FFT)[1][:length]
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="mono speech files (16 kHz for ViSQOL's speech mode)")
    parser.add_argument("--model", default=None, help="model id (default: the current audio model)")
    parser.add_argument("--quality", type=float, default=4)
    parser.add_argument("--comb", type=float, default=300.0, help="base frequency (Hz) of the tonal lines to measure")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    print(f"model {args.model or 'default'}, -q {args.quality:g}\n")
    print("| file | band error dB: " + ", ".join(f"{lo / 1000:g}-{hi / 1000:g} kHz" for lo, hi in BANDS)
          + f" | valleys dB | peaks dB | {args.comb:g} Hz lines dB: source, decoded | ViSQOL"
          + " | source magnitude + decoded phase | decoded magnitude + source phase |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for path in files:
        x, rate = sf.read(path, dtype="float64", always_2d=True)
        x = x[:, 0]
        data = codec.encode(str(path), None, media="audio", model=args.model, quality=args.quality)
        y = np.concatenate(codec.decode(data))[: len(x), 0].astype(np.float64)
        freqs, sx, sy = spectra(x, y, rate)
        bands = band_errors(freqs, sx, sy)
        valley, peak = harmonic_errors(freqs, sx, sy)
        a, b = hybrids(sx, sy, rate, len(x))
        lines = f"{comb_lines(x, rate, args.comb):+.1f}, {comb_lines(y, rate, args.comb):+.1f}"
        print(f"| {path.name} | {', '.join(f'{v:+.1f}' for v in bands)} | {valley:+.1f} | {peak:+.1f} | {lines} | "
              f"{visqol(x, y, rate):.2f} | {visqol(x, a, rate):.2f} | {visqol(x, b, rate):.2f} |", flush=True)


if __name__ == "__main__":
    main()
