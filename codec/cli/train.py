"""``codec train image``: train (or continue training) the image model from a config file."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from codec.cli import exitcodes
from codec.errors import UsageError

NAME = "train"
HELP = "train a model from a TOML config; bursts resume exactly with --resume"
log = logging.getLogger("codec")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("media", choices=["image"], help="which model family to train")
    parser.add_argument("--config", required=True, help="TOML config, e.g. codec/train/configs/image-cpu.toml")
    parser.add_argument("--workdir", required=True, help="folder for checkpoint.pt (created if needed)")
    parser.add_argument("--resume", action="store_true", help="continue from WORKDIR/checkpoint.pt")
    parser.add_argument("--init-from", metavar="FILE",
                        help="start a new schedule from another run's checkpoint.pt (its EMA weights) or a "
                             "shipped .safetensors model file, growing the latent channels and moving the "
                             "quality levels to this config's")
    parser.add_argument("--data", action="append", help="image folder (repeatable); overrides the config's")
    parser.add_argument("--steps", type=int, help="override the schedule's total steps")
    parser.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much time")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--export", metavar="FILE",
                        help="instead of training, write the shipped model file (safetensors) from "
                             "WORKDIR/checkpoint.pt: EMA weights, integer entropy path, CDF tables")
    parser.add_argument("--model-id", default="hyperprior-vr-small", help="model id written by --export")


def run(args: argparse.Namespace) -> int:
    import torch

    from codec.train.config import TrainConfig
    from codec.train.crops import CropSampler
    from codec.train.image_trainer import ImageTrainer

    if args.init_from and args.resume:
        raise UsageError("--init-from starts a new schedule; it cannot be combined with --resume")
    cfg = TrainConfig.load(args.config)
    overrides = {}
    if args.data:
        overrides["data"] = [str(Path(d).resolve()) for d in args.data]
    if args.steps:
        overrides["steps"] = args.steps
    cfg = dataclasses.replace(cfg, **overrides)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    workdir = Path(args.workdir)
    if args.export:
        return _export(args, cfg, workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    trainer = ImageTrainer(cfg, workdir, device)
    if args.resume:
        if not trainer.checkpoint_path.exists():
            raise UsageError(f"--resume: no checkpoint at {trainer.checkpoint_path}")
        trainer.load(trainer.checkpoint_path)
        log.info("resumed at step %d", trainer.step)
    elif trainer.checkpoint_path.exists():
        raise UsageError(f"{trainer.checkpoint_path} exists: pass --resume to continue it or use another --workdir")
    if args.init_from:
        try:
            trainer.start_from(Path(args.init_from))
        except (OSError, KeyError, ValueError) as exc:
            raise UsageError(f"--init-from {args.init_from}: {exc}") from None
        log.info("started from the weights of %s", args.init_from)
    try:
        sampler = CropSampler(cfg.data, cfg.crop, device, exclude=tuple(cfg.exclude))
    except (OSError, ValueError) as exc:
        raise UsageError(f"training data: {exc}") from None
    log.info("training on %d images, %s, %d/%d steps", len(sampler), device, trainer.step, cfg.steps)
    trainer.train(sampler, max_seconds=None if args.max_minutes is None else 60 * args.max_minutes)
    log.info("checkpoint: %s (step %d)", trainer.checkpoint_path, trainer.step)
    return exitcodes.OK


def _export(args: argparse.Namespace, cfg, workdir: Path) -> int:
    from codec.models.image.hyperprior.export import export_checkpoint

    checkpoint = workdir / "checkpoint.pt"
    if not checkpoint.exists():
        raise UsageError(f"--export: no checkpoint at {checkpoint}")
    export_checkpoint(checkpoint, args.export, args.model_id, cfg.data, {"config": Path(args.config).name})
    log.info("wrote %s", args.export)
    return exitcodes.OK
