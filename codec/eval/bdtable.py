"""Bjøntegaard deltas of every curve against each chosen anchor, with their ranges."""

from __future__ import annotations

import math

from codec.errors import UsageError
from codec.eval.bjontegaard import bd_quality, bd_rate, worst_quality_gap
from codec.eval.curves import Curve


def msssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, -10 log10(1 - MS-SSIM), where BD deltas are usually taken."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def _delta(anchor: Curve, test: Curve, quality) -> dict:
    """BD-rate (percent) and BD-quality of ``test`` against ``anchor``, or the reason there are none."""
    ar, tr = anchor.series("bpp"), test.series("bpp")
    try:
        aq, tq = quality(anchor), quality(test)
        rate = bd_rate(ar, aq, tr, tq)
        gain = bd_quality(ar, aq, tr, tq)
        worst = worst_quality_gap(ar, aq, tr, tq)
    except ValueError as exc:
        return {"error": str(exc)}
    except KeyError as exc:
        return {"error": f"no {exc.args[0]} in this curve"}
    return {"bd_rate_percent": 100.0 * rate.value, "quality_range": [rate.low, rate.high],
            "bd_quality": gain.value, "bpp_range": [gain.low, gain.high],
            "worst_quality_gap": worst.value, "worst_at_bpp": worst.low}


def bd_against(anchor_name: str, curves: list[Curve], psnr_key: str = "psnr_rgb",
               ms_ssim_key: str | None = "ms_ssim_rgb") -> dict:
    """``{curve name: {"psnr": ..., "ms_ssim_db": ...}}`` against the curve called ``anchor_name``.

    ``psnr_key`` and ``ms_ssim_key`` name the medium's metrics (RGB for images, YUV and luma for video).
    """
    by_name = {c.name: c for c in curves}
    if anchor_name not in by_name:
        raise UsageError(f"anchor {anchor_name!r} is neither a measured codec nor a published curve; "
                         f"curves: {', '.join(by_name)}")
    anchor = by_name[anchor_name]
    table = {}
    for curve in curves:
        if curve.name == anchor_name:
            continue
        entry = {"psnr": _delta(anchor, curve, lambda c: c.series(psnr_key))}
        if ms_ssim_key and all(ms_ssim_key in p for c in (anchor, curve) for p in c.points):
            entry["ms_ssim_db"] = _delta(anchor, curve, lambda c: [msssim_db(v) for v in c.series(ms_ssim_key)])
        table[curve.name] = entry
    return table


def markdown(anchor: Curve, table: dict, curves: list[Curve]) -> str:
    """One Markdown table: rows are curves, columns the deltas and the ranges they cover."""
    labels = {c.name: c.label for c in curves}
    lines = [f"BD against **{anchor.label}** (negative BD-rate = fewer bits than the anchor at equal quality)",
             "",
             "| codec | BD-rate (PSNR) | BD-PSNR | PSNR range compared | worst PSNR gap at equal rate "
             "| BD-rate (MS-SSIM dB) |",
             "| --- | ---: | ---: | --- | --- | ---: |"]
    for name, entry in table.items():
        p = entry["psnr"]
        if "error" in p:
            lines.append(f"| {labels[name]} | n/a | n/a | {p['error']} | n/a | n/a |")
            continue
        m = entry.get("ms_ssim_db", {})
        ms = f"{m['bd_rate_percent']:+.1f} %" if "bd_rate_percent" in m else "n/a"
        lines.append(f"| {labels[name]} | {p['bd_rate_percent']:+.1f} % | {p['bd_quality']:+.2f} dB | "
                     f"{p['quality_range'][0]:.1f}-{p['quality_range'][1]:.1f} dB | "
                     f"{p['worst_quality_gap']:+.2f} dB at {p['worst_at_bpp']:.2f} bpp | {ms} |")
    return "\n".join(lines) + "\n"
