"""``codec train dcvc``: the video trainer behind the family's train request (and ``--export``)."""

from __future__ import annotations

import dataclasses
import logging

from codec.errors import UsageError
from codec.models.base import TrainRequest
from codec.train.bursts import checkpoint_to_export, run_burst, start_or_resume, training_device

log = logging.getLogger("codec")


def train(request: TrainRequest) -> None:
    import torch

    from codec.models.video.dcvc.data import ClipSampler
    from codec.models.video.dcvc.train_config import VideoTrainConfig
    from codec.models.video.dcvc.trainer import VideoTrainer

    cfg = VideoTrainConfig.load(request.config)
    overrides = {}
    if request.data:
        overrides["videos"] = list(request.data)
    if request.steps:
        overrides["steps"] = request.steps
    cfg = dataclasses.replace(cfg, **overrides)
    device = training_device(request)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if request.export:
        _export(request, cfg)
        return
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = VideoTrainer(cfg, request.workdir, device)
    start_or_resume(trainer, request)
    try:
        sampler = ClipSampler(cfg.videos, cfg.images, cfg.crop, exclude=tuple(cfg.exclude), synthetic=cfg.synthetic)
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %s, %d/%d steps", device, trainer.step, cfg.steps)
    run_burst(trainer, sampler, request)


def _export(request: TrainRequest, cfg) -> None:
    from codec.models.video.dcvc.export import export_checkpoint

    checkpoint = checkpoint_to_export(request)
    export_checkpoint(checkpoint, request.export, request.model_id or "dcvc-small", cfg,
                      {"config": request.config.name})
    log.info("wrote %s", request.export)
