"""``codec encode INPUT -o FILE``: compress an image, a video or an audio file with a learned codec.

The medium follows the input (its extension, or ``--media``); the model is
the medium's default or ``--model``. Options of the installed media and
model families (``--max-pixels``, ``--intra-period``, ...) are added from
their declarations, so a new family brings its own options.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from codec.cli import exitcodes
from codec.cli.options import (add_declared, declared_values, rate_arguments, rate_options,
                                refuse_foreign_options)
from codec.cli.output import check_output
from codec.cli.progress import progress_for
from codec.errors import BadInputError

NAME = "encode"
HELP = "compress an image, video or audio file to an .nmc file"
log = logging.getLogger("codec")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from codec.media import all_media
    from codec.zoo import families

    parser.add_argument("input", help="media file (PNG, JPEG, ...; video and audio when their models are "
                                      "installed), or - for standard input with --media")
    parser.add_argument("-o", "--output", help="output file (default: INPUT with .nmc; - for standard output)")
    rate_arguments(parser)
    parser.add_argument("--model", metavar="ID", help="model id (id or id@revision) or family name; "
                                                      "default: the medium's default ('codec models' lists them)")
    parser.add_argument("--weights", metavar="FILE", help="code with this weights file (e.g. a training run's "
                                                          "export) instead of an installed model")
    parser.add_argument("--media", choices=[m.name for m in all_media()],
                        help="the input's medium when its extension does not tell")
    parser.add_argument("--preset", default="fast", help="encoder effort: fast (default), medium, slow; "
                                                         "the file and the decoder are the same")
    parser.add_argument("--time-limit", type=float, metavar="S", help="stop encode-time optimisation after S "
                                                                      "seconds and code the best result so far")
    parser.add_argument("--threads", type=int, default=1, help="entropy-coder threads (the file is the same)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_declared(parser, [o for m in all_media() for o in m.encode_options] +
                 [o for f in families() for o in f.encode_options])


def run(args: argparse.Namespace) -> int:
    from codec.media import medium_named
    from codec.stream import Writer, media_of
    from codec.zoo import families, resolve

    media = media_of(args.input, args.media)
    medium = medium_named(media)
    weights = _weights(args.weights)
    if weights is None:
        resolve(args.model, medium.media_type)  # no model for this medium, or an unknown --model: before reading
    output = args.output or ("-" if args.input == "-" else str(Path(args.input).with_suffix(".nmc")))
    if output != "-":
        check_output(Path(output), args.overwrite)
    source_options = declared_values(args, medium.encode_options)
    model_options = declared_values(args, [o for f in families() for o in f.encode_options])
    progress = progress_for(args)
    start = time.monotonic()
    source_arg = _stdin() if args.input == "-" else args.input
    with medium.open_source(source_arg, source_options) as source:
        log.debug("%s: %s, %s (read in %.2fs)", args.input, medium.name, describe_source(source.info),
                  time.monotonic() - start)
        for note in getattr(source, "notes", ()):
            log.info("%s: %s", args.input, note)
        loading = time.monotonic()
        with Writer(output, media=media, model=args.model, source=source.info, preset=args.preset,
                    threads=args.threads, device=args.device, time_limit=args.time_limit, progress=progress,
                    overwrite=bool(args.overwrite), model_options=model_options, weights=weights,
                    **rate_options(args, medium.rate_unit)) as writer:
            refuse_foreign_options(model_options, writer.model.family.encode_options, writer.model.family.name)
            log.debug("model %s (%s family), ready in %.2fs", writer.model.entry.full_id, writer.model.family.name,
                      time.monotonic() - loading)
            for item in source:
                writer.write(item)
    size = writer.bytes_written
    rate = medium.rate(size, source.info, frames=writer.items)
    rate_text = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in rate.items())
    log.info("%s -> %s: %s, %d bytes, %s (%.2fs)", args.input, output, writer.model.entry.full_id, size,
             rate_text, time.monotonic() - start)
    reached = rate.get("bits_per_pixel")
    if args.bpp is not None and reached is not None and reached > args.bpp:
        log.warning("%s: %s cannot go as low as %g bpp on this image; wrote its smallest file, %.4g bpp",
                    args.input, writer.model.entry.full_id, args.bpp, reached)
    return exitcodes.OK


def describe_source(info) -> str:
    """A few words on a source for ``-v``: its size, layout or sample rate, whichever it has."""
    words = []
    if info.width is not None:
        words.append(f"{info.width}x{info.height}")
    if info.components is not None:
        words.append(f"{info.components} component{'s' if info.components != 1 else ''}")
    if info.bit_depth is not None:
        words.append(f"{info.bit_depth}-bit")
    if info.frame_rate is not None:
        words.append(f"{float(info.frame_rate):g} fps")
    if info.sample_rate is not None:
        words.append(f"{info.sample_rate} Hz, {info.channels} channel{'' if info.channels == 1 else 's'}")
    return ", ".join(words)


def _weights(path: str | None):
    """The model of a weights file given with --weights (read and checked now, before any input)."""
    if path is None:
        return None
    from codec.zoo import load_weights_file

    try:
        return load_weights_file(path)
    except OSError as exc:
        raise BadInputError(f"cannot read weights {path}: {exc.strerror or exc}") from None


def _stdin():
    import sys

    return sys.stdin.buffer
