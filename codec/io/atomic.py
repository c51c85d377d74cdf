"""Output files that never appear half-written, and outputs that are not files at all.

A regular output is written to a temporary file in the destination folder
(same filesystem, so the final rename is atomic), flushed to disk, optionally
verified, and only then renamed. When overwriting is not allowed the rename is
done with ``os.link``, so a file created meanwhile by someone else is not
clobbered.

The writer holds an exclusive ``flock`` on its temporary file while it
works; a temporary whose lock can be taken belongs to a process that died
(killed, out of memory), and the next writer of the same output removes it.

Targets that are not regular files (``-`` for standard output, a character
device such as ``/dev/null``, a FIFO) are streamed into directly: renaming a
temporary over them would replace the device node with a plain file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from codec.errors import OutputError, OutputExistsError

try:
    import fcntl
except ImportError:  # not on Windows: temporaries are then only swept by name and age
    fcntl = None

TEMP_PREFIX = ".nmc-partial-"
STDOUT = "-"
# tempfile.mkstemp's random part: 8 characters from this alphabet
_RANDOM_SUFFIX = r"\.[a-z0-9_]{8}"


def is_stream_target(path: str | os.PathLike[str]) -> bool:
    """True for ``-`` and for existing targets that are not regular files (devices, FIFOs)."""
    if os.fspath(path) == STDOUT:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def stale_temporaries(final: Path) -> list[Path]:
    """Temporaries that a dead writer of ``final`` left behind (a live writer's lock keeps its own)."""
    pattern = re.compile(re.escape(TEMP_PREFIX + final.name) + _RANDOM_SUFFIX)
    try:
        candidates = [p for p in final.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []
    return [p for p in candidates if not _locked_by_someone(p)]


def _locked_by_someone(path: Path) -> bool:
    if fcntl is None:
        return False
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def remove_stale_temporaries(final: Path) -> None:
    for path in stale_temporaries(final):
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, overwrite: bool = False,
                  verify: Callable[[Path], None] | None = None) -> Iterator[BinaryIO]:
    """Open a temporary file that replaces ``path`` when the block completes.

    ``verify`` runs on the temporary file before the rename and may raise to
    abandon it. On any exception the temporary file is removed and ``path``
    is left as it was.
    """
    final = Path(path)
    if not overwrite and final.exists():
        raise OutputExistsError(f"{final} exists (use -y to overwrite)")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + final.name + ".", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            yield f
            f.flush()
            os.fsync(f.fileno())
            if verify is not None:
                verify(tmp)
            os.chmod(tmp, 0o644)
            if overwrite:
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    raise OutputExistsError(f"{final} exists (use -y to overwrite)") from None
                tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def stream_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Write straight into ``-`` (standard output) or an existing device or FIFO; never replace it."""
    if os.fspath(path) == STDOUT:
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    with open(path, "wb", buffering=0) as raw:
        with open(raw.fileno(), "wb", closefd=False) as f:
            yield f
            f.flush()


@contextlib.contextmanager
def output_file(path: str | os.PathLike[str], *, overwrite: bool = False,
                verify: Callable[[Path], None] | None = None) -> Iterator[BinaryIO]:
    """The right way to write ``path``: streamed for ``-`` and devices, atomic for files.

    ``OSError`` while writing (a full disk, ``/dev/full``) becomes :class:`OutputError`.
    """
    try:
        if is_stream_target(path):
            with stream_output(path) as f:
                yield f
        else:
            with atomic_output(path, overwrite=overwrite, verify=verify) as f:
                yield f
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise OutputError(f"{_name(path)}: the reading end of the pipe was closed") from None
        raise OutputError(f"cannot write {_name(path)}: {exc.strerror or exc}") from None


def _name(path: str | os.PathLike[str]) -> str:
    return "standard output" if os.fspath(path) == STDOUT else os.fspath(path)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False,
                       verify: Callable[[Path], None] | None = None) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, overwrite=overwrite, verify=verify) as f:
        f.write(data)
