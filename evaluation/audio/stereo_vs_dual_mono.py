"""Joint stereo against two independent mono streams at the same total rate, on the evaluation music.

    python evaluation/audio/stereo_vs_dual_mono.py FILE.wav [FILE.wav ...] [--rates 3,6,12,24] [--model ID] \
        [--seconds S]

Joint: one stereo file at the total rate (mid/side with bits shared by need).
Dual mono: the left and the right channel each coded alone at half the rate.
Both are measured on the stereo result (metrics per channel, averaged) and
counted as whole files (the dual case pays two headers: it is what a user
of two mono streams would pay). BD-rate of joint against dual mono follows.
"""

from __future__ import annotations

import argparse

import numpy as np

import codec
from codec.eval.audio_metrics import mel_distance, si_sdr, visqol
from codec.eval.bjontegaard import bd_rate
from codec.eval.media.audio import load
from codec.media.audio import AudioClip
from pathlib import Path


def measure(ref: np.ndarray, dec: np.ndarray, rate: int) -> dict:
    dec = dec[: ref.shape[0]]
    ch = range(ref.shape[1])
    return {"visqol": float(np.mean([visqol(ref[:, c], dec[:, c], rate) for c in ch])),
            "mel": float(np.mean([mel_distance(ref[:, c], dec[:, c], rate) for c in ch])),
            "si_sdr": float(np.mean([si_sdr(ref[:, c], dec[:, c]) for c in ch]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--rates", default="3,6,12,24")
    parser.add_argument("--model")
    parser.add_argument("--seconds", type=float, help="code only the first S seconds of each file")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    curves = {"joint": [], "dual": []}
    print("| item | mode | target kbit/s | kbit/s | ViSQOL | mel distance | SI-SDR (dB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.files:
        clip = load(Path(name), seconds=args.seconds)
        if clip.channels != 2:
            raise SystemExit(f"{name}: not stereo")
        x, rate = clip.samples, clip.sample_rate
        for r in rates:
            joint = codec.encode(clip, media="audio", model=args.model, bitrate=r * 1000)
            y = np.concatenate(codec.decode(joint))
            halves = [codec.encode(AudioClip(x[:, c:c + 1], rate), media="audio", model=args.model,
                                   bitrate=r * 500) for c in range(2)]
            z = np.concatenate([np.concatenate(codec.decode(h)) for h in halves], axis=1)
            for mode, size, dec in (("joint", len(joint), y), ("dual", sum(map(len, halves)), z)):
                kbps = 8 * size / clip.seconds / 1000
                m = measure(x, dec, rate)
                curves[mode].append((Path(name).name, r, kbps, m))
                print(f"| {Path(name).name} | {mode} | {r:g} | {kbps:.2f} | {m['visqol']:.3f} | {m['mel']:.3f} | "
                      f"{m['si_sdr']:.2f} |")
    print("\nAverage over items, and BD-rate of joint stereo against dual mono (negative: joint needs fewer bits)\n")
    print("| mode | " + " | ".join(f"{r:g}k: kbit/s, ViSQOL, mel" for r in rates) + " |")
    print("| --- |" + " --- |" * len(rates))
    avg = {}
    for mode, points in curves.items():
        rows = []
        for r in rates:
            sel = [p for p in points if p[1] == r]
            rows.append((np.mean([p[2] for p in sel]), np.mean([p[3]["visqol"] for p in sel]),
                         np.mean([p[3]["mel"] for p in sel]), np.mean([p[3]["si_sdr"] for p in sel])))
        avg[mode] = rows
        print(f"| {mode} | " + " | ".join(f"{a:.2f}, {v:.3f}, {m:.3f}" for a, v, m, _ in rows) + " |")
    for key, idx, sign in (("ViSQOL", 1, 1), ("mel distance", 2, -1), ("SI-SDR", 3, 1)):
        try:
            d = bd_rate([p[0] for p in avg["dual"]], [sign * p[idx] for p in avg["dual"]],
                        [p[0] for p in avg["joint"]], [sign * p[idx] for p in avg["joint"]])
            print(f"\nBD-rate on {key}: {100 * d.value:+.1f} % (over the {key} range both reach)")
        except ValueError as exc:
            print(f"\nBD-rate on {key}: n/a ({exc})")


if __name__ == "__main__":
    main()
