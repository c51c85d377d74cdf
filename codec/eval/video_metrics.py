"""Video quality metrics over 8-bit YUV 4:2:0 frames: PSNR per plane, PSNR-YUV, PSNR-RGB and MS-SSIM-Y.

Conventions (those of the DCVC papers and the VTM common test conditions):

- PSNR of a plane: ``10 log10(255^2 / MSE)`` over that plane of one frame;
  identical planes count as ``MAX_PSNR`` dB, so one perfect frame cannot make
  a clip's mean infinite;
- PSNR-YUV of a frame: ``(6 PSNR_Y + PSNR_U + PSNR_V) / 8``;
- PSNR-RGB of a frame: reference and decoded YUV both converted to 8-bit RGB
  with the same explicit conversion (the clip's matrix: BT.709 when the
  source says so, BT.601 otherwise; its range; bilinear chroma upsampling),
  then one MSE over the three channels;
- MS-SSIM-Y: MS-SSIM (:mod:`codec.eval.msssim`) of the luma plane; frames
  whose smaller side is 160 pixels or less (QCIF) use the largest number of
  scales the 11x11 window fits, their weights renormalized to sum to 1;
- a clip's value is the mean over its frames.
"""

from __future__ import annotations

import math

import numpy as np

from codec.eval.msssim import WEIGHTS, WINDOW, _downsample, _ssim_terms
from codec.eval.psnr import mse
from codec.media.video import VideoFrame, yuv420_to_rgb

MAX_PSNR = 100.0


def plane_psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    error = mse(reference, decoded)
    return MAX_PSNR if error == 0 else min(MAX_PSNR, 10 * math.log10(255 ** 2 / error))


def ms_ssim_luma(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM of one plane with as many of the five scales as the window fits (at least two)."""
    side = min(reference.shape)
    scales = len(WEIGHTS)
    while scales > 2 and side <= (WINDOW - 1) * 2 ** (scales - 1):
        scales -= 1
    weights = np.array(WEIGHTS[:scales]) / sum(WEIGHTS[:scales])
    x, y = reference.astype(np.float64), decoded.astype(np.float64)
    value = 1.0
    for scale, weight in enumerate(weights):
        ssim, cs = _ssim_terms(x, y, 255.0)
        last = scale == scales - 1
        value *= max(ssim if last else cs, 0.0) ** weight
        if not last:
            x, y = _downsample(x), _downsample(y)
    return float(value)


def frame_metrics(reference: VideoFrame, decoded: VideoFrame, *, matrix: int, full_range: bool) -> dict[str, float]:
    if tuple(p.shape for p in reference.planes) != tuple(p.shape for p in decoded.planes):
        raise ValueError(f"decoded frame is {decoded.width}x{decoded.height}, expected "
                         f"{reference.width}x{reference.height}")
    y, u, v = (plane_psnr(a, b) for a, b in zip(reference.planes, decoded.planes))
    rgb_ref = yuv420_to_rgb(*reference.planes, matrix=matrix, full_range=full_range)
    rgb_dec = yuv420_to_rgb(*decoded.planes, matrix=matrix, full_range=full_range)
    return {"psnr_y": y, "psnr_u": u, "psnr_v": v, "psnr_yuv": (6 * y + u + v) / 8,
            "psnr_rgb": plane_psnr(rgb_ref, rgb_dec), "ms_ssim_y": ms_ssim_luma(reference.y, decoded.y)}


def clip_metrics(reference: list[VideoFrame], decoded: list[VideoFrame], *, matrix: int,
                 full_range: bool) -> dict:
    """Means over frames, plus the per-frame PSNR-YUV (for drift plots)."""
    if len(decoded) != len(reference):
        raise ValueError(f"decoded {len(decoded)} frames, expected {len(reference)}")
    per_frame = [frame_metrics(r, d, matrix=matrix, full_range=full_range) for r, d in zip(reference, decoded)]
    out: dict = {k: float(np.mean([m[k] for m in per_frame])) for k in per_frame[0]}
    out["frame_psnr_yuv"] = [round(m["psnr_yuv"], 4) for m in per_frame]
    return out
