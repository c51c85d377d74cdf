"""Still images: 8-bit RGB, RGB PSNR, MS-SSIM and FLIP, bits per pixel from the file size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec.errors import BadInputError
from codec.eval import flip
from codec.eval.media.base import Medium
from codec.eval.msssim import ms_ssim
from codec.eval.psnr import psnr


def load(path: Path, **options) -> np.ndarray:
    """Read an image as HxWx3 uint8 RGB; only 8-bit RGB or grey sources without alpha are accepted,
    so that what is measured is what was on disk (the package's one image reader does the reading)."""
    from codec.io.image_input import load_image

    try:
        image = load_image(path)
    except BadInputError as exc:
        # the reader's message may hold the full path: keep results free of local paths
        raise BadInputError(str(exc).replace(str(path), path.name)) from None
    if image.components not in (1, 3):
        raise BadInputError(f"{path.name}: has an alpha channel (8-bit RGB or grey expected)")
    return image.pixels


def measure(reference: np.ndarray, decoded: np.ndarray) -> dict[str, float]:
    if decoded.shape != reference.shape or decoded.dtype != np.uint8:
        raise ValueError(f"decoded image is {decoded.shape} {decoded.dtype}, "
                         f"expected {reference.shape} uint8")
    return {"psnr_rgb": psnr(reference, decoded), "ms_ssim_rgb": ms_ssim(reference, decoded),
            "flip": flip.flip_error(reference, decoded)}


def rate(size_bytes: int, reference: np.ndarray) -> dict[str, float]:
    bits = 8 * size_bytes
    return {"bits": bits, "bpp": bits / (reference.shape[0] * reference.shape[1])}


MEDIUM = IMAGE = Medium(
    name="image",
    suffixes=frozenset({".png", ".ppm", ".pnm", ".bmp", ".tif", ".tiff"}),
    load=load,
    measure=measure,
    rate=rate,
    rate_key="bpp",
    rate_label="bits per pixel",
    quality_keys=("psnr_rgb", "ms_ssim_rgb", "flip"),
    quality_labels={"psnr_rgb": "RGB PSNR (dB)", "ms_ssim_rgb": "RGB MS-SSIM",
                    "flip": "FLIP error (LDR, mean; lower is better)"},
    bd_keys=("flip",),
    lower_is_better=frozenset({"flip"}),
    conditions={
        "decoded_output": "8-bit RGB (uint8), the codec's own decoder",
        "bits_counted": "8 x the size in bytes of the whole encoded file on disk, headers and container "
                        "included; bpp = bits / (width x height)",
        "metrics": {
            "psnr_rgb": "10 log10(255^2 / MSE), one MSE over all pixels of the three RGB channels",
            "ms_ssim_rgb": "MS-SSIM (Wang et al. 2003): 5 scales, 11x11 Gaussian sigma 1.5, K1=0.01, "
                           "K2=0.03, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average "
                           "pooling, data range 255, computed per RGB channel and averaged",
            "flip": f"mean of the LDR-FLIP error map (Andersson et al. 2020; package flip-evaluator "
                    f"{flip.version()}, flip_evaluator.evaluate(..., 'LDR')), reference and decoded 8-bit sRGB "
                    f"scaled to [0, 1]; viewing condition {flip.VIEWING[0]} m from a {flip.VIEWING[1]}-pixel, "
                    f"{flip.VIEWING[2]} m wide display = {flip.pixels_per_degree():.2f} pixels per degree; "
                    "0 = identical, lower is better; no model weights, nothing downloaded",
        },
        "aggregation": "dataset average at each rate point: mean over images of bpp, of PSNR (dB), "
                       "of MS-SSIM and of FLIP",
        "source_images": "8-bit RGB (grey converted to RGB); other modes are rejected",
    },
    item_facts=lambda reference: {"width": int(reference.shape[1]), "height": int(reference.shape[0])},
)
