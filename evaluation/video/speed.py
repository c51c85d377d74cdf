"""Encode and decode frames per second of every codec in a ``codec eval video`` run, per clip, as Markdown.

    python evaluation/video/speed.py RESULTS_DIR/results.json

The engine times each encode and decode (wall clock, one task at a time
with ``-j 1``). "all" sums frames and seconds over a codec's rate points on
each clip (a worker's first task also loads the model); "median" is the
median over rate points of each task's frames per second, which a model
load or a burst of other load on a shared machine moves less. The figures
describe the machine of that run as it was loaded then (results.json names
it). Ratios to x264 medium come from the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

PEER = "x264-medium-ld"


def speeds(results: dict) -> dict[str, dict[str, tuple[float, float, float, float]]]:
    """codec -> clip -> (encode fps all, decode fps all, encode fps median, decode fps median)."""
    out: dict[str, dict[str, tuple[float, float, float, float]]] = {}
    for codec, items in results["per_item"].items():
        for item, points in items.items():
            frames = sum(p["frames"] for p in points)
            encode = sum(p["encode_seconds"] for p in points)
            decode = sum(p["decode_seconds"] for p in points)
            median = [statistics.median(p["frames"] / p[key] for p in points)
                      for key in ("encode_seconds", "decode_seconds")]
            out.setdefault(codec, {})[item] = (frames / encode, frames / decode, *median)
    return out


def table(results: dict) -> str:
    fps = speeds(results)
    clips = sorted({clip for per in fps.values() for clip in per})
    size = {clip: next(f"{p['width']}x{p['height']}" for per in results["per_item"].values()
                       for c, pts in per.items() if c == clip for p in pts[:1]) for clip in clips}
    lines = ["| codec | clip | encode fps (all) | decode fps (all) | encode fps (median) | decode fps (median) "
             "| median encode / x264 medium | median decode / x264 medium |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for codec in fps:
        for clip in clips:
            if clip not in fps[codec]:
                continue
            enc, dec, enc_med, dec_med = fps[codec][clip]
            peer = fps.get(PEER, {}).get(clip)
            ratios = (f"{enc_med / peer[2]:.4f}", f"{dec_med / peer[3]:.4f}") if peer else ("n/a", "n/a")
            lines.append(f"| {codec} | {clip} ({size[clip]}) | {enc:.2f} | {dec:.2f} | {enc_med:.2f} | {dec_med:.2f} "
                         f"| {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    args = parser.parse_args()
    print(table(json.loads(args.results.read_text())))


if __name__ == "__main__":
    main()
