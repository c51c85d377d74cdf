"""Options shared by the coding subcommands: rate controls, and options that media and families declare."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from codec.errors import UsageError
from codec.models.base import Option


def rate_arguments(parser: argparse.ArgumentParser) -> None:
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("-q", "--quality", type=_quality, metavar="N",
                      help="quality level 1 (smallest) .. the model's highest (8 for the image models); "
                           "fractions between levels are allowed")
    rate.add_argument("--bpp", type=float, metavar="X", help="images: target bits per pixel of the whole file")
    rate.add_argument("-b", "--bitrate", metavar="RATE", help="video and audio: target bitrate (6k, 500k, 1.5M)")


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quality must be a number, got {text!r}") from None
    return int(value) if value == int(value) else value


def rate_options(args: argparse.Namespace, rate_unit: str) -> dict[str, Any]:
    """The Writer's rate keywords from ``-q``/``--bpp``/``-b``, checked against the medium's unit."""
    if args.bpp is not None and rate_unit != "bpp":
        raise UsageError("--bpp is for images; give a bitrate with -b for this medium")
    if args.bitrate is not None and rate_unit == "bpp":
        raise UsageError("-b/--bitrate is for video and audio; images take --bpp")
    return {"quality": args.quality, "bpp": args.bpp, "bitrate": args.bitrate}


def add_declared(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    """Add media and family options; one flag declared by several families is added once."""
    seen: set[str] = set()
    for option in options:
        if option.dest in seen:
            continue
        seen.add(option.dest)
        parser.add_argument(*option.flags, dest=option.dest, type=option.type, default=option.default,
                            metavar=option.metavar, help=option.help)


def declared_values(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """The values of declared options the user gave (or that have defaults)."""
    values = {}
    for option in options:
        value = getattr(args, option.dest, None)
        if value is not None:
            values[option.dest] = value
    return values


def refuse_foreign_options(given: dict[str, Any], declared: Iterable[Option], family: str) -> None:
    """A family option the user gave that this file's (or model's) family does not declare is a usage
    error: ``--groups`` on a hyperprior file must not be silently ignored."""
    ours = {o.dest for o in declared}
    known = {o.dest: o for f in _all_family_options() for o in f}
    for dest, value in given.items():
        option = known.get(dest)
        if dest not in ours and option is not None and value != option.default:
            raise UsageError(f"{option.flags[0]} does not apply to the {family} family's models")


def _all_family_options() -> list[tuple[Option, ...]]:
    from codec.zoo import families

    return [tuple(f.encode_options) + tuple(f.decode_options) for f in families()]


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options every subcommand accepts, before or after its name."""
    def default(value):
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("general options")
    verbosity = group.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", action="store_true", default=default(False),
                           help="print errors only")
    verbosity.add_argument("-v", "--verbose", action="store_true", default=default(False),
                           help="print progress details")
    overwrite = group.add_mutually_exclusive_group()
    # None (neither flag) lets each command apply its default: single-file commands refuse an
    # existing output, transcode keeps complete outputs and redoes damaged ones.
    overwrite.add_argument("-y", dest="overwrite", action="store_const", const=True, default=default(None),
                           help="overwrite output files without asking")
    overwrite.add_argument("-n", dest="overwrite", action="store_const", const=False, default=default(None),
                           help="never overwrite output files (for single files also the default: an "
                                "existing output is an error)")
    group.add_argument("--debug", action="store_true", default=default(False),
                       help="show tracebacks for errors (for bug reports)")
