"""What a finished output is, how temporaries are named and swept, and the overwrite policy.

Outputs are written by :mod:`codec.io.atomic`: a temporary file named
``.nmc-partial-<final name>.<8 random characters>`` in the destination folder,
renamed only once complete and verified. A job killed at any moment leaves at
worst such temporaries, never a partial file under a final name; the next run
removes the temporaries of every item it visits.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from codec.batch import kinds
from codec.container.summary import check_file
from codec.errors import BadInputError
from codec.io.atomic import TEMP_PREFIX
from codec.media import all_media


class Overwrite(str, Enum):
    """What to do with an output that already exists."""

    IF_INVALID = "if-invalid"  # default: keep complete, valid outputs; redo missing or damaged ones
    ALWAYS = "always"          # -y: redo everything
    NEVER = "never"            # -n: never replace; an existing invalid output is reported as a failure


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def verify_coded(path: Path) -> None:
    """An .nmc file is complete when it parses and every checksum holds (read packet by packet)."""
    check_file(path)


def verify_output(path: Path) -> None:
    """Raise BadInputError unless ``path`` is a complete, valid output of its kind."""
    try:
        if kinds.is_coded_file(path):
            verify_coded(path)
            return
        fmt = path.suffix.lower().lstrip(".")
        medium = next((m for m in all_media() if fmt in m.output_formats()), None)
        if medium is None:
            raise BadInputError(f"{path.name}: no medium writes this extension")
        medium.verify_file(path)
    except OSError as exc:
        raise BadInputError(f"cannot read {path.name}: {exc.strerror or exc}") from None


def existing_output_problem(path: Path) -> str | None:
    """None when ``path`` is a complete, valid output; otherwise why it is not."""
    try:
        verify_output(path)
    except BadInputError as exc:
        return str(exc)
    return None
