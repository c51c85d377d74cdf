"""Turning what users hand us (paths, arrays, PIL images, tensors) into 8-bit RGB, or a clear refusal.

The image models code 8-bit RGB. Greyscale is coded as RGB and decoded back
to one channel; an alpha channel is accepted only when fully opaque (it is
restored as opaque). Photos are read as viewers show them: the EXIF
orientation is applied, and an embedded colour profile other than sRGB is
converted to sRGB (the header then says sRGB). Everything else (16-bit or
float samples, CMYK, translucent alpha, several frames) is refused with a
message rather than silently changed.

Image files are checked before they are decoded: the size in the file's
header must be within ``max_pixels`` (``DEFAULT_MAX_PIXELS``, raised with
``--max-pixels`` up to the format's limit), so a small file that claims a
huge picture (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from codec.container.source import MAX_DIMENSION, MAX_PIXELS
from codec.errors import BadInputError, UsageError

Image.MAX_IMAGE_PIXELS = None  # our own limit applies, checked before decoding
DEFAULT_MAX_PIXELS = 1 << 26   # 67 megapixels: about 9 GB of working memory for the hyperprior model


@dataclass(frozen=True)
class RgbImage:
    pixels: np.ndarray  # (H, W, 3) uint8
    components: int     # 1 grey, 2 grey with opaque alpha, 3 colour, 4 colour with opaque alpha
    notes: tuple[str, ...] = ()  # what was done to it on the way in (orientation, colour profile)


def check_max_pixels(max_pixels: Any) -> int:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or not 1 <= max_pixels <= MAX_PIXELS:
        raise UsageError(f"the pixel limit must be an integer 1..{MAX_PIXELS} (the format's limit), "
                         f"got {max_pixels!r}")
    return max_pixels


def load_image(source: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RgbImage:
    """Accept a path, numpy array (HxW, HxWx2, HxWx3, HxWx4 uint8), PIL image or torch tensor."""
    check_max_pixels(max_pixels)
    try:
        if isinstance(source, (str, os.PathLike)):
            return _from_path(Path(source), max_pixels)
        if isinstance(source, (bytes, bytearray, memoryview)):
            return _from_file(io.BytesIO(bytes(source)), "image data", max_pixels)
        if hasattr(source, "read"):
            return _from_file(io.BytesIO(source.read()), "standard input", max_pixels)
        if isinstance(source, Image.Image):
            _check_size(source.width, source.height, "image", max_pixels)
            return _from_pil(source, "image")
        if isinstance(source, np.ndarray):
            return _from_array(source, "array", max_pixels)
        if type(source).__module__.startswith("torch"):
            return _from_tensor(source, max_pixels)
    except MemoryError:
        raise BadInputError("not enough memory to read this image") from None
    raise UsageError(f"cannot encode a {type(source).__name__} as an image: give a path, bytes, numpy array, "
                     f"PIL image or tensor")


def _from_path(path: Path, max_pixels: int) -> RgbImage:
    try:
        with open(path, "rb") as f:
            return _from_file(f, str(path), max_pixels)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a folder") from None
    except PermissionError:
        raise BadInputError(f"{path}: permission denied") from None


def _from_file(f, name: str, max_pixels: int) -> RgbImage:
    try:
        with Image.open(f) as im:
            _check_size(im.width, im.height, name, max_pixels)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                raise BadInputError(f"{name}: holds {frames} frames (animation or pages); the image models "
                                    f"code one picture: extract the frame you want first")
            if im.format == "PNG":
                _refuse_16_bit_png(f, name)
            im.load()
            return _from_pil(im, name)
    except UnidentifiedImageError:
        raise BadInputError(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{name}: cannot read image: {exc}") from None


def _refuse_16_bit_png(f, name: str) -> None:
    """Pillow reads 16-bit RGB PNGs as 8-bit without a word; the IHDR bit depth tells."""
    here = f.tell()
    f.seek(0)
    head = f.read(26)
    f.seek(here)
    if len(head) == 26 and head[12:16] == b"IHDR" and head[24] == 16:
        raise BadInputError(f"{name}: 16-bit samples are not supported; these models code 8-bit images, "
                            f"convert first (for example with Pillow: im.convert('RGB') after scaling)")


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width == 0 or height == 0:
        raise BadInputError(f"{name}: image is empty ({width}x{height})")
    if width > MAX_DIMENSION or height > MAX_DIMENSION or width * height > MAX_PIXELS:
        raise BadInputError(f"{name}: {width}x{height} exceeds the format's limits ({MAX_DIMENSION} per side, "
                            f"{MAX_PIXELS:,} pixels)")
    if width * height > max_pixels:
        raise BadInputError(f"{name}: {width}x{height} ({width * height / 1e6:.0f} MP) exceeds the pixel limit "
                            f"of {max_pixels / 1e6:.0f} MP; raise it with --max-pixels (or max_pixels=) if the "
                            f"machine has the memory")


def _from_pil(im: Image.Image, name: str) -> RgbImage:
    notes = []
    orientation = _orientation(im)
    if orientation not in (None, 1):
        try:
            im = ImageOps.exif_transpose(im)
            notes.append(f"EXIF orientation {orientation} applied")
        except Exception:  # a damaged EXIF block is ignored, as viewers do
            pass
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise BadInputError(f"{name}: {mode} ({'16-bit' if mode.startswith('I') else 'floating-point'}) "
                            f"samples are not supported; these models code 8-bit images, convert first")
    if mode == "CMYK":
        raise BadInputError(f"{name}: CMYK images are not supported; convert to RGB with a colour-managed tool")
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    im, profile_note = _to_srgb(im, name)
    if profile_note:
        notes.append(profile_note)
    if mode in ("1", "L"):
        a = np.asarray(im.convert("L"))
    elif mode in ("LA", "La", "PA"):
        a = np.asarray(im.convert("LA"))
    elif mode in ("RGBA", "RGBa"):
        a = np.asarray(im.convert("RGBA"))
    else:
        a = np.asarray(im.convert("RGB"))
    image = _from_array(a, name, MAX_PIXELS)
    return RgbImage(image.pixels, image.components, tuple(notes))


def _orientation(im: Image.Image) -> int | None:
    try:
        return im.getexif().get(0x0112)
    except Exception:  # a damaged EXIF block is ignored, as viewers do
        return None


def _to_srgb(im: Image.Image, name: str) -> tuple[Image.Image, str | None]:
    """Convert an embedded ICC profile other than sRGB to sRGB, as a colour-managed viewer would."""
    icc = im.info.get("icc_profile")
    if not icc:
        return im, None
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = (ImageCms.getProfileDescription(src) or "").strip()
    except Exception:
        raise BadInputError(f"{name}: its colour profile cannot be read; convert the image to sRGB first") from None
    if "srgb" in description.lower():
        return im, None
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")
    try:
        converted = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode=im.mode)
    except Exception as exc:
        raise BadInputError(f"{name}: cannot convert its colour profile {description!r} to sRGB ({exc}); "
                            f"convert the image to sRGB first") from None
    return converted, f"colour profile {description!r} converted to sRGB"


def _from_array(a: np.ndarray, name: str, max_pixels: int) -> RgbImage:
    if a.dtype != np.uint8:
        raise BadInputError(f"{name}: samples are {a.dtype}; these models code 8-bit images (uint8)")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 2, 3, 4)):
        raise BadInputError(f"{name}: shape {a.shape} is not HxW, HxWx2, HxWx3 or HxWx4")
    _check_size(a.shape[1], a.shape[0], name, max_pixels)
    if a.ndim == 2 or a.shape[2] == 1:
        grey = a if a.ndim == 2 else a[:, :, 0]
        return _checked(np.repeat(grey[:, :, None], 3, axis=2), 1)
    if a.shape[2] in (2, 4):
        if not (a[:, :, -1] == 255).all():
            raise BadInputError(f"{name}: has a translucent alpha channel, which these models cannot store; "
                                f"flatten it onto a background first")
        if a.shape[2] == 2:
            return _checked(np.repeat(a[:, :, :1], 3, axis=2), 2)
        return _checked(a[:, :, :3], 4)
    return _checked(a, 3)


def _from_tensor(t: Any, max_pixels: int) -> RgbImage:
    import torch

    t = t.detach().cpu()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] not in (1, 2, 3, 4):
        raise BadInputError(f"tensor of shape {tuple(t.shape)} is not CxHxW with 1 to 4 channels")
    if t.is_floating_point():
        if t.isnan().any() or t.min() < 0 or t.max() > 1:
            raise BadInputError("float tensors must hold values in [0, 1]")
        t = (t * 255).round().to(torch.uint8)
    elif t.dtype != torch.uint8:
        raise BadInputError(f"tensor dtype {t.dtype} is not uint8 or floating point")
    return _from_array(t.permute(1, 2, 0).contiguous().numpy(), "tensor", max_pixels)


def _checked(rgb: np.ndarray, components: int) -> RgbImage:
    return RgbImage(np.ascontiguousarray(rgb), components)


def restore_components(rgb: np.ndarray, components: int) -> np.ndarray:
    """Decoded RGB back to the source's layout: one grey channel (rounded mean), opaque alpha added."""
    if components in (1, 2):
        grey = ((rgb.astype(np.uint16).sum(axis=2) + 1) // 3).astype(np.uint8)
        if components == 1:
            return grey
        return np.stack([grey, np.full_like(grey, 255)], axis=2)
    if components == 4:
        return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return rgb


OUTPUT_KINDS = ("numpy", "pil", "torch")


def check_output_kind(kind: Any) -> str:
    if kind not in OUTPUT_KINDS:
        raise UsageError(f"unknown output kind {kind!r}: use 'numpy', 'pil' or 'torch'")
    return kind


def to_output(pixels: np.ndarray, kind: str) -> Any:
    """Decoded pixels (HxW or HxWxC uint8) as 'numpy', 'pil' or 'torch' (CxHxW uint8)."""
    check_output_kind(kind)
    if kind == "numpy":
        return pixels
    if kind == "pil":
        return Image.fromarray(pixels)
    import torch

    t = torch.from_numpy(np.ascontiguousarray(pixels))
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1).contiguous()
