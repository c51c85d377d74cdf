"""Overfitted image family: encode cost per preset and decode speed, beside x265 intra in the same run.

    python benchmarks/bench_overfit.py [--image PATH] [--threads 1 2] [--steps 20] [--encode PRESET ...]
                                       [--device cpu|cuda]
    python benchmarks/bench_overfit.py --eval DATASET [--preset fast,medium] [--rate-points 2,4,6,8] [-j 2]

Encoding an overfitted image is fitting it, so its cost is (steps of the
preset) x (time of one step) plus a short quantization search. The table
times ``--steps`` fitting steps on the image (768x512 by default: Kodak's
size, scikit-image's astronaut resized) per thread count and projects each
preset's fit time from its step count (wall time here, and the process's CPU
time per step, the better estimate of an idle core on a shared machine);
``--encode PRESET`` also runs whole encodes (fit, quantization search,
coding) and times them. Decoding (the integer latent decoding in C++, then
the float upsampler and synthesis) of a fast encode is timed as the best of
five. The peer is x265 intra 4:4:4 (preset medium, QP 32, through PyAV) on
the same image: ratios are against it, measured in the same run, because the
machines here are shared and noisy.

``--eval DATASET --rate-points 2,4,6,8`` runs the evaluator of ``codec eval
image`` (same engine, cache, BD tables and result files) on the overfitted
codec at a subset of its -q levels beside the hyperprior, JPEG and x265 intra
in the same run: ``codec eval`` itself runs all eight levels, which at
minutes per fit is more than a shared 2-core machine allows. ``--crop WxH``
evaluates centre crops of the images instead (written as PNG under --out).

Targets (read from the table, never asserted by a test): ``--preset medium``
encodes a 768x512 image in 10 minutes or less on 2 CPU cores; decoding a
768x512 image takes under 0.5 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def load_image(path: str | None) -> np.ndarray:
    from PIL import Image

    if path:
        return np.asarray(Image.open(path).convert("RGB"))
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((768, 512), Image.Resampling.LANCZOS))


def x265_times(rgb: np.ndarray) -> tuple[float, float, int]:
    """(encode s, decode s, bytes) of x265 intra 4:4:4 at QP 32, best of three."""
    from codec.eval.codecs.x265 import X265

    codec = X265()
    enc, dec = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.hevc"
        for _ in range(3):
            t = time.perf_counter()
            codec.encode(rgb, 32, path)
            enc.append(time.perf_counter() - t)
            t = time.perf_counter()
            codec.decode(path)
            dec.append(time.perf_counter() - t)
        size = path.stat().st_size
    return min(enc), min(dec), size


def step_time(rgb: np.ndarray, steps: int, device: str) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per fitting step, after two warm-up steps.

    On a shared machine the CPU seconds of one thread are the better estimate
    of what a step costs on an idle core; the wall time is what it cost here.
    """
    import torch

    from codec.models.image.overfit.architecture import Architecture
    from codec.models.image.overfit.fit import Fitter, Schedule

    fitter = Fitter(rgb, 1e-3, Architecture(), Schedule(steps + 2, 0), device=device)
    nets = list(fitter.decoder.parameters())
    optimizer = torch.optim.Adam([{"params": nets}, {"params": fitter.latents}], lr=1e-2)
    for i in range(steps + 2):
        if i == 2:
            if device != "cpu":
                torch.cuda.synchronize()
            start, cpu = time.perf_counter(), time.process_time()
        fitter.step(optimizer, nets, fitter.noisy_grids(0.3, 0.2))
    if device != "cpu":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


def centre_crops(dataset: str, out: str, size: str) -> str:
    """Centre crops ``WxH`` of the dataset's images, written as PNG to a folder under ``out`` (its path)."""
    from PIL import Image

    width, height = (int(v) for v in size.split("x"))
    folder = Path(out) / f"{Path(dataset).resolve().name}-crop{width}x{height}"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(dataset).glob("*.png")):
        image = Image.open(path).convert("RGB")
        left, top = (image.width - width) // 2, (image.height - height) // 2
        image.crop((left, top, left + width, top + height)).save(folder / path.name)
    return str(folder)


