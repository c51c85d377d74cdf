"""Where a registered weights file lives on disk: as it is, or xz-compressed once its revision is superseded.

Every revision a release ever shipped stays installed, so that its files
decode forever, and the package grows with each one. The current revision of
each model is stored as it is (loading it costs no more than reading it);
older revisions are stored as ``<name>.xz``, about 30 % smaller, and are
unpacked in memory when a file made with them is decoded (0.2-0.5 s on one
core). The model's digest is always that of the unpacked bytes, so which
form is installed changes nothing a file can see.

To retire a revision: ``python -m codec.models.weights_file codec/weights/NAME.safetensors``
writes ``NAME.safetensors.xz`` (checked to unpack to the same bytes) and removes the plain file.
"""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

SUFFIX = ".xz"


def stored(path: Path) -> Path | None:
    """The file holding the weights registered as ``path``: ``path`` itself or its ``.xz``; None if neither."""
    if path.exists():
        return path
    packed = path.with_name(path.name + SUFFIX)
    return packed if packed.exists() else None


def read(path: Path) -> bytes:
    """The weights registered as ``path``, unpacked; FileNotFoundError when neither form is installed."""
    found = stored(path)
    if found is None:
        raise FileNotFoundError(path)
    data = found.read_bytes()
    return data if found == path else lzma.decompress(data)


def retire(path: Path) -> Path:
    """Store a superseded revision's weights xz-compressed (checked before the plain file is removed)."""
    data = path.read_bytes()
    packed = path.with_name(path.name + SUFFIX)
    compressed = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    if lzma.decompress(compressed) != data:
        raise RuntimeError(f"{packed.name} does not unpack to {path.name}")
    partial = packed.with_name(packed.name + ".partial")
    partial.write_bytes(compressed)
    partial.replace(packed)
    path.unlink()
    return packed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        out = retire(Path(name))
        print(f"{name} -> {out.name} ({out.stat().st_size:,} bytes)")
