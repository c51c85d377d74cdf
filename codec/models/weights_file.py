"""Where a registered weights file lives: xz-compressed in the package, unpacked once into a user cache.

Every revision a release ever shipped stays installed, so that its files
decode forever, and the package grows with each one. Weights are therefore
stored as ``<name>.xz`` (about 30 % smaller). The first load unpacks them
(0.2-0.5 s per model on one core) into the cache, named by the digest of
the unpacked bytes; later loads read the cached copy after checking that
digest, so a damaged or stale cache entry is unpacked again, never used.
Where no cache can be written the weights are unpacked in memory each time.
A plain ``<name>`` (a weights file not yet packed) is read as it is.

The model's digest is always that of the unpacked bytes, so which form is
installed changes nothing a file can see.

The cache folder is ``$CODEC_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/neural-media-codec``
(``~/.cache/neural-media-codec``), subfolder ``weights``.

To pack a weights file: ``python -m codec.models.weights_file codec/weights/NAME.safetensors``
writes ``NAME.safetensors.xz`` (checked to unpack to the same bytes) and removes the plain file.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import sys
import tempfile
from pathlib import Path

SUFFIX = ".xz"


def stored(path: Path) -> Path | None:
    """The file holding the weights registered as ``path``: ``path`` itself or its ``.xz``; None if neither."""
    if path.exists():
        return path
    packed = path.with_name(path.name + SUFFIX)
    return packed if packed.exists() else None


def cache_dir() -> Path:
    """The folder that holds unpacked weights (it may not exist yet)."""
    root = os.environ.get("CODEC_CACHE_DIR")
    if root:
        return Path(root) / "weights"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "neural-media-codec" / "weights"


def _cached(digest: str) -> bytes | None:
    try:
        data = (cache_dir() / f"{digest}.safetensors").read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None


def _keep(digest: str, data: bytes) -> None:
    """Write unpacked weights into the cache atomically; a cache that cannot be written is skipped."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{digest[:16]}-", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(partial, folder / f"{digest}.safetensors")
        except BaseException:
            os.unlink(partial)
            raise
    except OSError:
        pass


def read(path: Path, digest: str | None = None) -> bytes:
    """The weights registered as ``path``, unpacked; FileNotFoundError when neither form is installed.

    With the expected ``digest`` of the unpacked bytes, a packed file is
    taken from the cache when a verified copy is there, and put there after
    it is unpacked.
    """
    found = stored(path)
    if found is None:
        raise FileNotFoundError(path)
    if found == path:
        return found.read_bytes()
    if digest is not None and (data := _cached(digest)) is not None:
        return data
    data = lzma.decompress(found.read_bytes())
    if digest is not None and hashlib.sha256(data).hexdigest() == digest:
        _keep(digest, data)
    return data


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The weights in one file on disk, a plain weights file or its ``.xz`` (unpacked in memory)."""
    path = Path(path)
    data = path.read_bytes()
    return lzma.decompress(data) if path.name.endswith(SUFFIX) else data


def pack(path: Path) -> Path:
    """Store a weights file xz-compressed (checked before the plain file is removed)."""
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
        out = pack(Path(name))
        print(f"{name} -> {out.name} ({out.stat().st_size:,} bytes)")
