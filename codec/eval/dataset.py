"""A dataset folder: its items, named by relative path, and a hash of their content.

Results name a dataset by folder name and content hash, never by where it
sits on this machine, so that results from two machines compare by hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from codec.errors import BadInputError


@dataclass(frozen=True)
class Item:
    name: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Dataset:
    name: str
    items: tuple[Item, ...]

    @property
    def sha256(self) -> str:
        """Hash over the sorted (name, content hash) pairs of every file."""
        h = hashlib.sha256()
        for item in self.items:
            h.update(f"{item.name}\0{item.sha256}\n".encode())
        return h.hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "files": len(self.items), "sha256": self.sha256,
                "hash_method": "sha256 over lines 'relative name NUL sha256(file)' in name order"}


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_dataset(folder: str | Path, suffixes: frozenset[str]) -> Dataset:
    """Every file under ``folder`` whose suffix is in ``suffixes``, recursively, in name order."""
    root = Path(folder)
    if not root.is_dir():
        raise BadInputError(f"dataset {folder} is not a folder")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not paths:
        raise BadInputError(f"dataset {folder} holds no files of type {', '.join(sorted(suffixes))}")
    items = tuple(Item(p.relative_to(root).as_posix(), p, _file_sha256(p)) for p in paths)
    return Dataset(root.resolve().name, items)
