"""``codec models``: the installed model families and models, like ``ffmpeg -codecs``."""

from __future__ import annotations

import argparse
import json

from codec.cli import exitcodes

NAME = "models"
HELP = "list the installed models: id@revision, family, media, rate controls, digest, weights size"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--all", action="store_true", help="include older revisions (kept so old files decode)")


def run(args: argparse.Namespace) -> int:
    from codec.zoo import installed_models

    rows = [m.as_dict() for m in installed_models()]
    if not args.all:
        rows = [r for r in rows if r["current"]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return exitcodes.OK
    header = ("model", "family", "media", "rates", "presets", "exact", "weights", "digest")
    table = [header]
    for r in rows:
        rc = r["rate_control"]
        rates = f"-q 1..{rc['qualities']}" + (f", --{rc['target']}" if rc["target"] == "bpp" else
                                              ", -b RATE" if rc["target"] else "")
        weights = r["weights"]
        size = "-" if weights is None else f"{(weights['bytes'] or 0) / 1e6:.1f} MB"
        table.append((r["id"] + ("" if r["current"] else " (old)"), r["family"], r["media"], rates,
                      ",".join(rc["presets"]), r["exact"], size, r["digest"][:12]))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return exitcodes.OK
