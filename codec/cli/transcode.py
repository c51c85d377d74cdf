"""``codec transcode -i INPUT -o OUTPUT``: code files, folders and manifests in bulk, resumably.

Direction follows each input's extension: media to ``.nmc`` (encode),
``.nmc`` to media (decode). OUTPUT mirrors INPUT's tree. Outputs appear only
complete and verified, so a killed job is resumed by running it again.
The logic lives in :mod:`codec.batch`; this module is options and messages.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from codec.batch.engines import ENGINES
from codec.batch.items import ItemOptions, Outcome, Status
from codec.batch.job import FAILURES_NAME, JobSpec, dry_run, run_job
from codec.batch.outputs import Overwrite
from codec.batch.report import summary_line, terminal
from codec.cli import exitcodes
from codec.cli.options import rate_arguments
from codec.errors import UsageError
from codec.media import all_media
from codec.stream import parse_bitrate
from codec.zoo import families, installed_models

NAME = "transcode"
HELP = "encode or decode many files (a file, a folder or a manifest), resumably and in parallel"
log = logging.getLogger("codec")

EPILOG = f"""\
Existing outputs: by default an output that is complete and valid is skipped
and a missing or damaged one is (re)done, so rerunning a killed job finishes
it. -y redoes everything; -n never replaces an existing output (a damaged one
is then reported as a failure).

Manifests (.txt/.lst one path per line, .csv with a 'path' column, .jsonl
objects) may give per-item quality, bpp, bitrate, model, preset, format and output.

Failed items are listed in {FAILURES_NAME} in the output folder (or --failures).
Exit codes: 0 all done or skipped, 3 some inputs failed, 4 some outputs could
not be written, 1 internal error, 2 usage error, 130 interrupted."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("-i", "--input", required=True, help="a file, a folder (recursive) or a manifest")
    parser.add_argument("-o", "--output", required=True, help="output folder (or output file for one input)")
    parser.add_argument("--include", action="append", metavar="GLOB",
                        help="only folder files matching GLOB (path relative to INPUT, or name); repeatable")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip folder files matching GLOB; repeatable")
    rate_arguments(parser)
    parser.add_argument("--model", metavar="ID", help="model id or family name (default: each medium's default; "
                                                      "'codec models' lists them)")
    parser.add_argument("--preset", help="encoder effort: fast (default), medium, slow")
    parser.add_argument("--device", help="where the models run: cpu (default) or cuda (on a multi-GPU machine "
                                         "run one job per GPU with CUDA_VISIBLE_DEVICES)")
    parser.add_argument("--format", metavar="EXT", help="format of decoded files (default: the medium's first: "
                                                        "png for images)")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel workers (default: every core)")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="local",
                        help="local process pool (default) or a Ray cluster")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: start Ray locally)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be done; write nothing")
    parser.add_argument("--progress", metavar="FILE", help="write JSON progress lines to FILE ('-' for stdout)")
    parser.add_argument("--failures", metavar="FILE", help=f"failures JSONL (default OUTPUT/{FAILURES_NAME})")


def _spec(args: argparse.Namespace) -> JobSpec:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j must be at least 1")
    if args.quality is not None and not args.quality > 0:
        raise UsageError(f"quality must be positive, got {args.quality}")
    if args.bpp is not None and not args.bpp > 0:
        raise UsageError(f"target bpp must be positive, got {args.bpp}")
    if args.bitrate is not None:
        parse_bitrate(args.bitrate)
    if args.model is not None:
        known = {m.entry.id for m in installed_models()} | {m.entry.full_id for m in installed_models()} | \
            {f.name for f in families()}
        if args.model not in known:
            raise UsageError(f"unknown model {args.model!r}; installed: {', '.join(sorted(known))}")
    if args.format is not None:
        fmt = args.format.lower().lstrip(".")
        if not any(fmt in m.output_formats() for m in all_media()):
            raise UsageError(f"no medium writes --format {args.format!r}")
    return JobSpec(
        input=Path(args.input), output=Path(args.output),
        options=ItemOptions(args.quality, args.bpp, args.model, args.format, args.bitrate, args.preset,
                            args.device),
        include=args.include or ("*",), exclude=args.exclude,
        overwrite=_policy(args.overwrite), workers=args.jobs, engine=args.engine, address=args.address,
        failures=Path(args.failures) if args.failures else None,
    )


def _policy(overwrite: bool | None) -> Overwrite:
    """-y redoes everything, -n replaces nothing (a damaged output is reported), and by
    default complete outputs are kept and damaged ones redone."""
    if overwrite is None:
        return Overwrite.IF_INVALID
    return Overwrite.ALWAYS if overwrite else Overwrite.NEVER


def _log_item(outcome: Outcome) -> None:
    if outcome.status is Status.FAILED:
        log.warning("failed: %s: %s", outcome.source, outcome.reason)
    else:
        log.debug("%s: %s -> %s", outcome.status.value, outcome.source, outcome.output)


def run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    if args.dry_run:
        s = dry_run(spec, sys.stdout)
        log.info("dry run: %d to code, %d skipped (already complete), %d would fail, %d ignored",
                 s.done, s.skipped, s.failed, s.ignored)
        return exitcodes.OK
    with contextlib.ExitStack() as stack:
        progress = None
        if args.progress == "-":
            progress = sys.stdout
        elif args.progress:
            progress = stack.enter_context(open(args.progress, "w", encoding="utf-8"))
        quiet = log.getEffectiveLevel() > logging.INFO
        summary = run_job(spec, progress=progress, bar=None if quiet else terminal(), log_item=_log_item)
    log.info("%s", summary_line(summary, spec.failures_path()))
    if summary.interrupted:
        return exitcodes.INTERRUPTED
    for category, code in (("internal", exitcodes.INTERNAL_ERROR), ("output", exitcodes.OUTPUT_ERROR),
                           ("input", exitcodes.BAD_INPUT)):
        if summary.categories.get(category):
            return code
    return exitcodes.OK
