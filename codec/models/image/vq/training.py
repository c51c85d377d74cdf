"""``codec train vq``: training bursts and the export of the shipped weights file."""

from __future__ import annotations

import dataclasses
import logging

from codec.errors import UsageError
from codec.models.base import TrainRequest
from codec.train.bursts import checkpoint_to_export, run_burst, start_or_resume, training_device

log = logging.getLogger("codec")
DEFAULT_ID = "vq-small"


def train(request: TrainRequest) -> None:
    from codec.models.image.vq.train_config import VqTrainConfig
    from codec.models.image.vq.trainer import VqTrainer
    from codec.train.crops import CropSampler

    cfg = VqTrainConfig.load(request.config)
    overrides = {}
    if request.data:
        overrides["data"] = list(request.data)
    if request.steps:
        overrides["steps"] = request.steps
    cfg = dataclasses.replace(cfg, **overrides)
    if request.export:
        _export(request, cfg)
        return
    device = training_device(request)
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = VqTrainer(cfg, request.workdir, device)
    start_or_resume(trainer, request)
    try:
        sampler = CropSampler(cfg.data, cfg.crop, device, exclude=tuple(cfg.exclude))
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %d images, %s, %d/%d steps", len(sampler), device, trainer.step, cfg.steps)
    run_burst(trainer, sampler, request)


def _export(request: TrainRequest, cfg) -> None:
    from codec.models.image.vq.export import export_checkpoint

    checkpoint = checkpoint_to_export(request)
    export_checkpoint(checkpoint, request.export, request.model_id or DEFAULT_ID, cfg.data,
                      {"config": request.config.name}, exclude=tuple(cfg.exclude))
    log.info("wrote %s", request.export)
