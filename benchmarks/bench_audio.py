"""Real-time factors of the RVQ audio codec beside Opus (libopus through PyAV), in the same run.

    python benchmarks/bench_audio.py [--seconds 20] [--repeat 3] [--threads 1] [--model rvq-audio-small]

The real-time factor (RTF) is processing time / audio duration: below 1 is
faster than real time. Timed by the CPU time of the whole process (every
thread counted), best of ``--repeat``, codecs taking turns, because on a
shared machine CPU time is what a free machine would spend; wall-clock
figures are printed beside. A CPU-time RTF below 1 on ``--threads 1`` means
faster than real time on one free core, hence on two. Sources: a synthesised
stereo music-like signal at 44.1 kHz and a speech-like mono one at 16 kHz
(or ``--speech FILE`` / ``--music FILE``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def synth(seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    notes = sum(np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * k * t))
                for k, f in enumerate((196, 247, 294, 392, 523)))
    base = 0.08 * notes + 0.01 * rng.standard_normal(n)
    return np.stack([base * (1 - 0.15 * c) + 0.01 * rng.standard_normal(n) for c in range(channels)],
                    axis=1).astype(np.float32)


def load(path: str | None, seconds: float, rate: int, channels: int, seed: int):
    if path is None:
        return synth(seconds, rate, channels, seed), rate
    import soundfile as sf

    data, rate = sf.read(path, dtype="float32", always_2d=True, frames=int(seconds * sf.info(path).samplerate))
    return data, rate


def timed(fn, repeat: int) -> tuple[float, float, object]:
    best_cpu = best_wall = float("inf")
    out = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return best_cpu, best_wall, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None)
    parser.add_argument("--speech")
    parser.add_argument("--music")
    args = parser.parse_args()

    import torch

    import codec
    from codec.eval.codecs.opus import OpusCodec
    from codec.media.audio import AudioClip

    torch.set_num_threads(args.threads)
    cases = [("speech 16 kHz mono", *load(args.speech, args.seconds, 16000, 1, 1), "6k", 6),
             ("music 44.1 kHz stereo", *load(args.music, args.seconds, 44100, 2, 2), "12k", 12)]
    print("| source | codec | rate | encode RTF (CPU) | decode RTF (CPU) | encode RTF (wall) | decode RTF (wall) |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    opus = OpusCodec()
    for name, samples, rate, bitrate, kbps in cases:
        seconds = samples.shape[0] / rate
        clip = AudioClip(samples, rate)
        enc = timed(lambda: codec.encode(clip, media="audio", model=args.model, bitrate=bitrate,
                                         threads=args.threads), args.repeat)
        dec = timed(lambda: codec.decode(enc[2]), args.repeat)
        print(f"| {name} | ours ({args.model or 'default model'}) | {8 * len(enc[2]) / seconds / 1000:.1f} kbit/s | "
              f"{enc[0] / seconds:.3f} | {dec[0] / seconds:.3f} | {enc[1] / seconds:.3f} | {dec[1] / seconds:.3f} |")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "clip.opus"
            enc_o = timed(lambda: opus.encode(clip, kbps, path), args.repeat)
            dec_o = timed(lambda: opus.decode(path), args.repeat)
            size = path.stat().st_size
        print(f"| {name} | Opus (libopus) | {8 * size / seconds / 1000:.1f} kbit/s | {enc_o[0] / seconds:.3f} | "
              f"{dec_o[0] / seconds:.3f} | {enc_o[1] / seconds:.3f} | {dec_o[1] / seconds:.3f} |")
    print(f"\nthreads: {args.threads}; RTF = seconds of processing per second of audio (below 1: faster than "
          f"real time); Opus timings include PyAV's container work and, for 44.1 kHz, resampling to 48 kHz "
          f"and back.")


if __name__ == "__main__":
    main()
