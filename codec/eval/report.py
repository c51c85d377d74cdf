"""Writing an evaluation: JSON (everything), CSV (points), Markdown (BD tables), PNG (plots).

Each file carries the conditions it was made under: in full in
``results.json``, as a header in the CSV and Markdown files, as text chunks
and a caption in the PNGs. Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from codec.eval.bdtable import markdown
from codec.eval.curves import Curve
from codec.eval.plots import plot
from codec.io.atomic import write_bytes_atomic

PER_ITEM_FIELDS = ("codec", "item", "rate_point", "bytes", "bits", "bpp", "psnr_rgb", "ms_ssim_rgb",
                   "width", "height", "encode_seconds", "decode_seconds")
AVERAGE_FIELDS = ("codec", "rate_point", "items", "bpp", "psnr_rgb", "ms_ssim_rgb")


def conditions_digest(conditions: dict) -> dict[str, str]:
    """The few conditions that identify a result at a glance (the rest is in results.json)."""
    dataset = conditions["dataset"]
    package = conditions["software"]["package"]
    commit = (package.get("commit") or "unknown")[:12]
    if package.get("local_changes"):
        commit += " (with local changes)"
    return {
        "dataset": f"{dataset['name']} ({dataset['files']} files, sha256 {dataset['sha256'][:16]}...)",
        "bits": conditions["medium"]["bits_counted"],
        "output": conditions["medium"]["decoded_output"],
        "package": f"{package['name']} {package['version']}, commit {commit}",
        "date": conditions["software"]["date"],
        "full conditions": "results.json (codec versions, settings, colour conversion, machine)",
    }


def _csv(rows: list[dict], fields: tuple[str, ...], digest: dict[str, str]) -> bytes:
    text = io.StringIO()
    for key, value in digest.items():
        text.write(f"# {key}: {value}\n")
    writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _fields(base: tuple[str, ...], quality_keys: list[str]) -> tuple[str, ...]:
    """``base`` with the image metrics replaced by the medium's (the same columns for images)."""
    at = base.index("psnr_rgb")
    return base[:at] + tuple(quality_keys) + base[at + 2:]


def write_report(out: Path, results: dict, curves: list[Curve], anchors: list[str]) -> list[Path]:
    """Write every result file into ``out``; return their paths."""
    digest = conditions_digest(results["conditions"])
    labels = results["conditions"]["medium"]["quality_labels"]
    files = {
        "results.json": json.dumps(results, indent=1, sort_keys=False, allow_nan=True).encode(),
        "per_image.csv": _csv([p for items in results["per_item"].values() for points in items.values()
                               for p in points], _fields(PER_ITEM_FIELDS, list(labels)), digest),
        "average.csv": _csv([{"codec": name, **p} for name, points in results["average"].items()
                             for p in points], _fields(AVERAGE_FIELDS, list(labels)), digest),
    }
    by_name = {c.name: c for c in curves}
    md = ["# BD-rate and BD-PSNR", ""] + [f"- {k}: {v}" for k, v in digest.items()] + [""]
    extra_in_any: dict[str, None] = {}
    for anchor in anchors:
        table = results["bd"][anchor]
        extra = tuple(dict.fromkeys(k for entry in table.values() for k in entry if k not in ("psnr", "ms_ssim_db")))
        extra_in_any.update(dict.fromkeys(extra))
        md += [markdown(by_name[anchor], table, curves, extra)]
    extra = tuple(extra_in_any)
    md += ["BD-rate: Bjøntegaard, piecewise-cubic (PCHIP) interpolation of log-rate over the PSNR range "
           "both curves cover (recorded in results.json with each delta); BD-PSNR likewise over the "
           "common rate range; worst PSNR gap: the smallest PSNR difference to the anchor at equal rate over "
           "that common rate range (positive: better at every rate compared); MS-SSIM deltas on "
           "-10 log10(1 - MS-SSIM)." + (
               f" {', '.join(extra)}: BD-rate over the range of that metric both curves cover, and BD-<metric> = "
               "mean of test minus anchor at equal rate in the metric's units (for an error such as FLIP, "
               "negative = less error than the anchor)." if extra else ""), ""]
    files["bd.md"] = "\n".join(md).encode()
    for name, data in files.items():
        write_bytes_atomic(out / name, data, overwrite=True)
    written = [out / name for name in files]
    caption = f"{digest['dataset']}; {digest['package']}"
    for key, label in labels.items():
        stem = {"psnr_rgb": "rd_psnr", "ms_ssim_rgb": "rd_msssim"}.get(key, f"rd_{key}")
        path = out / f"{stem}.png"
        tmp = out / f".{stem}.partial.png"
        plot(curves, key, label, caption, tmp, metadata={k.title(): v for k, v in digest.items()})
        tmp.replace(path)
        written.append(path)
    return written
