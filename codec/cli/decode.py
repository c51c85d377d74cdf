"""``codec decode FILE -o OUTPUT``: decode an .nmc file; the output format follows the extension.

The file is read and validated packet by packet, so memory stays bounded
whatever the input (even ``/dev/zero`` or a huge sparse file is refused at
its first bytes). A damaged video or audio file decodes every intact item
before the damage into the output, then reports the damage (exit 3).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from codec.cli import exitcodes
from codec.cli.encode import describe_source
from codec.cli.options import add_declared, declared_values, refuse_foreign_options
from codec.cli.output import check_output
from codec.cli.progress import progress_for
from codec.errors import CorruptStreamError, UsageError

NAME = "decode"
HELP = "decode an .nmc file (image: PNG by default; the format follows the output's extension)"
log = logging.getLogger("codec")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from codec.media import all_media
    from codec.zoo import families

    parser.add_argument("input", help="an .nmc file, or - for standard input")
    parser.add_argument("-o", "--output", help="output file (default: INPUT with the medium's default "
                                               "extension; - for standard output with --format)")
    parser.add_argument("--format", metavar="EXT", help="output format when the output's extension does not "
                                                        "say (e.g. with -o -)")
    parser.add_argument("--threads", type=int, default=1, help="entropy-decoder threads")
    parser.add_argument("--weights", metavar="FILE", help="decode with this weights file (the one the file was "
                                                          "coded with, e.g. a training run's export)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_declared(parser, [o for m in all_media() for o in m.decode_options] +
                 [o for f in families() for o in f.decode_options])


def run(args: argparse.Namespace) -> int:
    from codec.media import medium_for_output
    from codec.stream import Reader
    from codec.zoo import families

    start = time.monotonic()
    source = "-" if args.input == "-" else args.input
    model_options = declared_values(args, [o for f in families() for o in f.decode_options])
    from codec.cli.encode import _weights

    with Reader(source, threads=args.threads, device=args.device, progress=progress_for(args),
                model_options=model_options, weights=_weights(args.weights)) as reader:
        medium = reader.medium
        refuse_foreign_options(model_options, reader.model.family.decode_options, reader.model.family.name)
        log.debug("%s: %s, %s, model %s (%s family), ready in %.2fs", args.input, medium.name,
                  describe_source(reader.header.source), reader.model.entry.full_id, reader.model.family.name,
                  time.monotonic() - start)
        requested = args.format.lower().lstrip(".") if args.format else None
        default_format = requested or medium.output_formats()[0]
        output = args.output or ("-" if args.input == "-" else str(Path(args.input).with_suffix("." + default_format)))
        if output == "-":
            fmt = default_format
        else:
            fmt = requested or medium_for_output(Path(output), reader.header.media_type)
            check_output(Path(output), args.overwrite)
        if fmt not in medium.output_formats():
            raise UsageError(f"{medium.name} cannot be written as {fmt!r}; "
                             f"choose from {', '.join(medium.output_formats())}")
        sink_options = {"overwrite": bool(args.overwrite), **declared_values(args, medium.decode_options)}
        sink = medium.open_sink(output, fmt, reader.header.source, sink_options)
        decoding = time.monotonic()
        try:
            for item in reader.decoded():
                sink.write(item)
        except CorruptStreamError as exc:
            if reader.items and medium.name != "image":
                sink.close()
                raise CorruptStreamError(f"{exc}; the {reader.items} {medium.item_name}s before the damage "
                                         f"were written to {output}") from None
            sink.abort()
            raise
        except BaseException:
            sink.abort()
            raise
        sink.close()
    log.debug("decoded and written in %.2fs", time.monotonic() - decoding)
    log.info("%s -> %s: %s, %d %s%s (%.2fs)", args.input, output, reader.header.model_id, reader.items,
             medium.item_name, "" if reader.items == 1 else "s", time.monotonic() - start)
    return exitcodes.OK
