"""Turning a training checkpoint into the shipped weights bundle.

This is where the float model's exact path becomes integers (calibrated on
rollouts of training clips at the lowest, a middle and the highest quality)
and where the CDF tables are built, once, to be stored in the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from codec.entropy.cdf import gaussian_pmf, log_scale_grid, table_arrays
from codec.io.atomic import write_bytes_atomic
from codec.models.video.dcvc.data import ClipSampler
from codec.models.video.dcvc.integer_path import ExactPath, record_inputs
from codec.models.video.dcvc.model_file import model_bytes
from codec.models.video.dcvc.network import VideoConfig, VideoModel, pack
from codec.models.video.dcvc.schedule import frame_qp
from codec.train.ema import load_ema

SCALE_GRID = (0.11, 256.0, 64)    # min, max, count of the tables (y and z share them)
CALIBRATION_CLIPS = 12
CALIBRATION_FRAMES = 4
CALIBRATION_SEED = 1234


def calibration_inputs(model: VideoModel, luma: torch.Tensor, chroma: torch.Tensor) -> list[dict]:
    """Recorded module inputs over rollouts of clips (B, T, ...) at quality indexes 0, the middle and the highest."""
    batches = []
    for base in (0, model.config.qps // 2, model.config.qps - 1):
        reference = None
        for t in range(luma.shape[1]):
            qp = torch.full((luma.shape[0],), float(frame_qp(base, t)))
            record = record_inputs(model, pack(luma[:, t], chroma[:, t]), reference, qp)
            reference = record["feature"]
            batches.append(record)
    return batches


def bundle_bytes(model: VideoModel, model_id: str, luma: torch.Tensor, chroma: torch.Tensor, info: dict) -> bytes:
    """The weights file of ``model``, its exact path calibrated on clips ``luma`` (B,T,1,H,W), ``chroma``."""
    model.eval()
    grid = log_scale_grid(*SCALE_GRID)
    exact = ExactPath.from_float(model, calibration_inputs(model, luma, chroma), torch.from_numpy(grid))
    tables = table_arrays([gaussian_pmf(s) for s in grid])
    info = dict(info, scale_grid=list(SCALE_GRID), parameters=sum(p.numel() for p in model.parameters()))
    return model_bytes(model_id, model, exact, tables, info)


def export_checkpoint(checkpoint: str | Path, out: str | Path, model_id: str, cfg, info: dict) -> None:
    """Write the weights file of a checkpoint's EMA weights, calibrated on fixed training clips."""
    model, state = load_ema(checkpoint, lambda config: VideoModel(VideoConfig.from_dict(config)))
    sampler = ClipSampler(cfg.videos, cfg.images, cfg.crop, exclude=tuple(cfg.exclude), synthetic=cfg.synthetic,
                          max_frames=60)
    g = torch.Generator()
    g.manual_seed(CALIBRATION_SEED)
    luma, chroma = sampler.sample(CALIBRATION_CLIPS, CALIBRATION_FRAMES, g)
    data = bundle_bytes(model, model_id, luma, chroma, dict(info, step=int(state["step"])))
    write_bytes_atomic(out, data, overwrite=True)
