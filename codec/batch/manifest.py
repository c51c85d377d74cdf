"""Manifests: a list of inputs, one per line, optionally with per-item options.

Three forms, chosen by extension:

* ``.txt``/``.lst``/``.list``: one path per line; blank lines and ``#`` comments ignored;
* ``.csv``: a header row naming ``path`` and any of ``quality``, ``bpp``, ``bitrate``,
  ``model``, ``preset``, ``format``, ``output``; empty cells leave the job's option in force;
* ``.jsonl``: one object per line with the same keys.

Relative paths are relative to the manifest's folder; ``output`` is relative
to the job's output folder. Lines are read one at a time, so a manifest of
millions of entries costs no memory. A bad line becomes a failed item, not
a failed job.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codec.batch.items import ItemOptions
from codec.errors import BadInputError

MANIFEST_EXTENSIONS = (".txt", ".lst", ".list", ".csv", ".jsonl")
_OPTION_KEYS = {"quality": float, "bpp": float, "model": str, "format": str, "bitrate": str, "preset": str}
_KEYS = {"path", "output", *_OPTION_KEYS}


@dataclass(frozen=True)
class ManifestEntry:
    line: int
    path: Path | None          # None when the line could not be understood
    options: ItemOptions = ItemOptions()
    output: str | None = None  # explicit output, relative to the job's output folder
    error: str | None = None


def is_manifest(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MANIFEST_EXTENSIONS


def read_manifest(path: Path) -> Iterator[ManifestEntry]:
    """Entries in file order; raises BadInputError only when the manifest itself cannot be read."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            ext = path.suffix.lower()
            rows = _csv_rows(f) if ext == ".csv" else _jsonl_rows(f) if ext == ".jsonl" else _plain_rows(f)
            for line, row in rows:
                yield _entry(line, row, path.parent)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read manifest {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _plain_rows(f) -> Iterator[tuple[int, dict | str]]:
    for n, text in enumerate(f, 1):
        text = text.strip()
        if text and not text.startswith("#"):
            yield n, {"path": text}


def _csv_rows(f) -> Iterator[tuple[int, dict | str]]:
    reader = csv.DictReader(f)
    if reader.fieldnames is None or "path" not in reader.fieldnames:
        raise BadInputError(f"CSV manifest {f.name} needs a header row with a 'path' column")
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if k is not None and v not in (None, "")}


def _jsonl_rows(f) -> Iterator[tuple[int, dict | str]]:
    for n, text in enumerate(f, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            yield n, f"not valid JSON: {exc.msg}"
            continue
        yield n, row if isinstance(row, dict) else "each line must be a JSON object"


def _entry(line: int, row: dict | str, base: Path) -> ManifestEntry:
    if isinstance(row, str):
        return ManifestEntry(line, None, error=row)
    unknown = set(row) - _KEYS
    if unknown:
        return ManifestEntry(line, None, error=f"unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    if not isinstance(row.get("path"), str) or not row["path"]:
        return ManifestEntry(line, None, error="no 'path'")
    try:
        options = ItemOptions(**{k: _OPTION_KEYS[k](v) for k, v in row.items() if k in _OPTION_KEYS})
    except (TypeError, ValueError) as exc:
        return ManifestEntry(line, None, error=f"bad option value: {exc}")
    if sum(v is not None for v in (options.quality, options.bpp, options.bitrate)) > 1:
        return ManifestEntry(line, None, error="give one of quality, bpp and bitrate")
    output = row.get("output")
    return ManifestEntry(line, base / row["path"], options, str(output) if output is not None else None)
