"""Explicit RGB <-> Y'CbCr conversion for the video-codec baselines.

Video encoders take Y'CbCr; how RGB becomes Y'CbCr (matrix, range, chroma
subsampling and siting) changes the measured RGB PSNR by tenths of a dB, so
it is done here in numpy, the same way for every codec, and described in the
results by :meth:`Conversion.describe` rather than left to a library default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Luma coefficients (Kr, Kb) of the matrices in use.
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


@dataclass(frozen=True)
class Conversion:
    """One way from 8-bit RGB to 8-bit Y'CbCr planes and back.

    ``chroma`` is ``"444"`` or ``"420"``; 4:2:0 chroma is the 2x2 mean
    (centre siting) and is brought back by bilinear interpolation at the
    same siting. Images with an odd side are padded by repeating the last
    row or column before subsampling and cropped after.
    """

    matrix: str = "bt601"
    full_range: bool = True
    chroma: str = "444"

    def describe(self) -> dict:
        """The conditions written into result files."""
        return {
            "matrix": self.matrix,
            "range": "full" if self.full_range else "limited",
            "chroma_format": self.chroma,
            "chroma_downsampling": "2x2 mean, centre siting" if self.chroma == "420" else None,
            "chroma_upsampling": "bilinear, centre siting" if self.chroma == "420" else None,
            "rounding": "round half to even, clip to 0..255",
        }

    def _forward_matrix(self) -> np.ndarray:
        kr, kb = MATRICES[self.matrix]
        kg = 1.0 - kr - kb
        return np.array([[kr, kg, kb],
                         [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
                         [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))]])

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-plane gain and offset from normalized Y'CbCr to code values."""
        if self.full_range:
            return np.array([255.0, 255.0, 255.0]), np.array([0.0, 128.0, 128.0])
        return np.array([219.0, 224.0, 224.0]), np.array([16.0, 128.0, 128.0])

    def to_planes(self, rgb: np.ndarray) -> list[np.ndarray]:
        """HxWx3 uint8 RGB to [Y, Cb, Cr] uint8 planes (chroma subsampled for 4:2:0)."""
        normalized = rgb.astype(np.float64) / 255.0
        ycc = normalized @ self._forward_matrix().T
        gain, offset = self._scale()
        planes = [ycc[..., i] * gain[i] + offset[i] for i in range(3)]
        if self.chroma == "420":
            planes[1:] = [_subsample(p) for p in planes[1:]]
        return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes]

    def to_rgb(self, planes: list[np.ndarray]) -> np.ndarray:
        """[Y, Cb, Cr] planes (uint8, or floats on the 8-bit scale) to HxWx3 uint8 RGB of the luma plane's size."""
        height, width = planes[0].shape
        gain, offset = self._scale()
        full = [planes[0].astype(np.float64)]
        for p in planes[1:]:
            p = p.astype(np.float64)
            if self.chroma == "420":
                p = _upsample(p, height, width)
            full.append(p)
        ycc = np.stack([(full[i] - offset[i]) / gain[i] for i in range(3)], axis=-1)
        rgb = ycc @ np.linalg.inv(self._forward_matrix()).T
        return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _subsample(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    plane = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def _upsample_axis(plane: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Linear interpolation along one axis from n centre-sited samples to ``size``."""
    n = plane.shape[axis]
    pos = np.clip((np.arange(size) + 0.5) / 2.0 - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    a, b = np.take(plane, lo, axis=axis), np.take(plane, hi, axis=axis)
    shape = [1, 1]
    shape[axis] = size
    return a + (b - a) * frac.reshape(shape)


def _upsample(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    return _upsample_axis(_upsample_axis(plane, height, 0), width, 1)
