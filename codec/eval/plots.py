"""PNG plots of rate against each quality metric; published curves dashed."""

from __future__ import annotations

from pathlib import Path

from codec.eval.bdtable import msssim_db
from codec.eval.curves import Curve


def plot(curves: list[Curve], quality_key: str, ylabel: str, title: str, path: Path,
         metadata: dict[str, str]) -> None:
    """Draw every curve that has ``quality_key``; MS-SSIM is drawn in dB so high rates stay readable.
    ``metadata`` goes into the PNG's text chunks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    as_db = quality_key.startswith("ms_ssim")
    fig, ax = plt.subplots(figsize=(8, 6), dpi=110)
    for curve in curves:
        if not curve.points or quality_key not in curve.points[0]:
            continue
        y = curve.series(quality_key)
        if as_db:
            y = [msssim_db(v) for v in y]
        ax.plot(curve.series("bpp"), y, "--" if curve.published else "-",
                marker="x" if curve.published else "o", markersize=4, label=curve.label)
    ax.set_xlabel("bits per pixel (whole files)")
    ax.set_ylabel(f"{ylabel} as -10 log10(1 - MS-SSIM) (dB)" if as_db else ylabel)
    ax.set_title(title, fontsize=8)
    rates = [r for curve in curves for r in curve.series("bpp")]
    ax.set_xlim(0, min(2.5, 1.05 * max(rates, default=2.5)))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png", metadata=metadata)
    plt.close(fig)
