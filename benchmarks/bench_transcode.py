"""Batch transcoding throughput: local engine at -j 1 and -j 2, and Ray on this machine, against a plain loop.

A folder of 768x512 photos is encoded by each engine into a fresh output
folder. The baseline is the least a batch tool can cost: a Python loop
calling ``codec.encode_image`` and writing the bytes. Overhead is the
engine's time over the ideal (loop time divided by the parallelism), so it
counts worker start-up, model loading in workers, verification before the
rename, and scheduling. Ray's cluster start-up is timed apart, as a cluster
would normally be running already.

    python benchmarks/bench_transcode.py [--files 8]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from codec.api import encode_image
from codec.batch import JobSpec, run_job


def make_folder(folder: Path, n: int) -> None:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field()]
    folder.mkdir(parents=True)
    for i in range(n):
        photo = Image.fromarray(photos[i % len(photos)]).resize((768, 512), Image.Resampling.LANCZOS)
        photo = np.asarray(photo)[:, ::-1] if i // len(photos) % 2 else np.asarray(photo)  # no two files alike
        Image.fromarray(np.ascontiguousarray(photo)).save(folder / f"photo{i:03d}.png")


def plain_loop(src: Path, out: Path) -> float:
    out.mkdir()
    start = time.perf_counter()
    for path in sorted(src.glob("*.png")):
        (out / path.with_suffix(".nmc").name).write_bytes(encode_image(path))
    return time.perf_counter() - start


def engine(src: Path, out: Path, name: str, workers: int) -> float:
    start = time.perf_counter()
    summary = run_job(JobSpec(src, out, workers=workers, engine=name))
    elapsed = time.perf_counter() - start
    assert summary.done == summary.total and not summary.failed, summary
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        src = work / "in"
        make_folder(src, args.files)
        encode_image(next(src.glob("*.png")))  # load the model and warm its kernels: the loop pays no start-up
        loop = min(plain_loop(src, work / "loop"), plain_loop(src, work / "loop2"))  # best of two: noisy host
        rows = [("plain loop (Python API)", 1, loop)]
        rows.append(("local -j 1", 1, engine(src, work / "j1", "local", 1)))
        rows.append(("local -j 2", 2, engine(src, work / "j2", "local", 2)))
        ray_start = None
        if not args.no_ray:
            try:
                import ray
            except ImportError:
                print("Ray is not installed: skipping its row (pip install 'neural-media-codec[ray]')")
            else:
                t = time.perf_counter()
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                ray_start = time.perf_counter() - t
                try:
                    rows.append(("ray, 2 CPUs, 1 machine", 2, engine(src, work / "ray", "ray", 2)))
                finally:
                    ray.shutdown()
        for name in ("j1", "j2", "ray"):
            if (work / name).exists():
                same = all((work / name / p.name).read_bytes() == p.read_bytes() for p in (work / "loop").iterdir())
                assert same, f"{name} outputs differ from the plain loop's"
        base = rows[0][2]
        print(f"{args.files} images of 768x512, encode at the default quality; outputs byte-identical to the loop's")
        print(f"{'engine':26} {'workers':>7} {'seconds':>8} {'files/s':>8} {'speed-up':>8} {'overhead':>9}")
        for name, workers, seconds in rows:
            overhead = seconds / (base / workers) - 1
            print(f"{name:26} {workers:7d} {seconds:8.2f} {args.files / seconds:8.2f} "
                  f"{base / seconds:7.2f}x {overhead:+8.0%}")
        if ray_start is not None:
            print(f"(Ray start-up, not in the table: {ray_start:.1f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
