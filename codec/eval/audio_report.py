"""BD tables and plots for audio, whose rate is kbit/s and whose metrics are not all "higher is better".

The image report speaks of bits per pixel and PSNR; audio curves are
kbit/s against ViSQOL, mel distance (lower is better: negated for the
deltas), SI-SDR, PESQ and STOI. This module gives the audio medium the same
outputs (results.json, per-item and average CSV, bd.md, one PNG per metric)
with those axes, through the evaluation medium's ``report`` hook.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from codec.eval.bjontegaard import bd_quality, bd_rate, worst_quality_gap
from codec.eval.curves import Curve
from codec.eval.report import _csv, conditions_digest
from codec.errors import UsageError
from codec.io.atomic import write_bytes_atomic

RATE_KEY = "kbps"
#: metrics where smaller is better: their deltas are taken on the negated value
LOWER_IS_BETTER = frozenset({"mel_distance"})
QUALITY_KEYS = ("visqol", "mel_distance", "si_sdr", "pesq_wb", "stoi")
PER_ITEM_FIELDS = ("codec", "item", "rate_point", "bytes", "kbps", "file_kbps", *QUALITY_KEYS,
                   "seconds", "sample_rate", "channels", "encode_seconds", "decode_seconds")
AVERAGE_FIELDS = ("codec", "rate_point", "items", "kbps", *QUALITY_KEYS)


def _series(curve: Curve, key: str) -> list[float]:
    sign = -1.0 if key in LOWER_IS_BETTER else 1.0
    return [sign * p[key] for p in curve.points]


def _delta(anchor: Curve, test: Curve, key: str) -> dict:
    ar, tr = anchor.series(RATE_KEY), test.series(RATE_KEY)
    try:
        aq, tq = _series(anchor, key), _series(test, key)
        if not all(math.isfinite(v) for v in aq + tq):
            return {"error": f"{key} is not defined for every point"}
        rate = bd_rate(ar, aq, tr, tq)
        gain = bd_quality(ar, aq, tr, tq)
        worst = worst_quality_gap(ar, aq, tr, tq)
    except ValueError as exc:
        return {"error": str(exc)}
    except KeyError as exc:
        return {"error": f"no {exc.args[0]} in this curve"}
    sign = -1.0 if key in LOWER_IS_BETTER else 1.0
    low, high = sorted((sign * rate.low, sign * rate.high))
    return {"bd_rate_percent": 100.0 * rate.value, "quality_range": [low, high],
            "bd_quality": sign * gain.value, "kbps_range": [gain.low, gain.high],
            "worst_quality_gap": sign * worst.value, "worst_at_kbps": worst.low}


def bd(anchor_name: str, curves: list[Curve]) -> dict:
    """``{curve: {metric: delta}}`` against the curve named ``anchor_name`` (BD-rate in percent; BD-quality in
    the metric's own unit, positive = better for every metric, mel distance included)."""
    by_name = {c.name: c for c in curves}
    if anchor_name not in by_name:
        raise UsageError(f"anchor {anchor_name!r} is not a measured codec; curves: {', '.join(by_name)}")
    anchor = by_name[anchor_name]
    return {c.name: {k: _delta(anchor, c, k) for k in QUALITY_KEYS} for c in curves if c.name != anchor_name}


def markdown(anchor: Curve, table: dict, curves: list[Curve]) -> str:
    labels = {c.name: c.label for c in curves}
    lines = [f"BD-rate against **{anchor.label}** (negative = fewer bits than the anchor at equal quality; "
             f"n/a where the curves do not overlap in quality)", "",
             "| codec | " + " | ".join(f"BD-rate ({k})" for k in QUALITY_KEYS) + " |",
             "| --- |" + " ---: |" * len(QUALITY_KEYS)]
    for name, entry in table.items():
        cells = [f"{entry[k]['bd_rate_percent']:+.1f} %" if "bd_rate_percent" in entry[k] else "n/a"
                 for k in QUALITY_KEYS]
        lines.append(f"| {labels[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def points_table(curves: list[Curve]) -> str:
    """Every measured point: the scoreboard's raw material."""
    lines = ["| codec | rate point | kbit/s | ViSQOL | mel distance | SI-SDR (dB) | PESQ | STOI |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in curves:
        for p in c.points:
            lines.append(f"| {c.label} | {p['rate_point']} | {p['kbps']:.2f} | {p['visqol']:.3f} | "
                         f"{p['mel_distance']:.3f} | {p['si_sdr']:.2f} | {p['pesq_wb']:.3f} | {p['stoi']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(curves: list[Curve], key: str, label: str, caption: str, path: Path, metadata: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6), dpi=110)
    for curve in curves:
        if not curve.points or key not in curve.points[0]:
            continue
        ax.plot(curve.series(RATE_KEY), curve.series(key), "-", marker="o", markersize=4, label=curve.label)
    ax.set_xscale("log")
    ax.set_xlabel("kbit/s (ours: whole files; baselines: packet payloads), log scale")
    ax.set_ylabel(label)
    ax.set_title(caption, fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata=metadata)
    plt.close(fig)


def write(out: Path, results: dict, curves: list[Curve], anchors: list[str]) -> list[Path]:
    """Every result file of an audio evaluation, written atomically into ``out``."""
    digest = conditions_digest(results["conditions"])
    files = {
        "results.json": json.dumps(results, indent=1, allow_nan=True).encode(),
        "per_item.csv": _csv([p for items in results["per_item"].values() for points in items.values()
                              for p in points], PER_ITEM_FIELDS, digest),
        "average.csv": _csv([{"codec": name, **p} for name, points in results["average"].items()
                             for p in points], AVERAGE_FIELDS, digest),
    }
    by_name = {c.name: c for c in curves}
    md = ["# BD-rates and RD points (audio)", ""] + [f"- {k}: {v}" for k, v in digest.items()] + [""]
    for anchor in anchors:
        md.append(markdown(by_name[anchor], results["bd"][anchor], curves))
    md += ["BD-rate: Bjøntegaard, piecewise-cubic (PCHIP) interpolation of log-rate over the quality range "
           "both curves cover (recorded in results.json); mel distance is negated first so that every delta "
           "reads the same way.", "", "## Average points", "", points_table(curves)]
    files["bd.md"] = "\n".join(md).encode()
    for name, data in files.items():
        write_bytes_atomic(out / name, data, overwrite=True)
    written = [out / name for name in files]
    caption = f"{digest['dataset']}; {digest['package']}"
    labels = results["conditions"]["medium"]["quality_labels"]
    for key in QUALITY_KEYS:
        if not any(key in p and math.isfinite(p[key]) for c in curves for p in c.points):
            continue
        path = out / f"rd_{key}.png"
        tmp = out / f".rd_{key}.partial.png"
        plot(curves, key, labels[key], caption, tmp, metadata={k.title(): v for k, v in digest.items()})
        tmp.replace(path)
        written.append(path)
    return written
