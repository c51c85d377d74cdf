"""Atomic output files: nothing ever appears under a final name half-written.

Data goes to a temporary file in the destination folder (same filesystem, so
the final rename is atomic), is flushed to disk, optionally verified, and
only then renamed. When overwriting is not allowed the rename is done with
``os.link`` so that a file created meanwhile by someone else is not clobbered.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from codec.errors import OutputExistsError

TEMP_PREFIX = ".nmc-partial-"


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
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + final.name + ".", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
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


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False,
                       verify: Callable[[Path], None] | None = None) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, overwrite=overwrite, verify=verify) as f:
        f.write(data)
