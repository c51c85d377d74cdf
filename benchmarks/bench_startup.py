"""How long the ``codec`` command takes to start, beside ``python -c pass``, in the same run.

    python benchmarks/bench_startup.py [--repeat 5] [--size 64]

Table 1 times whole commands, each a fresh process (best of ``--repeat``):
``python -c pass`` (the floor), ``codec --help``, ``codec info``, and
``codec decode`` and ``codec encode`` of a small image (``--size`` pixels
square), with ratios to ``python -c pass``. Table 2 splits one ``codec
decode`` into its stages, timed inside one fresh process: importing the
command line, importing torch, importing the model's code, reading and
hashing the weights file, building the model from it, the first decode and a
second one (what a long-lived process pays per image).

Targets (stated here, checked by reading the tables, never by a test):
``codec --help`` and ``codec info`` well under a second (they import neither
torch nor the evaluator; ``tests/test_newcomer.py`` checks the imports);
``codec decode`` of a small image starting to work within a second, which
table 2 shows is torch's import plus the model's load and first decode.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = r"""
import hashlib, json, sys, time
t = [time.perf_counter()]
from codec.cli.main import main
t.append(time.perf_counter())
import torch
t.append(time.perf_counter())
from codec.container import parse_container
from codec.zoo import entry_for_header
import codec.models.image.hyperprior.session
t.append(time.perf_counter())
data = open(sys.argv[1], "rb").read()
header = parse_container(data).header
family, entry = entry_for_header(header)
from codec.models import weights_file
weights = weights_file.read(family.weights_path(entry), entry.digest)
assert hashlib.sha256(weights).hexdigest() == entry.digest
t.append(time.perf_counter())
model = family.load(entry, weights)
t.append(time.perf_counter())
from codec.stream import Reader
for _ in range(2):
    with Reader(data, weights=model) as reader:
        next(iter(reader))
    t.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(t, t[1:])]))
"""
STAGE_NAMES = ("import codec.cli.main", "import torch", "import the model's code (coder, integer path)",
               "read (unpacked copy in the cache) and SHA-256 the weights",
               "build the model from the weights (safetensors, conversions)",
               "first decode (includes one-time set-up)", "second decode")


def best_time(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr.decode()}")
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command; the best is kept")
    parser.add_argument("--size", type=int, default=64, help="side of the small test image, in pixels")
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    script = shutil.which("codec", path=str(Path(sys.executable).parent)) or shutil.which("codec")
    cli = [script] if script else [sys.executable, "-m", "codec.cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(folder / "s.png")
        subprocess.run(cli + ["encode", str(folder / "s.png"), "-o", str(folder / "s.nmc"), "-q", "4"], check=True,
                       capture_output=True)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("codec --help", cli + ["--help"]),
            ("codec info FILE", cli + ["info", str(folder / "s.nmc")]),
            (f"codec decode ({args.size}x{args.size})", cli + ["decode", str(folder / "s.nmc"), "-o",
                                                             str(folder / "d.png"), "-y"]),
            (f"codec encode ({args.size}x{args.size})", cli + ["encode", str(folder / "s.png"), "-o",
                                                             str(folder / "e.nmc"), "-y"]),
        ]
        times = {name: best_time(argv, args.repeat) for name, argv in rows}
        stages = json.loads(subprocess.run([sys.executable, "-c", STAGES, str(folder / "s.nmc")], check=True,
                                           capture_output=True, text=True).stdout.strip().splitlines()[-1])
    floor = times["python -c pass"]
    print(f"command: {' '.join(Path(c).name for c in cli)}; best of {args.repeat} runs")
    print()
    print("| command | seconds | / python -c pass |")
    print("| --- | ---: | ---: |")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.3f} | {seconds / floor:.1f}x |")
    print()
    print(f"Stages of one decode of a {args.size}x{args.size} image, in one fresh process:")
    print()
    print("| stage | seconds | share |")
    print("| --- | ---: | ---: |")
    total = sum(stages[:-1])
    for name, seconds in zip(STAGE_NAMES, stages):
        share = f"{100 * seconds / total:.0f} %" if name != "second decode" else "(not in the total)"
        print(f"| {name} | {seconds:.3f} | {share} |")
    print(f"| total to the first decoded image | {total:.3f} | 100 % |")


if __name__ == "__main__":
    main()
