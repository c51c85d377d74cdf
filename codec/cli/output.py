"""Writing a command's output file: overwrite rules, atomic replacement, one error class."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codec.errors import OutputError, OutputExistsError
from codec.io.atomic import write_bytes_atomic


def check_output(path: Path, overwrite: bool | None) -> None:
    """Fail before any work is done when the output exists and may not be replaced."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists (use -y to overwrite)")
    if path.is_dir():
        raise OutputError(f"{path} is a folder")


def write_output(path: Path, data: bytes, overwrite: bool | None, verify: Callable[[Path], None] | None = None) -> None:
    try:
        write_bytes_atomic(path, data, overwrite=bool(overwrite), verify=verify)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
