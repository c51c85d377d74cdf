"""Published RD curves loaded from files, to draw and compare beside measured ones.

The format is the one of CompressAI's result files (and of the Kodak anchors
in ``shared/anchors``): ``{"name": ..., "results": {"bpp": [...],
"psnr-rgb": [...], "ms-ssim-rgb": [...]}}``. A curve is named by its file
stem (``vtm.json`` -> ``vtm``), which is how ``--anchor`` refers to it.
"""

from __future__ import annotations

import json
from pathlib import Path

from codec.errors import BadInputError
from codec.eval.curves import Curve

# file keys -> our keys, for images
_IMAGE_KEYS = {"bpp": "bpp", "psnr-rgb": "psnr_rgb", "ms-ssim-rgb": "ms_ssim_rgb", "psnr-yuv": "psnr_yuv",
               "psnr-y": "psnr_y", "ms-ssim-y": "ms_ssim_y"}


def load_published(path: str | Path) -> tuple[Curve, dict]:
    """The curve in ``path`` and its provenance (file name, description) for the results."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        results = data["results"]
        columns = {ours: results[theirs] for theirs, ours in _IMAGE_KEYS.items() if theirs in results}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{path.name}: not a published curve file ({type(exc).__name__}: {exc})") from None
    if "bpp" not in columns or not {"psnr_rgb", "psnr_yuv"} & set(columns):
        raise BadInputError(f"{path.name}: a published curve needs 'bpp' and 'psnr-rgb' (or 'psnr-yuv') results")
    length = len(columns["bpp"])
    if any(len(v) != length for v in columns.values()):
        raise BadInputError(f"{path.name}: result lists of different lengths")
    points = sorted(({k: float(v[i]) for k, v in columns.items()} for i in range(length)),
                    key=lambda p: p["bpp"])
    label = f"{data.get('name', path.stem)} (published)"
    curve = Curve(path.stem, label, tuple(points), published=True)
    return curve, {"file": path.name, "name": data.get("name"), "description": data.get("description")}
