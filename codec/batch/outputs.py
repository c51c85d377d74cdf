"""What a finished output is, how temporaries are named and swept, and the overwrite policy.

Outputs are written by :mod:`codec.io.atomic`: a temporary file named
``.nmc-partial-<final name>.<8 random characters>`` in the destination folder,
renamed only once complete and verified. A job killed at any moment leaves at
worst such temporaries, never a partial file under a final name; the next run
removes the temporaries of every item it visits.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from codec.batch import kinds
from codec.container import parse_container
from codec.errors import BadInputError
from codec.io.atomic import TEMP_PREFIX

# tempfile.mkstemp's random part: 8 characters from this alphabet
_RANDOM_SUFFIX = r"\.[a-z0-9_]{8}"


class Overwrite(str, Enum):
    """What to do with an output that already exists."""

    IF_INVALID = "if-invalid"  # default: keep complete, valid outputs; redo missing or damaged ones
    ALWAYS = "always"          # -y: redo everything
    NEVER = "never"            # -n: never replace; an existing invalid output is reported as a failure


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def stale_temporaries(output: Path) -> list[Path]:
    """Temporaries a killed run left for this output (and only this one)."""
    pattern = re.compile(re.escape(TEMP_PREFIX + output.name) + _RANDOM_SUFFIX)
    try:
        return [p for p in output.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []


def remove_stale_temporaries(output: Path) -> None:
    for path in stale_temporaries(output):
        path.unlink(missing_ok=True)


def verify_coded(path: Path) -> None:
    """An .nmc file is complete when it parses and every checksum holds."""
    parse_container(path.read_bytes())


def verify_output(path: Path) -> None:
    """Raise BadInputError unless ``path`` is a complete, valid output of its kind."""
    try:
        if kinds.is_coded_file(path):
            verify_coded(path)
            return
        kind = next((k for k in kinds.all_kinds() if path.suffix.lower().lstrip(".") in k.output_formats), None)
        if kind is None:
            raise BadInputError(f"{path.name}: no media kind writes this extension")
        kind.verify_media(path)
    except OSError as exc:
        raise BadInputError(f"cannot read {path.name}: {exc.strerror or exc}") from None


def existing_output_problem(path: Path) -> str | None:
    """None when ``path`` is a complete, valid output; otherwise why it is not."""
    try:
        verify_output(path)
    except BadInputError as exc:
        return str(exc)
    return None
