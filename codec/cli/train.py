"""``codec train FAMILY --config CFG --workdir DIR``: train (or continue training) a model family.

The family is named (``hyperprior``, or a medium for its default family);
each family trains in resumable bursts from a TOML config and exports the
shipped weights file with ``--export``. Configs live with the family
(``codec/train/configs/`` for the image hyperprior).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codec.cli import exitcodes
from codec.errors import UsageError

NAME = "train"
HELP = "train a model family from a TOML config; bursts resume exactly with --resume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", help="family name (e.g. hyperprior) or a medium (image, video, audio) for its "
                                       "default family; 'codec models' lists them")
    parser.add_argument("--config", required=True, help="TOML config, e.g. codec/train/configs/image-cpu.toml")
    parser.add_argument("--workdir", required=True, help="folder for checkpoint.pt (created if needed)")
    parser.add_argument("--resume", action="store_true", help="continue from WORKDIR/checkpoint.pt")
    parser.add_argument("--init-from", metavar="FILE",
                        help="start a new schedule from another run's checkpoint.pt or a shipped weights file")
    parser.add_argument("--data", action="append", help="training data folder (repeatable); overrides the config's")
    parser.add_argument("--steps", type=int, help="override the schedule's total steps")
    parser.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much time")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--export", metavar="FILE",
                        help="instead of training, write the weights file from WORKDIR/checkpoint.pt")
    parser.add_argument("--model-id", help="model id written by --export (default: the family's)")


def run(args: argparse.Namespace) -> int:
    from codec.container.source import MediaType
    from codec.models.base import TrainRequest
    from codec.zoo import families, family_named

    if args.init_from and args.resume:
        raise UsageError("--init-from starts a new schedule; it cannot be combined with --resume")
    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps must be positive")
    media = {m.name.lower(): m for m in MediaType}
    if args.family in media:
        found = families(media[args.family])
        if not found:
            raise UsageError(f"no {args.family} family is installed")
        family = found[0]
    else:
        family = family_named(args.family)
    family.train(TrainRequest(
        config=Path(args.config), workdir=Path(args.workdir), resume=args.resume,
        init_from=Path(args.init_from) if args.init_from else None,
        data=tuple(str(Path(d).resolve()) for d in args.data) if args.data else None,
        steps=args.steps, max_minutes=args.max_minutes, device=args.device,
        export=Path(args.export) if args.export else None, model_id=args.model_id))
    return exitcodes.OK
