"""``codec encode IMAGE -o FILE``: compress an image with a learned codec."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from codec.cli import exitcodes
from codec.container import parse_container
from codec.cli.output import check_output, write_output
from codec.zoo import DEFAULT_IMAGE_MODEL, IMAGE_MODELS

NAME = "encode"
HELP = "compress an image to an .nmc file"
log = logging.getLogger("codec")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="image file (PNG, JPEG, WebP, TIFF, BMP, ...)")
    parser.add_argument("-o", "--output", help="output file (default: INPUT with .nmc)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("-q", "--quality", type=int, metavar="N", help="quality level 1 (smallest) .. 8 (best); default 4")
    rate.add_argument("--bpp", type=float, metavar="X", help="target bits per pixel of the whole file")
    parser.add_argument("--model", default=DEFAULT_IMAGE_MODEL, choices=sorted(IMAGE_MODELS), help="model id")
    parser.add_argument("--threads", type=int, default=1, help="entropy-coder threads (the file is the same)")


def _verify(path: Path) -> None:
    parse_container(path.read_bytes())


def run(args: argparse.Namespace) -> int:
    from codec.api import encode_image

    output = Path(args.output) if args.output else Path(args.input).with_suffix(".nmc")
    check_output(output, args.overwrite)
    start = time.monotonic()
    data = encode_image(args.input, quality=args.quality, bpp=args.bpp, model=args.model, threads=args.threads)
    write_output(output, data, args.overwrite, verify=_verify)
    log.info("%s -> %s: %d bytes (%.2fs)", args.input, output, len(data), time.monotonic() - start)
    return exitcodes.OK
