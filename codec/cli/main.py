"""Entry point of the ``codec`` command: parsing, logging and error-to-exit-code mapping.

Every subcommand is a module with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; adding one is adding it to ``SUBCOMMANDS``. Errors
the package raises on purpose (``codec.errors``) become one line on stderr
and an exit code from ``codec.cli.exitcodes``; anything else is a bug and is
reported as such, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import logging
import sys
import traceback
from collections.abc import Sequence

from codec import __version__
from codec.cli import eval as eval_command
from codec.cli import decode, encode, exitcodes, info, models, train, transcode
from codec.cli.options import add_global_options
from codec.errors import BadInputError, CodecError, OutputError, UsageError

SUBCOMMANDS = (encode, decode, info, models, transcode, eval_command, train)
log = logging.getLogger("codec")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors share the error path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\nTry '{self.prog} --help'.")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command``, only that subcommand's own arguments are built.

    Building a subcommand's arguments imports what it declares options from
    (the media and model registries, the evaluator's codecs), so ``codec info``
    and ``codec --help`` build only what they show and start fast.
    """
    parser = _Parser(
        prog="codec",
        description="Neural media codec: learned compression of images, video and audio.",
        epilog="Exit codes: 0 success, 1 internal error, 2 usage error, 3 bad input, 4 output error, "
               "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"codec {__version__}")
    add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in SUBCOMMANDS:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        if command is None or command == module.NAME:
            module.add_arguments(p)
        add_global_options(p, suppress=True)
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


def _command_in(argv: list[str]) -> str:
    """The subcommand named in ``argv``: its first word that is not an option (general options take no value)."""
    return next((word for word in argv if not word.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (also used by the console script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser(_command_in(argv))
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return exitcodes.USAGE_ERROR
        _configure_logging(args)
        return args.run(args)
    except BrokenPipeError:
        # the reader of our output went away (codec info f | head): nothing more to say to it
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return exitcodes.OUTPUT_ERROR
    except KeyboardInterrupt:
        print("codec: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except MemoryError:
        if debug:
            traceback.print_exc()
        print("codec: error: not enough memory for this input", file=sys.stderr)
        return exitcodes.BAD_INPUT
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
