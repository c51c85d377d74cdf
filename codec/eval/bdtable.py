"""Bjøntegaard deltas of every curve against each chosen anchor, with their ranges."""

from __future__ import annotations

import math

from codec.errors import UsageError
from codec.eval.bjontegaard import bd_quality, bd_rate, worst_quality_gap
from codec.eval.curves import Curve


def msssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, -10 log10(1 - MS-SSIM), where BD deltas are usually taken."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def _delta(anchor: Curve, test: Curve, quality, lower_is_better: bool = False) -> dict:
    """BD-rate (percent) and BD-quality of ``test`` against ``anchor``, or the reason there are none.

    For an error metric (``lower_is_better``) the deltas are taken on the negated values, so that
    "worst" means the largest error increase, then given back in the metric's own units:
    ``bd_quality`` and ``worst_quality_gap`` are test minus anchor (negative = better), and
    ``quality_range`` is in the metric's units. BD-rate needs no sign change: at equal quality,
    fewer bits are better whichever way the quality axis points.
    """
    sign = -1.0 if lower_is_better else 1.0
    ar, tr = anchor.series("bpp"), test.series("bpp")
    try:
        aq, tq = [sign * q for q in quality(anchor)], [sign * q for q in quality(test)]
        rate = bd_rate(ar, aq, tr, tq)
        gain = bd_quality(ar, aq, tr, tq)
        worst = worst_quality_gap(ar, aq, tr, tq)
    except ValueError as exc:
        return {"error": str(exc)}
    except KeyError as exc:
        return {"error": f"no {exc.args[0]} in this curve"}
    entry = {"bd_rate_percent": 100.0 * rate.value, "quality_range": sorted([sign * rate.low, sign * rate.high]),
             "bd_quality": sign * gain.value, "bpp_range": [gain.low, gain.high],
             "worst_quality_gap": sign * worst.value, "worst_at_bpp": worst.low}
    if lower_is_better:
        entry["lower_is_better"] = True
    return entry


def bd_against(anchor_name: str, curves: list[Curve], psnr_key: str = "psnr_rgb",
               ms_ssim_key: str | None = "ms_ssim_rgb", extra_keys: tuple[str, ...] = (),
               lower_is_better: frozenset[str] = frozenset()) -> dict:
    """``{curve name: {"psnr": ..., "ms_ssim_db": ..., <extra key>: ...}}`` against the curve called ``anchor_name``.

    ``psnr_key`` and ``ms_ssim_key`` name the medium's metrics (RGB for images, YUV and luma for video);
    ``extra_keys`` are further metrics (e.g. FLIP), each reported where both curves have it, with the
    sign convention of :func:`_delta` for those in ``lower_is_better``.
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
        for key in extra_keys:
            if all(key in p for c in (anchor, curve) for p in c.points):
                entry[key] = _delta(anchor, curve, lambda c, k=key: c.series(k), key in lower_is_better)
        table[curve.name] = entry
    return table


def markdown(anchor: Curve, table: dict, curves: list[Curve], extra_keys: tuple[str, ...] = ()) -> str:
    """One Markdown table: rows are curves, columns the deltas and the ranges they cover.

    Each of ``extra_keys`` adds two columns, its BD-rate and its BD-quality (test minus anchor in the
    metric's units, so negative is better for an error metric such as FLIP).
    """
    labels = {c.name: c.label for c in curves}
    extra_head = "".join(f" BD-rate ({k}) | BD-{k} |" for k in extra_keys)
    lines = [f"BD against **{anchor.label}** (negative BD-rate = fewer bits than the anchor at equal quality)",
             "",
             "| codec | BD-rate (PSNR) | BD-PSNR | PSNR range compared | worst PSNR gap at equal rate "
             "| BD-rate (MS-SSIM dB) |" + extra_head,
             "| --- | ---: | ---: | --- | --- | ---: |" + " ---: | ---: |" * len(extra_keys)]
    for name, entry in table.items():
        extra = ""
        for key in extra_keys:
            e = entry.get(key, {})
            extra += (f" {e['bd_rate_percent']:+.1f} % | {e['bd_quality']:+.4f} |" if "bd_rate_percent" in e
                      else " n/a | n/a |")
        p = entry["psnr"]
        if "error" in p:
            lines.append(f"| {labels[name]} | n/a | n/a | {p['error']} | n/a | n/a |" + extra)
            continue
        m = entry.get("ms_ssim_db", {})
        ms = f"{m['bd_rate_percent']:+.1f} %" if "bd_rate_percent" in m else "n/a"
        lines.append(f"| {labels[name]} | {p['bd_rate_percent']:+.1f} % | {p['bd_quality']:+.2f} dB | "
                     f"{p['quality_range'][0]:.1f}-{p['quality_range'][1]:.1f} dB | "
                     f"{p['worst_quality_gap']:+.2f} dB at {p['worst_at_bpp']:.2f} bpp | {ms} |" + extra)
    return "\n".join(lines) + "\n"