def evaluate_subset(dataset: str, out: str, presets: str, rate_points: list[int], peers: list[str],
                    jobs: int, crop: str | None = None) -> None:
    """``codec eval image`` with the overfitted codec restricted to ``rate_points`` (see the module docstring)."""
    import shlex
    import sys

    from codec.eval.codecs import select
    from codec.eval.run import Request, run_evaluation

    if crop:
        dataset = centre_crops(dataset, out, crop)

    ours = ["nmc-overfit-coolchic-small" + ("" if p == "fast" else f":{p}") for p in presets.split(",")]
    codecs = select([*ours, *peers], medium="image")
    for c in codecs[:len(ours)]:
        c.rate_points = tuple(rate_points)
    request = Request(medium="image", dataset=Path(dataset), codecs=codecs, out=Path(out), jobs=jobs,
                      anchors=tuple(a for a in ("x265-444", "nmc-hyperprior-vr-small") if a in peers) +
                      tuple(ours[:1] if len(ours) > 1 else ()),
                      progress=sys.stderr.isatty(), command=shlex.join(["python", *sys.argv]))
    results, _ = run_evaluation(request)
    print((Path(out) / "bd.md").read_text())
    for name, records in ((n, r) for n, r in results["per_item"].items() if n.startswith("nmc-")):
        for item, points in records.items():
            times = ", ".join(f"q{p['rate_point']} {p['encode_seconds']:.1f}/{p['decode_seconds']:.2f}"
                              for p in sorted(points, key=lambda p: p["rate_point"]))
            print(f"{name} {item}: encode/decode s {times}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", metavar="DATASET", help="run the evaluator on a folder of images instead")
    parser.add_argument("--out", default="runs/overfit/eval", help="results folder of --eval")
    parser.add_argument("--preset", default="fast", help="presets of the overfitted codec in --eval, comma-separated")
    parser.add_argument("--rate-points", default="2,4,6,8", help="-q levels of the overfitted codec in --eval")
    parser.add_argument("--peers", default="nmc-hyperprior-vr-small,jpeg-420,x265-444",
                        help="codecs measured beside it in --eval")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel encodes in --eval")
    parser.add_argument("--crop", metavar="WxH", help="--eval on centre crops of this size of the images")
    parser.add_argument("--image")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--encode", nargs="*", default=[], metavar="PRESET", help="also time whole encodes")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.eval:
        evaluate_subset(args.eval, args.out, args.preset, [int(q) for q in args.rate_points.split(",")],
                        args.peers.split(","), args.jobs, args.crop)
        return

    import torch

    import codec
    from codec.models.image.overfit.fit import PRESETS

    rgb = load_image(args.image)
    h, w = rgb.shape[:2]
    mpix = h * w / 1e6
    x_enc, x_dec, x_bytes = x265_times(rgb)
    print(f"image {w}x{h} ({mpix:.3f} MP); x265 intra 4:4:4 QP 32: encode {x_enc:.3f} s, decode {x_dec:.3f} s, "
          f"{8 * x_bytes / (h * w):.3f} bpp\n")
    data = codec.encode(rgb, model="overfit", quality=4, preset="fast", time_limit=30)   # a file to decode
    print("| threads | our decode s | x265 decode s | ratio |\n| ---: | ---: | ---: | ---: |")
    codec.decode(data)   # load the model and build its tables once
    for threads in args.threads:
        best = min(_timed(lambda: codec.decode(data, threads=threads, device=args.device)) for _ in range(5))
        print(f"| {threads} | {best:.3f} | {x_dec:.3f} | {best / x_dec:.1f}x |")

    print("\n| threads | device | s / step (wall) | CPU s / step | " +
          " | ".join(f"{p} fit s ({s.iterations + s.final_iterations} steps)" for p, s in PRESETS.items()) +
          " | medium fit s per MP |")
    print("| ---: | --- | ---: | ---: | " + " | ".join("---:" for _ in PRESETS) + " | ---: |")
    for threads in args.threads:
        torch.set_num_threads(threads)
        per_step, cpu = step_time(rgb, args.steps, args.device)
        cells = [f"{per_step * (s.iterations + s.final_iterations):.0f}" for s in PRESETS.values()]
        medium = PRESETS["medium"]
        per_mp = per_step * (medium.iterations + medium.final_iterations) / mpix
        print(f"| {threads} | {args.device} | {per_step:.3f} | {cpu:.3f} | " + " | ".join(cells) +
              f" | {per_mp:.0f} |")

    for preset in args.encode:
        torch.set_num_threads(max(args.threads))
        t = time.perf_counter()
        data = codec.encode(rgb, model="overfit", quality=4, preset=preset, threads=max(args.threads),
                            device=args.device)
        seconds = time.perf_counter() - t
        print(f"\nwhole encode, preset {preset}, -q 4, {max(args.threads)} threads: {seconds:.0f} s "
              f"({seconds / x_enc:.0f}x x265), {8 * len(data) / (h * w):.3f} bpp")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
