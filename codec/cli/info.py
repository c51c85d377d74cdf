"""``codec info FILE``: validate a file completely, describe it, and say whether it decodes here.

It never imports torch: the container is checked packet by packet, and the
model is matched by id and digest against the registry's declarations, and
the codec parameters by the family's own cheap check.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from codec.cli import exitcodes
from codec.container.header import FileHeader
from codec.container.summary import describe, format_summary, scan
from codec.errors import BadInputError, CodecError

NAME = "info"
HELP = "show what a codec file holds (format, model, source, packets) and whether this installation decodes it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a file written by 'codec encode'")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--check", action="store_true",
                        help="exit 3 unless this installation can decode the file (model installed, weights "
                             "digest known, codec parameters valid); without it only a damaged file fails")


def decodability(header: FileHeader) -> dict[str, Any]:
    """Whether this installation decodes a file with this header: model present, digest known, parameters valid."""
    from codec.models import weights_file
    from codec.zoo import entry_for_header

    try:
        family, entry = entry_for_header(header)
        params = family.check_params(header)
        path = family.weights_path(entry)
        if path is not None and weights_file.stored(path) is None:
            return {"ok": False, "reason": f"weights of {entry.full_id} are missing from this installation"}
    except CodecError as exc:
        return {"ok": False, "reason": str(exc)}
    return {"ok": True, "reason": f"model {entry.full_id} ({family.name} family) is installed", "family": family.name,
            "model": entry.full_id, "params": params}


def run(args: argparse.Namespace) -> int:
    import os
    import stat

    try:
        with open(args.file, "rb") as f:
            st = os.fstat(f.fileno())
            header, totals, end, size = scan(f, size=st.st_size if stat.S_ISREG(st.st_mode) else None)
    except FileNotFoundError:
        raise BadInputError(f"{args.file}: no such file") from None
    except IsADirectoryError:
        raise BadInputError(f"{args.file}: is a folder") from None
    except OSError as exc:
        raise BadInputError(f"{args.file}: cannot read it: {exc.strerror or exc}") from None
    except BadInputError as exc:
        raise exc.in_file(args.file)
    info = describe(header, totals, end, size)
    info["decodable"] = decodability(header)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_summary(info, args.file))
    return exitcodes.BAD_INPUT if args.check and not info["decodable"]["ok"] else exitcodes.OK
