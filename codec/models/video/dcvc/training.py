"""``codec train dcvc``: the video trainer behind the family's train request (and ``--export``)."""

from __future__ import annotations

import dataclasses
import logging

from codec.errors import UsageError
from codec.models.base import TrainRequest

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
    device = torch.device("cuda" if request.device == "auto" and torch.cuda.is_available()
                          else "cpu" if request.device == "auto" else request.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if request.export:
        _export(request, cfg)
        return
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = VideoTrainer(cfg, request.workdir, device)
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
        sampler = ClipSampler(cfg.videos, cfg.images, cfg.crop, exclude=tuple(cfg.exclude), synthetic=cfg.synthetic)
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %s, %d/%d steps", device, trainer.step, cfg.steps)
    trainer.train(sampler, max_seconds=None if request.max_minutes is None else 60 * request.max_minutes)
    log.info("checkpoint: %s (step %d)", trainer.checkpoint_path, trainer.step)


def _export(request: TrainRequest, cfg) -> None:
    from codec.models.video.dcvc.export import export_checkpoint

    checkpoint = request.workdir / "checkpoint.pt"
    if not checkpoint.exists():
        raise UsageError(f"--export: no checkpoint at {checkpoint}")
    export_checkpoint(checkpoint, request.export, request.model_id or "dcvc-small", cfg,
                      {"config": request.config.name})
    log.info("wrote %s", request.export)
