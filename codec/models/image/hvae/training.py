"""``codec train hvae``: training bursts and the export of the shipped weights file."""

from __future__ import annotations

import dataclasses
import logging

from codec.errors import UsageError
from codec.models.base import TrainRequest

log = logging.getLogger("codec")
DEFAULT_ID = "hvae-small"


def train(request: TrainRequest) -> None:
    import torch

    from codec.models.image.hvae.train_config import HvaeTrainConfig
    from codec.models.image.hvae.trainer import HvaeTrainer
    from codec.train.crops import CropSampler

    cfg = HvaeTrainConfig.load(request.config)
    overrides = {}
    if request.data:
        overrides["data"] = list(request.data)
    if request.steps:
        overrides["steps"] = request.steps
    cfg = dataclasses.replace(cfg, **overrides)
    if request.export:
        _export(request, cfg)
        return
    device = torch.device("cuda" if request.device == "auto" and torch.cuda.is_available()
                          else "cpu" if request.device == "auto" else request.device)
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = HvaeTrainer(cfg, request.workdir, device)
    if request.resume:
        if not trainer.checkpoint_path.exists():
            raise UsageError(f"--resume: no checkpoint at {trainer.checkpoint_path}")
        trainer.load(trainer.checkpoint_path)
        log.info("resumed at step %d", trainer.step)
    elif trainer.checkpoint_path.exists():
        raise UsageError(f"{trainer.checkpoint_path} exists: pass --resume to continue it or use another --workdir")
    if request.init_from:
        try:
            trainer.start_from(request.init_from)
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise UsageError(f"--init-from {request.init_from}: {exc}") from None
        log.info("started from the weights of %s", request.init_from)
    try:
        sampler = CropSampler(cfg.data, cfg.crop, device, exclude=tuple(cfg.exclude))
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %d images, %s, %d/%d steps", len(sampler), device, trainer.step, cfg.steps)
    trainer.train(sampler, max_seconds=None if request.max_minutes is None else 60 * request.max_minutes)
    log.info("checkpoint: %s (step %d, %.0f s of training)", trainer.checkpoint_path, trainer.step, trainer.seconds)


def _export(request: TrainRequest, cfg) -> None:
    from codec.models.image.hvae.export import export_checkpoint

    checkpoint = request.workdir / "checkpoint.pt"
    if not checkpoint.exists():
        raise UsageError(f"--export: no checkpoint at {checkpoint}")
    export_checkpoint(checkpoint, request.export, request.model_id or DEFAULT_ID, cfg.data,
                      {"config": request.config.name}, exclude=tuple(cfg.exclude))
    log.info("wrote %s", request.export)
