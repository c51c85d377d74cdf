"""Reading a family's training config from TOML: one set of checks and messages for every family.

A config names folders relative to itself (so a config in the repository
works from any working directory), must not carry keys its family does not
know (a typo would otherwise train with a default), and must name its data.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from codec.errors import UsageError


def read_config(cls: type, path: str | Path, *, required: dict[str, str] | None = None,
                folders: tuple[str, ...] = (), ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The TOML table at ``path`` for the dataclass ``cls``, checked.

    ``required`` maps keys that must be present to what they are (for the
    message); ``folders`` are keys holding lists of folders, resolved from
    the config's own folder; ``ignore`` are fields a file may not set.
    """
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path} is not valid TOML: {exc}") from None
    unknown = set(raw) - ({f.name for f in fields(cls)} - ignore)
    if unknown:
        raise UsageError(f"config {path}: unknown keys {sorted(unknown)}")
    for key, what in (required or {}).items():
        if not raw.get(key):
            raise UsageError(f"config {path}: {what} is required")
    base = Path(path).resolve().parent
    for key in folders:
        raw[key] = [d if Path(d).is_absolute() else str((base / d).resolve()) for d in raw.get(key, [])]
    return raw
