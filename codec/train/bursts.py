"""What every family's ``codec train`` does around its own trainer: the device, starting or resuming a
run, and one time-limited burst.

Kept in one place so that ``--device``, ``--resume``, ``--init-from`` and ``--max-minutes`` mean the
same for every family, with the same messages when they cannot be honoured.
"""

from __future__ import annotations

import logging
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

from codec.errors import UsageError
from codec.models.base import TrainRequest

log = logging.getLogger("codec")


class Trainer(Protocol):
    """The part of a family's trainer that bursts rely on."""

    checkpoint_path: Path
    step: int

    def load(self, path: Path) -> None: ...

    def start_from(self, path: Path) -> None: ...

    def train(self, sampler: Any, max_seconds: float | None = None) -> None: ...


def training_device(request: TrainRequest):
    """``--device``: ``auto`` takes CUDA when torch sees a device, else the CPU."""
    import torch

    if request.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(request.device)


def start_or_resume(trainer: Trainer, request: TrainRequest) -> None:
    """Resume the workdir's checkpoint (``--resume``), refuse to overwrite one otherwise, and load
    ``--init-from`` weights into a new schedule."""
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


def checkpoint_to_export(request: TrainRequest) -> Path:
    """The workdir's checkpoint that ``--export`` turns into a weights file; a usage error when absent."""
    checkpoint = request.workdir / "checkpoint.pt"
    if not checkpoint.exists():
        raise UsageError(f"--export: no checkpoint at {checkpoint}")
    return checkpoint


def run_burst(trainer: Trainer, sampler: Any, request: TrainRequest) -> None:
    """Train until the schedule ends or ``--max-minutes`` pass; the trainer checkpoints as it goes."""
    trainer.train(sampler, max_seconds=None if request.max_minutes is None else 60 * request.max_minutes)
    log.info("checkpoint: %s (step %d)", trainer.checkpoint_path, trainer.step)


def train_on_crops(request: TrainRequest, cfg: Any, make_trainer: Callable[[Any, Path, Any], Trainer],
                   export: Callable[..., None], default_id: str) -> None:
    """``codec train`` for an image family trained on random crops: a burst, or ``--export``.

    ``cfg`` is the family's loaded config (with ``data``, ``crop``, ``exclude``
    and ``steps``); ``--data`` and ``--steps`` override it here. ``export`` is
    the family's ``export_checkpoint(checkpoint, path, model_id, data, info, exclude=...)``.
    """
    import dataclasses

    overrides: dict[str, Any] = {}
    if request.data:
        overrides["data"] = list(request.data)
    if request.steps:
        overrides["steps"] = request.steps
    cfg = dataclasses.replace(cfg, **overrides)
    if request.export:
        export(checkpoint_to_export(request), request.export, request.model_id or default_id, cfg.data,
               {"config": request.config.name}, exclude=tuple(cfg.exclude))
        log.info("wrote %s", request.export)
        return
    from codec.train.crops import CropSampler

    device = training_device(request)
    request.workdir.mkdir(parents=True, exist_ok=True)
    trainer = make_trainer(cfg, request.workdir, device)
    start_or_resume(trainer, request)
    try:
        sampler = CropSampler(cfg.data, cfg.crop, device, exclude=tuple(cfg.exclude))
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %d images, %s, %d/%d steps", len(sampler), device, trainer.step, cfg.steps)
    run_burst(trainer, sampler, request)
