"""``codec train hyperprior``: the image trainer (``codec.train``) behind the family's train request."""

from __future__ import annotations

import dataclasses
import logging

from codec.errors import UsageError
from codec.models.base import TrainRequest

log = logging.getLogger("codec")


def train(request: TrainRequest) -> None:
    import torch

    from codec.train.config import TrainConfig
    from codec.train.crops import CropSampler
    from codec.train.image_trainer import ImageTrainer

    cfg = TrainConfig.load(request.config)
    overrides = {}
    if request.data:
        overrides["data"] = list(request.data)
    if request.steps:
        overrides["steps"] = request.steps
    cfg = dataclasses.replace(cfg, **overrides)
    device = torch.device("cuda" if request.device == "auto" and torch.cuda.is_available()
                          else "cpu" if request.device == "auto" else request.device)
    if request.export:
        _export(request, cfg)
        return
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = ImageTrainer(cfg, request.workdir, device)
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
        except (OSError, KeyError, ValueError) as exc:
            raise UsageError(f"--init-from {request.init_from}: {exc}") from None
        log.info("started from the weights of %s", request.init_from)
    try:
        sampler = CropSampler(cfg.data, cfg.crop, device, exclude=tuple(cfg.exclude))
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %d images, %s, %d/%d steps", len(sampler), device, trainer.step, cfg.steps)
    trainer.train(sampler, max_seconds=None if request.max_minutes is None else 60 * request.max_minutes)
    log.info("checkpoint: %s (step %d)", trainer.checkpoint_path, trainer.step)


def _export(request: TrainRequest, cfg) -> None:
    from codec.models.image.hyperprior.export import export_checkpoint

    checkpoint = request.workdir / "checkpoint.pt"
    if not checkpoint.exists():
        raise UsageError(f"--export: no checkpoint at {checkpoint}")
    export_checkpoint(checkpoint, request.export, request.model_id or "hyperprior-vr-small", cfg.data,
                      {"config": request.config.name})
    log.info("wrote %s", request.export)
