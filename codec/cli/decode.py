"""``codec decode FILE -o IMAGE``: decode an .nmc file; the image format follows the extension."""

from __future__ import annotations

import argparse
import io
import logging
import time
from pathlib import Path

from PIL import Image

from codec.cli import exitcodes
from codec.cli.output import check_output, write_output
from codec.errors import BadInputError, UsageError

NAME = "decode"
HELP = "decode an .nmc file to an image (PNG by default; format from the output's extension)"
log = logging.getLogger("codec")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="an .nmc file")
    parser.add_argument("-o", "--output", help="output image (default: INPUT with .png)")
    parser.add_argument("--threads", type=int, default=1, help="entropy-decoder threads")


def _format_for(path: Path) -> str:
    ext = path.suffix.lower()
    formats = Image.registered_extensions()
    if ext not in formats or formats[ext] not in Image.SAVE:
        raise UsageError(f"cannot write images with extension {ext!r}; use .png, .bmp, .tiff, .webp, .jpg, ...")
    return formats[ext]


def run(args: argparse.Namespace) -> int:
    from codec.api import decode_image

    output = Path(args.output) if args.output else Path(args.input).with_suffix(".png")
    fmt = _format_for(output)
    check_output(output, args.overwrite)
    start = time.monotonic()
    try:
        data = Path(args.input).read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {args.input}: {exc.strerror or exc}") from None
    try:
        image = decode_image(data, output="pil", threads=args.threads)
    except BadInputError as exc:
        raise exc.in_file(args.input)
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    write_output(output, buf.getvalue(), args.overwrite)
    log.info("%s -> %s: %dx%d (%.2fs)", args.input, output, image.width, image.height, time.monotonic() - start)
    return exitcodes.OK
