"""Entry point of the ``codec`` command: parsing, logging and error-to-exit-code mapping.

Every subcommand is a module with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; adding one is adding it to ``SUBCOMMANDS``. Errors
the package raises on purpose (``codec.errors``) become one line on stderr
and an exit code from ``codec.cli.exitcodes``; anything else is a bug and is
reported as such, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from codec import __version__
from codec.cli import eval as eval_command
from codec.cli import decode, encode, exitcodes, info, train, transcode
from codec.errors import BadInputError, CodecError, OutputError, UsageError

SUBCOMMANDS = (encode, decode, info, eval_command, train, transcode)
log = logging.getLogger("codec")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors share the error path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\nTry '{self.prog} --help'.")


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="codec",
        description="Neural media codec: learned compression of images, video and audio.",
        epilog="Exit codes: 0 success, 1 internal error, 2 usage error, 3 bad input, 4 output error, "
               "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"codec {__version__}")
    _add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in SUBCOMMANDS:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        _add_global_options(p, suppress=True)
        p.set_defaults(run=module.run)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """Our messages go to stderr at the chosen level; other libraries' loggers stay untouched."""
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    log.setLevel(level)
    for old in list(log.handlers):  # a second main() in one process writes to the stderr of now
        log.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (also used by the console script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return exitcodes.USAGE_ERROR
        _configure_logging(args)
        return args.run(args)
    except KeyboardInterrupt:
        print("codec: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except CodecError as exc:
        if debug:
            traceback.print_exc()
        print(f"codec: error: {exc}", file=sys.stderr)
        if isinstance(exc, UsageError):
            return exitcodes.USAGE_ERROR
        if isinstance(exc, OutputError):
            return exitcodes.OUTPUT_ERROR
        if isinstance(exc, BadInputError):
            return exitcodes.BAD_INPUT
        return exitcodes.INTERNAL_ERROR
    except Exception as exc:  # a bug: say so, with the traceback on request
        if debug:
            traceback.print_exc()
        print(f"codec: internal error: {type(exc).__name__}: {exc}\n"
              f"This is a bug; rerun with --debug and report the traceback.", file=sys.stderr)
        return exitcodes.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
