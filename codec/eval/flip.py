"""FLIP (NVIDIA's image difference evaluator, Andersson et al. 2020): a perceptual error for still images.

Why FLIP: PSNR and MS-SSIM reward blur at very low rates, where codecs that
synthesise texture look better than their PSNR says. FLIP models what a
viewer sees when flipping between the two images (contrast sensitivity at a
given viewing distance, colour differences in a perceptual space, edge and
point features), ships as one compiled package with no model weights, and
downloads nothing. We use its LDR mode on 8-bit sRGB and report the mean of
the per-pixel error map: 0 for identical images, up to 1; lower is better.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
from flip_evaluator import evaluate  # imported here so a missing [eval] extra is reported once, by codec eval

#: viewing condition: 0.7 m from a 0.7 m wide, 3840 pixels wide monitor, FLIP's own default
#: (about 67 pixels per degree); stated explicitly so a change of the package's default changes nothing
VIEWING = (0.7, 3840, 0.7)


def pixels_per_degree() -> float:
    """Pixels per degree of visual angle of :data:`VIEWING`, as FLIP computes it."""
    distance, width_pixels, width_metres = VIEWING
    return distance * (width_pixels / width_metres) * np.pi / 180


def version() -> str:
    """The installed flip-evaluator version, or a note that it is missing."""
    try:
        return metadata.version("flip-evaluator")
    except metadata.PackageNotFoundError:
        return "not installed"


def flip_error(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Mean LDR-FLIP error of ``decoded`` against ``reference`` (HxWx3 uint8 sRGB each)."""
    if reference.shape != decoded.shape or reference.ndim != 3 or reference.shape[2] != 3:
        raise ValueError(f"FLIP needs two HxWx3 images of one size, got {reference.shape} and {decoded.shape}")
    ref = np.ascontiguousarray(reference, dtype=np.float32) / np.float32(255)
    test = np.ascontiguousarray(decoded, dtype=np.float32) / np.float32(255)
    _, mean, _ = evaluate(ref, test, "LDR", inputsRGB=True, applyMagma=False, computeMeanError=True,
                          parameters={"vc": list(VIEWING)})
    return float(mean)
