"""The conditions every result file records: software, machine, commit.

Absolute paths of this machine are deliberately left out, so results can be
committed and compared across machines.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import codec

_LIBRARIES = ("numpy", "scipy", "Pillow", "av")


def _git_commit() -> dict:
    """Commit of the source tree the package runs from, and whether it has local changes."""
    source = Path(codec.__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None}
    if head.returncode != 0:
        return {"commit": None}
    return {"commit": head.stdout.strip(), "local_changes": bool(dirty.stdout.strip())}


def _versions() -> dict:
    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def software_and_machine() -> dict:
    """Package version and commit, library versions, and the machine, at this moment."""
    return {
        "package": {"name": "neural-media-codec", "version": codec.__version__, **_git_commit()},
        "python": platform.python_version(),
        "libraries": _versions(),
        "machine": {"system": platform.system(), "release": platform.release(), "arch": platform.machine(),
                    "cpu": _cpu_model(), "cpu_count": os.cpu_count()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
