"""The hierarchical VAE beside the hyperprior: decode speed, and the rate and quality of every prefix of groups.

    python benchmarks/bench_hvae.py [--image PATH] [--repeat 3] [--threads 2]
    python benchmarks/bench_hvae.py --prefixes FOLDER [--quality 4 6 8] [--weights FILE]

Speed: each model runs in its own process (peak memory = ru_maxrss), best
of ``--repeat`` encodes and decodes of one 768x512 image (a scikit-image
photo resized, or ``--image``) with ``--threads`` torch threads, the
hyperprior in the same run; the ratio column is against the hyperprior.
Target (read from the table, never a test): decode 768x512 in under 2 s on
2 CPU cores.

``--prefixes``: for every image of FOLDER (e.g. Kodak) and quality, the
file prefix that holds the first ``k`` groups (header, packet preamble and
segments ``0..k-1``) as bits per pixel and as a share of the whole file, and
the PSNR of ``codec decode --groups k``; averaged over the images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKER = r"""
import json, resource, sys, time
import numpy as np
from PIL import Image
spec = json.loads(sys.argv[1])
import torch
torch.set_num_threads(spec["threads"])
import codec
img = np.asarray(Image.open(spec["image"]).convert("RGB"))
img = np.asarray(Image.fromarray(img).resize((768, 512), Image.Resampling.LANCZOS))
model = spec["model"]
data = codec.encode(img, model=model, quality=spec["quality"])
out = codec.decode(data)
times_e, times_d = [], []
for _ in range(spec["repeat"]):
    t0 = time.perf_counter(); data = codec.encode(img, model=model, quality=spec["quality"])
    times_e.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); out = codec.decode(data); times_d.append(time.perf_counter() - t0)
mse = np.mean((out.astype(np.float64) - img.astype(np.float64)) ** 2)
print(json.dumps({"encode_s": min(times_e), "decode_s": min(times_d), "bpp": 8 * len(data) / (img.shape[0] * img.shape[1]),
                  "psnr": 10 * np.log10(255 ** 2 / mse),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def speed(image: str, repeat: int, threads: int, quality: int) -> None:
    rows = {}
    for model in ("hyperprior", "hvae"):
        spec = json.dumps({"image": image, "repeat": repeat, "threads": threads, "model": model, "quality": quality})
        done = subprocess.run([sys.executable, "-c", WORKER, spec], capture_output=True, text=True, check=True)
        rows[model] = json.loads(done.stdout.strip().splitlines()[-1])
    base = rows["hyperprior"]
    print(f"768x512, -q {quality}, {threads} torch threads, best of {repeat}\n")
    print("| model | bpp | PSNR dB | encode s | decode s | decode / hyperprior | peak MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for model, r in rows.items():
        print(f"| {model} | {r['bpp']:.3f} | {r['psnr']:.2f} | {r['encode_s']:.3f} | {r['decode_s']:.3f} | "
              f"{r['decode_s'] / base['decode_s']:.2f} | {r['peak_mb']:.0f} |")


def prefixes(folder: str, qualities: list[int], weights: str | None = None) -> None:
    from pathlib import Path

    import numpy as np
    from PIL import Image

    import codec
    from codec.container import parse_container
    from codec.media.image import image_extensions
    from codec.zoo import load_weights_file

    coding = {"weights": load_weights_file(weights)} if weights else {"model": "hvae"}
    decoding = {"weights": coding["weights"]} if weights else {}
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in image_extensions())
    print(f"{len(paths)} images of {folder}; prefix = header + packet preamble + segments 0..k-1\n")
    print("| -q | groups k | prefix bpp | share of file | PSNR dB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for q in qualities:
        table: dict[int, list[tuple[float, float, float]]] = {}
        for p in paths:
            img = np.asarray(Image.open(p).convert("RGB"))
            data = codec.encode(img, quality=q, **coding)
            f = parse_container(data)
            segments = f.packets[0].segments
            (end_offset,) = np.frombuffer(data[-16:-8], dtype="<u8")
            payload_end = int(end_offset) - 4   # the data packet's CRC precedes the end packet
            pixels = img.shape[0] * img.shape[1]
            for k in range(1, len(segments) + 1):
                prefix = payload_end - sum(len(s) for s in segments[k:])
                out = codec.decode(data, model_options={"groups": k}, **decoding)
                mse = np.mean((out.astype(np.float64) - img.astype(np.float64)) ** 2)
                table.setdefault(k, []).append((8 * prefix / pixels, prefix / len(data), 10 * np.log10(255 ** 2 / mse)))
        for k, rows in table.items():
            bpp, share, psnr = (float(np.mean(c)) for c in zip(*rows))
            print(f"| {q} | {k} | {bpp:.4f} | {100 * share:.1f} % | {psnr:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="source image (default: scikit-image's astronaut)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quality", type=int, nargs="+", default=[4])
    parser.add_argument("--prefixes", metavar="FOLDER", help="the prefix table on the images of FOLDER")
    parser.add_argument("--weights", metavar="FILE", help="--prefixes with this weights file (default: the shipped model)")
    args = parser.parse_args()
    if args.prefixes:
        prefixes(args.prefixes, args.quality, args.weights)
        return
    image = args.image
    if image is None:
        import tempfile

        from PIL import Image
        from skimage import data

        image = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
        Image.fromarray(data.astronaut()).save(image)
    speed(image, args.repeat, args.threads, args.quality[0])


if __name__ == "__main__":
    main()
