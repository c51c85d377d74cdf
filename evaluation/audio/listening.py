"""Listening examples: one speech and one music excerpt decoded by our codec and by Opus at 3, 6 and 12 kbit/s.

    python evaluation/audio/listening.py OUT_DIR [--speech FILE] [--music FILE] [--seconds 4] [--model ID]

Writes FLAC files (16-bit, the source's rate and channels): the reference
excerpt, ours at each rate, Opus at each rate it reaches (libopus's floor
is 6 kbit/s: asked for 3, it codes at 6, and the file name says the rate it
really used), and prints their sizes and rates, with each one's SNR, mel
distance and level against the reference.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

import codec
from codec.eval.audio_metrics import mel_distance
from codec.eval.codecs.opus import OpusCodec
from codec.eval.media.audio import load

SHARED_AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "audio"  # beside the checkout
SPEECH = str(SHARED_AUDIO / "speech/pocketsphinx_testdata/sense_and_sensibility_01_austen_64kb-0930.wav")
MUSIC = str(SHARED_AUDIO / "music/sisec2011_mixes/dev1__bearlin-roads__snip_85_99__mix.wav")


def sanity(clip, samples: np.ndarray) -> str:
    """SNR and mel distance of a decoded excerpt against the reference (a check that it is the same sound
    at about the right level, since nobody can listen here)."""
    x, y = clip.samples.astype(np.float64), samples[: clip.samples.shape[0]].astype(np.float64)
    snr = 10 * np.log10(np.sum(x ** 2) / max(np.sum((x - y) ** 2), 1e-20))
    mel = np.mean([mel_distance(x[:, c], y[:, c], clip.sample_rate) for c in range(clip.channels)])
    level = 10 * np.log10(max(np.sum(y ** 2), 1e-20) / np.sum(x ** 2))
    return f"SNR {snr:.2f} dB, mel distance {mel:.3f}, level {level:+.1f} dB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--speech", default=SPEECH)
    parser.add_argument("--music", default=MUSIC)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--model")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    opus = OpusCodec()
    total = 0
    for kind, path in (("speech", args.speech), ("music", args.music)):
        clip = load(Path(path), seconds=args.seconds)
        outputs = {f"{kind}-reference": clip.samples}
        for kbps in (3, 6, 12):
            data = codec.encode(clip, media="audio", model=args.model, bitrate=kbps * 1000)
            real = 8 * len(data) / clip.seconds / 1000
            outputs[f"{kind}-ours-{kbps}k-{real:.1f}kbps"] = np.concatenate(codec.decode(data))
            with tempfile.TemporaryDirectory() as tmp:
                coded = Path(tmp) / "x.opus"
                opus.encode(clip, kbps, coded)
                dec = opus.decode(coded)
            real = 8 * dec.payload_bytes / clip.seconds / 1000
            outputs[f"{kind}-opus-{kbps}k-{real:.1f}kbps"] = dec.samples[: clip.samples.shape[0]]
        for name, samples in outputs.items():
            target = args.out / f"{name}.flac"
            sf.write(target, np.clip(samples, -1, 1), clip.sample_rate, subtype="PCM_16")
            total += target.stat().st_size
            print(f"{target.name}: {target.stat().st_size / 1000:.0f} kB, {sanity(clip, samples)}")
    print(f"total {total / 1000:.0f} kB")


if __name__ == "__main__":
    main()
