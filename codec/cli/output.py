"""A command's output: refuse before any work when it exists and may not be replaced."""

from __future__ import annotations

from pathlib import Path

from codec.errors import OutputError, OutputExistsError
from codec.io.atomic import is_stream_target


def check_output(path: Path, overwrite: bool | None) -> None:
    """Fail before any work is done when the output exists and may not be replaced.

    Stream targets (``-``, devices such as ``/dev/null``, FIFOs) are written
    into, never replaced, so neither ``-y`` nor ``-n`` concerns them.
    """
    if is_stream_target(path):
        return
    if path.is_dir():
        raise OutputError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists (use -y to overwrite)")
