"""Training clips: short runs of YUV 4:2:0 frames from real video and from photos set in motion.

Real video: every decodable file under the configured folders (H.264
streams, mp4, raw ``*_WxH_*.yuv``) is decoded once with PyAV into uint8
planes held in memory, at full size and, for sources of 640 pixels or more
across, also halved (2x2 means), which gives more motion per crop. A clip
is a random crop (even offsets) of ``frames`` consecutive frames, taken
with a random frame step of 1 or 2, flipped and time-reversed at random.

Synthetic motion: a photo is sampled through a per-clip affine motion (a
pan of a few pixels per frame, a slow zoom, a small rotation) with a
brightness ramp, then converted to BT.601 limited-range YUV 4:2:0. There is
little natural video in the development data; this adds variety.

Paths whose text contains any ``exclude`` entry are never read: the
evaluation clips and every other coding of the same content.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

log = logging.getLogger("codec.train")

VIDEO_SUFFIXES = {".264", ".h264", ".jsv", ".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m", ".yuv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp"}
HALVE_FROM = 640


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(luma (N,H,W), chroma (N,2,H/2,W/2)) uint8, or None when the file is not usable."""
    if path.suffix.lower() == ".yuv":
        m = re.search(r"(\d+)x(\d+)", path.name)
        if not m:
            return None
        w, h = int(m.group(1)), int(m.group(2))
        data = np.fromfile(path, dtype=np.uint8)
        size = w * h * 3 // 2
        frames = data[: len(data) // size * size].reshape(-1, size)
    else:
        import av

        try:
            with av.open(str(path)) as container:
                planes = [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
        except (av.error.FFmpegError, ValueError, IndexError):
            return None
        if not planes:
            return None
        h, w = planes[0].shape[0] * 2 // 3, planes[0].shape[1]
        frames = np.stack([p.reshape(-1) for p in planes])
    if w % 2 or h % 2:
        return None
    luma = frames[:, : w * h].reshape(-1, h, w)
    chroma = frames[:, w * h:].reshape(-1, 2, h // 2, w // 2)
    return np.ascontiguousarray(luma), np.ascontiguousarray(chroma)


def _halve(planes: np.ndarray) -> np.ndarray:
    """2x2 means (rounded) over the last two dimensions."""
    h, w = planes.shape[-2] // 2 * 2, planes.shape[-1] // 2 * 2
    p = planes[..., :h, :w].astype(np.uint16)
    s = p[..., 0::2, 0::2] + p[..., 1::2, 0::2] + p[..., 0::2, 1::2] + p[..., 1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint8)


def rgb_to_yuv420(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,3,H,W) RGB in [0,1] -> BT.601 limited-range luma (B,1,H,W) and chroma (B,2,H/2,W/2) in [0,1]."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    y = (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = (128 - 37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = (128 + 112.0 * r - 93.786 * g - 18.214 * b) / 255
    chroma = F.avg_pool2d(torch.cat([cb, cr], dim=1), 2)
    return (y * 255).round() / 255, (chroma * 255).round() / 255


class ClipSampler:
    """Batches of clips: luma (B,T,1,crop,crop) and chroma (B,T,2,crop/2,crop/2), floats in [0, 1]."""

    def __init__(self, video_folders: list[str], image_folders: list[str], crop: int, *,
                 exclude: tuple[str, ...] = (), synthetic: float = 0.5, max_frames: int = 300) -> None:
        if crop % 64:
            raise ValueError("the crop must be a multiple of 64")
        self.crop = crop
        self.synthetic = synthetic if image_folders else 0.0
        self.videos: list[tuple[np.ndarray, np.ndarray]] = []
        self.names: list[str] = []
        for folder in video_folders:
            for path in sorted(Path(folder).rglob("*")):
                if path.suffix.lower() not in VIDEO_SUFFIXES or any(x in str(path) for x in exclude):
                    continue
                planes = _decode(path)
                if planes is None:
                    continue
                luma, chroma = planes[0][:max_frames], planes[1][:max_frames]
                if luma.shape[0] < 2:
                    continue
                if min(luma.shape[1:]) >= crop:
                    self.videos.append((luma, chroma))
                    self.names.append(path.name)
                if luma.shape[2] >= HALVE_FROM and min(luma.shape[1:]) >= 2 * crop:
                    self.videos.append((_halve(luma), _halve(chroma)))
                    self.names.append(path.name + "/2")
        self.images: list[torch.Tensor] = []
        for folder in image_folders:
            for path in sorted(Path(folder).rglob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES and not any(x in str(path) for x in exclude):
                    with Image.open(path) as im:
                        im = im.convert("RGB")
                        if path.suffix.lower() in (".jpg", ".jpeg") and min(im.size) >= 4 * crop:
                            im = im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
                        if min(im.size) >= crop + 32:
                            self.images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
        if not self.videos and not self.images:
            raise ValueError(f"no training video under {video_folders} and no images under {image_folders}")
        if not self.videos:
            self.synthetic = 1.0
        if not self.images:
            self.synthetic = 0.0
        weights = torch.tensor([min(v[0].shape[0], 100) for v in self.videos], dtype=torch.float64)
        self.video_weights = weights / weights.sum() if len(weights) else weights
        log.info("training clips from %d videos (%s) and %d photos", len(self.videos), ", ".join(self.names),
                 len(self.images))

    def sample(self, batch: int, frames: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        lumas, chromas = [], []
        for _ in range(batch):
            synthetic = float(torch.rand((), generator=generator)) < self.synthetic
            luma, chroma = (self._synthetic if synthetic else self._video)(frames, generator)
            if float(torch.rand((), generator=generator)) < 0.5:
                luma, chroma = luma.flip(-1), chroma.flip(-1)
            lumas.append(luma)
            chromas.append(chroma)
        return torch.stack(lumas), torch.stack(chromas)

    def _video(self, frames: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        luma, chroma = self.videos[int(torch.multinomial(self.video_weights, 1, generator=g))]
        n, h, w = luma.shape
        step = 2 if float(torch.rand((), generator=g)) < 0.5 else 1
        step = min(step, max(1, (n - 1) // max(1, frames - 1)))
        span = step * (frames - 1) + 1
        start = int(torch.randint(0, max(1, n - span + 1), (), generator=g))
        index = [min(start + step * i, n - 1) for i in range(frames)]
        if float(torch.rand((), generator=g)) < 0.5:
            index = index[::-1]
        c = self.crop
        top = 2 * int(torch.randint(0, (h - c) // 2 + 1, (), generator=g))
        left = 2 * int(torch.randint(0, (w - c) // 2 + 1, (), generator=g))
        y = torch.from_numpy(luma[index, top: top + c, left: left + c]).float().div_(255)[:, None]
        uv = torch.from_numpy(chroma[index, :, top // 2: (top + c) // 2, left // 2: (left + c) // 2]).float().div_(255)
        return y, uv

    def _synthetic(self, frames: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """An affine camera motion over a photo: pan, zoom, rotation and a brightness ramp."""
        image = self.images[int(torch.randint(0, len(self.images), (), generator=g))]
        _, h, w = image.shape
        c = self.crop

        def uniform(lo: float, hi: float) -> float:
            return lo + (hi - lo) * float(torch.rand((), generator=g))

        speed, angle = uniform(0, 6), uniform(0, 2 * math.pi)
        vx, vy = speed * math.cos(angle), speed * math.sin(angle)
        zoom = math.exp(uniform(-0.03, 0.03)) if float(torch.rand((), generator=g)) < 0.5 else 1.0
        spin = math.radians(uniform(-1, 1)) if float(torch.rand((), generator=g)) < 0.3 else 0.0
        light = math.exp(uniform(-0.03, 0.03)) if float(torch.rand((), generator=g)) < 0.3 else 1.0
        # Keep every frame's window inside the photo: start where the whole path fits.
        reach = c / 2 * 1.1 + speed * (frames - 1) + 4
        cx = uniform(min(reach, w / 2), max(w - reach, w / 2))
        cy = uniform(min(reach, h / 2), max(h - reach, h / 2))
        # Sample from the window the path covers only (sampling the whole photo costs more than the model).
        half = c * 0.75 * max(1.0, zoom ** (frames - 1)) + 2
        ends = [(cx, cy), (cx + vx * (frames - 1), cy + vy * (frames - 1))]
        x_lo = max(0, int(min(e[0] for e in ends) - half))
        x_hi = min(w, int(max(e[0] for e in ends) + half) + 1)
        y_lo = max(0, int(min(e[1] for e in ends) - half))
        y_hi = min(h, int(max(e[1] for e in ends) + half) + 1)
        rgb = image[:, y_lo:y_hi, x_lo:x_hi].float().div(255)[None]
        wh, ww = y_hi - y_lo, x_hi - x_lo
        thetas = []
        for t in range(frames):
            s, a = zoom ** t, spin * t
            x0, y0 = cx + vx * t - x_lo, cy + vy * t - y_lo
            thetas.append([[math.cos(a) * s * c / ww, -math.sin(a) * s * c / ww, (2 * x0 - ww) / ww],
                           [math.sin(a) * s * c / wh, math.cos(a) * s * c / wh, (2 * y0 - wh) / wh]])
        grid = F.affine_grid(torch.tensor(thetas, dtype=torch.float32), [frames, 3, c, c], align_corners=False)
        out = F.grid_sample(rgb.expand(frames, -1, -1, -1), grid, mode="bilinear", padding_mode="reflection",
                            align_corners=False)
        ramp = torch.tensor([light ** t for t in range(frames)], dtype=torch.float32).view(-1, 1, 1, 1)
        y, uv = rgb_to_yuv420((out * ramp).clamp(0, 1))
        return y, uv
