"""Training images held on the training device and cut into random crops in one step.

All images live in one padded uint8 tensor on the device, so a batch of
crops is a single gather (no Python loop, no host-to-device copy per step),
which keeps a GPU busy with the model instead of with data loading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from codec.media.image import image_extensions



def _load(path: Path, crop: int) -> np.ndarray | None:
    """RGB uint8 HWC; JPEG sources big enough are halved (Lanczos) to hide block artefacts."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if path.suffix.lower() in (".jpg", ".jpeg") and min(im.size) >= 2 * crop:
            im = im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
        if min(im.size) < crop:
            return None
        return np.asarray(im)


class CropSampler:
    """Random crops with horizontal and vertical flips from a folder tree of images."""

    def __init__(self, folders: list[str], crop: int, device: torch.device, *, exclude: tuple[str, ...] = ()) -> None:
        paths = sorted(p for folder in folders for p in Path(folder).rglob("*")
                       if p.suffix.lower() in image_extensions() and not any(x in str(p) for x in exclude))
        images = [im for im in (_load(p, crop) for p in paths) if im is not None]
        if not images:
            raise ValueError(f"no training images of at least {crop}x{crop} under {folders}")
        h = max(im.shape[0] for im in images)
        w = max(im.shape[1] for im in images)
        packed = np.zeros((len(images), h, w, 3), dtype=np.uint8)
        for i, im in enumerate(images):
            packed[i, : im.shape[0], : im.shape[1]] = im
        self.images = torch.from_numpy(packed).to(device)
        self.sizes = torch.tensor([im.shape[:2] for im in images], device=device)
        self.crop = crop
        self.device = device
        offs = torch.arange(crop, device=device)
        self._dy, self._dx = offs[:, None], offs[None, :]

    def __len__(self) -> int:
        return self.images.shape[0]

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """(batch, 3, crop, crop) float32 in [0, 1]."""
        dev = self.device
        idx = torch.randint(len(self), (batch,), generator=generator, device=dev)
        limits = self.sizes[idx] - self.crop + 1
        y0 = (torch.rand(batch, generator=generator, device=dev) * limits[:, 0]).long()
        x0 = (torch.rand(batch, generator=generator, device=dev) * limits[:, 1]).long()
        ys = y0[:, None, None] + self._dy
        xs = x0[:, None, None] + self._dx
        crops = self.images[idx[:, None, None], ys, xs]  # (B, crop, crop, 3)
        flips = torch.rand(batch, 2, generator=generator, device=dev) < 0.5
        crops = torch.where(flips[:, 0, None, None, None], crops.flip(2), crops)
        crops = torch.where(flips[:, 1, None, None, None], crops.flip(1), crops)
        return crops.permute(0, 3, 1, 2).float().div_(255)
