"""Encode time of the hyperprior's presets beside its one-pass encode, in the same run.

    python benchmarks/bench_refine.py [IMAGE] [--quality 5] [--repeat 1]

Encodes one image (default: kodim05 from ../shared/data when present, else
scikit-image's astronaut) with ``--preset fast``, ``medium`` and ``slow``
and prints wall time, bpp and RGB PSNR with the ratio to ``fast``.

Targets (stated here, read from the table, never tested): ``medium`` at most
about 10x and ``slow`` at most about 60x the ``fast`` encode on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

KODIM05 = Path(__file__).resolve().parents[2] / "shared" / "data" / "images" / "kodak" / "kodim05.png"


def load(path: str | None) -> tuple[str, np.ndarray]:
    from PIL import Image

    if path or KODIM05.exists():
        p = Path(path) if path else KODIM05
        return p.name, np.asarray(Image.open(p).convert("RGB"))
    from skimage import data

    return "astronaut", data.astronaut()


def main() -> None:
    import codec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?")
    parser.add_argument("--quality", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many encodes per preset")
    args = parser.parse_args()
    name, x = load(args.image)
    codec.encode_image(x[:64, :64], quality=args.quality)  # load the model outside the timings
    rows, base = [], None
    for preset in ("fast", "medium", "slow"):
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            data = codec.encode_image(x, quality=args.quality, preset=preset)
            best = min(best, time.perf_counter() - start)
        y = codec.decode_image(data).astype(np.float64)
        psnr = 10 * np.log10(255 ** 2 / ((y - x) ** 2).mean())
        base = base or best
        rows.append((preset, best, 8 * len(data) / (x.shape[0] * x.shape[1]), psnr, best / base))
    print(f"{name} {x.shape[1]}x{x.shape[0]}, -q {args.quality:g}\n")
    print("| preset | encode s | bpp | PSNR dB | / fast |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for preset, seconds, bpp, psnr, ratio in rows:
        print(f"| {preset} | {seconds:.2f} | {bpp:.4f} | {psnr:.2f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
