"""``codec info FILE``: validate a file completely and describe it."""

from __future__ import annotations

import argparse
import json

from codec.cli import exitcodes
from codec.container.reader import open_container
from codec.container.summary import format_summary, summarize
from codec.errors import BadInputError

NAME = "info"
HELP = "show what a codec file holds (format, model, source, packets) after checking every checksum"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a file written by 'codec encode'")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    try:
        file = open_container(args.file)
    except OSError as exc:
        raise BadInputError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except BadInputError as exc:
        raise exc.in_file(args.file)
    info = summarize(file)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_summary(info, args.file))
    return exitcodes.OK

