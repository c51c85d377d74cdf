"""Turning a training checkpoint into the shipped weights file.

This is where the top-down path's floats become integers (calibrated on
training crops) and where the CDF tables are built, once, to be stored.
"""

from __future__ import annotations

from pathlib import Path

import torch

from codec.io.atomic import atomic_output
from codec.models.image.hvae.conversion import to_integer
from codec.models.image.hvae.model_file import model_file_bytes
from codec.models.image.hvae.network import HvaeConfig, HvaeModel, parameter_count
from codec.models.image.hvae.tables import SCALE_GRID, build_tables, scale_grid
from codec.models.image.hyperprior.export import calibration_batch
from codec.train.ema import load_ema


def export_model(model: HvaeModel, calibration: torch.Tensor, model_id: str, info: dict) -> bytes:
    """The weights file of a float model: its integer path calibrated on ``calibration`` crops."""
    path = to_integer(model, calibration, scale_grid())
    tables = build_tables()
    info = dict(info, scale_grid=list(SCALE_GRID), parameters=parameter_count(model))
    return model_file_bytes(model_id, model, path, tables, info)


def export_checkpoint(checkpoint: str | Path, out: str | Path, model_id: str, calibration_folders: list[str],
                      info: dict, *, exclude: tuple[str, ...] = ("kodak",)) -> None:
    model, state = load_ema(checkpoint, lambda config: HvaeModel(HvaeConfig.from_dict(config)))
    images = calibration_batch(calibration_folders, exclude)
    info = dict(info, step=int(state["step"]), train_seconds=round(float(state.get("seconds", 0.0))))
    data = export_model(model, images, model_id, info)
    with atomic_output(Path(out), overwrite=True) as f:
        f.write(data)
