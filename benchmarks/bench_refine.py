"""Encode time of an image model's presets beside its one-pass encode, in the same run.

    python benchmarks/bench_refine.py [IMAGE] [--quality 5] [--repeat 1] [--model hvae]

Encodes one image (default: kodim05 from ../shared/data when present, else
scikit-image's astronaut) with ``--preset fast``, ``medium`` and ``slow``
and prints wall time and CPU time (of this process, all threads), bpp and
RGB PSNR, with the ratios to ``fast``. On a shared machine the CPU-time ratio
is the steadier one; ``--threads 1`` makes it the single-core cost.

``--model`` picks the model (default: the default image model, the
hyperprior); ``--model hvae`` times the hierarchical VAE's latent search.

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
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--model", help="image model id or family (default: the default image model)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    name, x = load(args.image)
    codec.encode_image(x[:64, :64], quality=args.quality, model=args.model)  # load the model outside the timings
    rows, base = [], None
    for preset in ("fast", "medium", "slow"):
        wall = cpu = float("inf")
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            data = codec.encode_image(x, quality=args.quality, preset=preset, model=args.model)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        y = codec.decode_image(data).astype(np.float64)
        psnr = 10 * np.log10(255 ** 2 / ((y - x) ** 2).mean())
        base = base or (wall, cpu)
        rows.append((preset, wall, cpu, 8 * len(data) / (x.shape[0] * x.shape[1]), psnr))
    print(f"{name} {x.shape[1]}x{x.shape[0]}, -q {args.quality:g}, model {args.model or 'default'}\n")
    print("| preset | encode s (wall) | / fast | CPU s | / fast | bpp | PSNR dB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for preset, wall, cpu, bpp, psnr in rows:
        print(f"| {preset} | {wall:.2f} | {wall / base[0]:.1f}x | {cpu:.2f} | {cpu / base[1]:.1f}x | {bpp:.4f} | {psnr:.2f} |")


if __name__ == "__main__":
    main()
