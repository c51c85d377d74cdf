"""Turning a training checkpoint into the shipped model file.

This is where the model's floats become the integers of the entropy path
and where the CDF tables are built, once, to be stored in the file.
"""

from __future__ import annotations


from pathlib import Path

import numpy as np
import torch
from PIL import Image

from codec.entropy.cdf import gaussian_pmf, log_scale_grid, table_arrays
from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel
from codec.models.image.hyperprior.integer_path import IntegerEntropyPath
from codec.models.image.hyperprior.model_file import save_model_file
from codec.media.image import image_extensions

SCALE_GRID = (0.11, 256.0, 64)  # min, max, count of the y tables
CALIBRATION_IMAGES = 24
CALIBRATION_CROP = 256


def calibration_batch(folders: list[str], exclude: tuple[str, ...] = ("kodak",)) -> torch.Tensor:
    """Centre crops of the first images (sorted by path) of the training folders."""
    paths = sorted(p for folder in folders for p in Path(folder).rglob("*")
                   if p.suffix.lower() in image_extensions() and not any(x in str(p) for x in exclude))
    crops = []
    for p in paths[:: max(1, len(paths) // CALIBRATION_IMAGES)][:CALIBRATION_IMAGES]:
        with Image.open(p) as im:
            im = im.convert("RGB")
            if min(im.size) < CALIBRATION_CROP:
                continue
            left, top = (im.width - CALIBRATION_CROP) // 2, (im.height - CALIBRATION_CROP) // 2
            crops.append(np.asarray(im.crop((left, top, left + CALIBRATION_CROP, top + CALIBRATION_CROP))))
    if not crops:
        raise ValueError(f"no calibration images under {folders}")
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def export_checkpoint(checkpoint: str | Path, out: str | Path, model_id: str, calibration_folders: list[str],
                      info: dict, *, exclude: tuple[str, ...] = ("kodak",)) -> None:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = HyperpriorConfig.from_dict(state["model_config"])
    model = HyperpriorImageModel(config)
    model.load_state_dict(state["ema"])
    model.eval()
    images = calibration_batch(calibration_folders, exclude)
    # Calibrate on every image at the lowest and the highest level: activations peak there.
    batch = torch.cat([images, images])
    levels = torch.cat([torch.zeros(len(images)), torch.full((len(images),), float(config.levels - 1))])
    grid = log_scale_grid(*SCALE_GRID)
    integer_path = IntegerEntropyPath.from_float(model, batch, levels, torch.from_numpy(grid))
    z_scales = torch.exp(model.z_log_scale.detach()).double().tolist()
    z_tables = table_arrays([gaussian_pmf(max(s, 0.11)) for s in z_scales])
    y_tables = table_arrays([gaussian_pmf(s) for s in grid])
    info = dict(info, step=int(state["step"]), scale_grid=list(SCALE_GRID),
                parameters=sum(p.numel() for p in model.parameters()))
    save_model_file(out, model_id, model, integer_path, z_tables, y_tables, info)



