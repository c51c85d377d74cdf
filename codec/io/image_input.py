"""Turning what users hand us (paths, arrays, PIL images, tensors) into 8-bit RGB, or a clear refusal.

The image model codes 8-bit RGB. Greyscale is coded as RGB and decoded back
to one channel; an alpha channel is accepted only when fully opaque (it is
restored as opaque). Everything else (16-bit or float samples, CMYK,
translucent alpha) is refused with a message rather than silently changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from codec.errors import BadInputError

Image.MAX_IMAGE_PIXELS = None  # our own limit (codec.container.source.MAX_PIXELS) applies instead


@dataclass(frozen=True)
class RgbImage:
    pixels: np.ndarray  # (H, W, 3) uint8
    components: int     # 1 grey, 3 colour, 4 colour with opaque alpha


def load_image(source: Any) -> RgbImage:
    """Accept a path, numpy array (HxW, HxWx3, HxWx4 uint8), PIL image or torch tensor."""
    if isinstance(source, (str, os.PathLike)):
        return _from_path(Path(source))
    if isinstance(source, Image.Image):
        return _from_pil(source, "image")
    if isinstance(source, np.ndarray):
        return _from_array(source, "array")
    if type(source).__module__.startswith("torch"):
        return _from_tensor(source)
    raise BadInputError(f"cannot encode a {type(source).__name__}: give a path, numpy array, PIL image or tensor")


def _from_path(path: Path) -> RgbImage:
    try:
        with Image.open(path) as im:
            im.load()
            return _from_pil(im, str(path))
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise BadInputError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot read image: {exc}") from None


def _from_pil(im: Image.Image, name: str) -> RgbImage:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise BadInputError(f"{name}: {mode} ({'16-bit' if mode.startswith('I') else 'floating-point'}) "
                            f"samples are not supported; this model codes 8-bit images, convert first")
    if mode == "CMYK":
        raise BadInputError(f"{name}: CMYK images are not supported; convert to RGB with a colour-managed tool")
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("1", "L"):
        return _from_array(np.asarray(im.convert("L")), name)
    if mode in ("LA", "La", "PA"):
        return _from_array(np.asarray(im.convert("LA")), name)
    if mode in ("RGBA", "RGBa"):
        return _from_array(np.asarray(im.convert("RGBA")), name)
    return _from_array(np.asarray(im.convert("RGB")), name)


def _from_array(a: np.ndarray, name: str) -> RgbImage:
    if a.dtype != np.uint8:
        raise BadInputError(f"{name}: samples are {a.dtype}; this model codes 8-bit images (uint8)")
    if a.ndim == 2:
        return _checked(np.repeat(a[:, :, None], 3, axis=2), 1, name)
    if a.ndim != 3 or a.shape[2] not in (2, 3, 4):
        raise BadInputError(f"{name}: shape {a.shape} is not HxW, HxWx3 or HxWx4")
    if a.shape[2] in (2, 4):
        if not (a[:, :, -1] == 255).all():
            raise BadInputError(f"{name}: has a translucent alpha channel, which this model cannot store; "
                                f"flatten it onto a background first")
        if a.shape[2] == 2:
            return _checked(np.repeat(a[:, :, :1], 3, axis=2), 1, name)
        return _checked(a[:, :, :3], 4, name)
    return _checked(a, 3, name)


def _from_tensor(t: Any) -> RgbImage:
    import torch

    t = t.detach().cpu()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
        raise BadInputError(f"tensor of shape {tuple(t.shape)} is not CxHxW with 1, 3 or 4 channels")
    if t.is_floating_point():
        if t.isnan().any() or t.min() < 0 or t.max() > 1:
            raise BadInputError("float tensors must hold values in [0, 1]")
        t = (t * 255).round().to(torch.uint8)
    elif t.dtype != torch.uint8:
        raise BadInputError(f"tensor dtype {t.dtype} is not uint8 or floating point")
    a = t.permute(1, 2, 0).contiguous().numpy()
    return _from_array(a[:, :, 0] if a.shape[2] == 1 else a, "tensor")


def _checked(rgb: np.ndarray, components: int, name: str) -> RgbImage:
    from codec.container.source import MAX_DIMENSION, MAX_PIXELS

    h, w = rgb.shape[:2]
    if h == 0 or w == 0:
        raise BadInputError(f"{name}: image is empty ({w}x{h})")
    if h > MAX_DIMENSION or w > MAX_DIMENSION or h * w > MAX_PIXELS:
        raise BadInputError(f"{name}: {w}x{h} exceeds the format's limits ({MAX_DIMENSION} per side, "
                            f"{MAX_PIXELS} pixels)")
    return RgbImage(np.ascontiguousarray(rgb), components)


def restore_components(rgb: np.ndarray, components: int) -> np.ndarray:
    """Decoded RGB back to the source's layout: one grey channel (rounded mean), or opaque alpha added."""
    if components in (1, 2):
        return ((rgb.astype(np.uint16).sum(axis=2) + 1) // 3).astype(np.uint8)
    if components == 4:
        return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return rgb


def to_output(pixels: np.ndarray, kind: str) -> Any:
    """Decoded pixels (HxW or HxWxC uint8) as 'numpy', 'pil' or 'torch' (CxHxW uint8)."""
    if kind == "numpy":
        return pixels
    if kind == "pil":
        return Image.fromarray(pixels)
    if kind == "torch":
        import torch

        t = torch.from_numpy(np.ascontiguousarray(pixels))
        return t[None] if t.ndim == 2 else t.permute(2, 0, 1).contiguous()
    raise ValueError(f"unknown output kind {kind!r}: use 'numpy', 'pil' or 'torch'")
