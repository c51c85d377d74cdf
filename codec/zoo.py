"""The registry of model families and the models they ship, by stable id and revision.

Families are found, not listed: every package ``codec.models.<medium>.<name>``
that defines ``FAMILY`` is registered on first use, and so is every module
named in the environment variable ``CODEC_PLUGINS`` (comma-separated; this is
how a family outside the package, or a test's toy family, reaches worker
processes too). :func:`register_family` adds one by hand.

A model is named ``id@revision``; a bare ``id`` means its newest revision,
and a family name (``hvae``) means that family's newest model. A coded file
names its model and pins the exact weights by digest: :func:`entry_for_header`
finds the revision whose digest matches (files written before revisions
existed name the bare id), and :func:`load_model` refuses weights whose
SHA-256 is not the registered digest. Loaded models are cached per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import lzma
import os
import pkgutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.source import MediaType
from codec.errors import BadInputError, ModelMismatchError, UsageError
from codec.models import weights_file
from codec.models.base import Family, Model, ModelEntry

MEDIA_PACKAGES = {MediaType.IMAGE: "codec.models.image", MediaType.VIDEO: "codec.models.video",
                  MediaType.AUDIO: "codec.models.audio"}
PLUGINS_VARIABLE = "CODEC_PLUGINS"

_FAMILIES: dict[str, Family] = {}
_discovered = False


def register_family(family: Family) -> Family:
    """Make ``family`` known to every part of the package (idempotent by name)."""
    _FAMILIES[family.name] = family
    _clear_caches()
    return family


def unregister_family(name: str) -> None:
    _FAMILIES.pop(name, None)
    _clear_caches()


def _clear_caches() -> None:
    load_model.cache_clear()


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for package in MEDIA_PACKAGES.values():
        try:
            pkg = importlib.import_module(package)
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.ispkg:
                _register_module(f"{package}.{info.name}")
    for name in filter(None, (n.strip() for n in os.environ.get(PLUGINS_VARIABLE, "").split(","))):
        _register_module(name)


def _register_module(name: str) -> None:
    module = importlib.import_module(name)
    family = getattr(module, "FAMILY", None)
    if isinstance(family, Family):
        _FAMILIES.setdefault(family.name, family)


def families(media: MediaType | None = None) -> list[Family]:
    """Installed families, for one medium or all, the medium's preferred default first."""
    _discover()
    found = [f for f in _FAMILIES.values() if media is None or f.media is media]
    return sorted(found, key=lambda f: (int(f.media), f.default_rank, f.name))


def family_named(name: str) -> Family:
    _discover()
    if name not in _FAMILIES:
        raise UsageError(f"unknown model family {name!r}")
    return _FAMILIES[name]


def media_name(media: MediaType) -> str:
    return media.name.lower()


def resolve(name: str | None, media: MediaType) -> tuple[Family, ModelEntry]:
    """The family and entry that ``--model name`` means for ``media`` (None: the medium's default)."""
    candidates = families(media)
    if not candidates:
        raise BadInputError(f"no {media_name(media)} model is installed yet; this installation codes "
                            f"{_installed_media_text()}")
    if name is None:
        family = next((f for f in candidates if f.models), candidates[0])
        return family, _newest(family.models, family.models[-1].id)
    base, _, revision = name.partition("@")
    for family in candidates:
        if name == family.name and family.models:
            return family, _newest(family.models, family.models[-1].id)
        matching = [e for e in family.models if e.id == base]
        if not matching:
            continue
        if not revision:
            return family, _newest(family.models, base)
        if not revision.isdigit():
            raise UsageError(f"model revision must be a number: {name!r}")
        for entry in matching:
            if entry.revision == int(revision):
                return family, entry
        raise UsageError(f"model {base!r} has revisions {', '.join(str(e.revision) for e in matching)}, "
                         f"not {revision}")
    others = [f for f in families() if any(e.id == base for e in f.models) or f.name == name]
    if others:
        raise UsageError(f"model {name!r} codes {media_name(others[0].media)}, not {media_name(media)}")
    known = sorted({e.id for f in candidates for e in f.models} | {f.name for f in candidates})
    raise UsageError(f"unknown {media_name(media)} model {name!r}; installed: {', '.join(known)}")


def _newest(entries: tuple[ModelEntry, ...], model_id: str) -> ModelEntry:
    return max((e for e in entries if e.id == model_id), key=lambda e: e.revision)


def _installed_media_text() -> str:
    media = sorted({media_name(f.media) for f in families()})
    return " and ".join(media) if media else "nothing"


def entry_for_header(header: FileHeader) -> tuple[Family, ModelEntry]:
    """The installed model that decodes a file: its id (with or without revision) and digest must match."""
    base, _, revision = header.model_id.partition("@")
    digest = header.model_digest.hex()
    same_id = [(f, e) for f in families(header.media_type) for e in f.models if e.id == base]
    if not same_id:
        raise ModelMismatchError(f"file was coded with model {header.model_id!r}, which this installation "
                                 f"does not have")
    for family, entry in same_id:
        if entry.digest == digest:  # the digest is the identity; the revision in the name only reports it
            return family, entry
    have = ", ".join(f"{e.full_id} ({e.digest[:16]}...)" for _, e in same_id)
    raise ModelMismatchError(f"file was coded with model {header.model_id!r} with weights {digest[:16]}..., "
                             f"which this installation does not have (it has {have}); decode it with the "
                             f"release that wrote it")


@functools.lru_cache(maxsize=None)
def load_model(family_name: str, full_id: str) -> Model:
    """The loaded model ``full_id`` of a family, its weights verified against the registered digest."""
    family = family_named(family_name)
    base, _, revision = full_id.partition("@")
    entry = next(e for e in family.models if e.id == base and e.revision == int(revision))
    path = family.weights_path(entry)
    data = None
    if path is not None:
        try:
            data = weights_file.read(path, entry.digest)
        except FileNotFoundError:
            raise BadInputError(f"weights of model {entry.full_id} ({path.name}) are missing from this "
                                f"installation") from None
        if hashlib.sha256(data).hexdigest() != entry.digest:
            raise ModelMismatchError(f"weights file {path.name} does not match the digest registered for "
                                     f"{entry.full_id}: the installation is damaged")
    return family.load(entry, data)


def model_for(name: str | None, media: MediaType) -> Model:
    family, entry = resolve(name, media)
    return load_model(family.name, entry.full_id)


def model_for_header(header: FileHeader) -> Model:
    family, entry = entry_for_header(header)
    return load_model(family.name, entry.full_id)


def weights_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file, or {} when it has none."""
    try:
        (length,) = struct.unpack_from("<Q", data)
        if length > len(data) - 8:
            return {}
        meta = json.loads(data[8: 8 + length]).get("__metadata__", {})
        return meta if isinstance(meta, dict) else {}
    except (struct.error, ValueError, AttributeError):
        return {}


def load_weights_file(path: str | os.PathLike[str]) -> Model:
    """A model from a weights file outside the registry (a training run's export), by its format.

    The family is the one that reads the file's ``format``; the model keeps
    the file's own id and its digest, so files it writes decode only with it.
    """
    try:
        data = weights_file.read_file(path)
    except lzma.LZMAError:
        raise BadInputError(f"{path}: damaged xz-packed weights file") from None
    meta = weights_metadata(data)
    fmt = meta.get("format")
    family = next((f for f in families() if fmt in f.formats), None)
    if family is None:
        raise BadInputError(f"{path}: not a weights file of any installed family (format {fmt!r})")
    digest = hashlib.sha256(data).hexdigest()
    released = next((e for e in family.models if e.digest == digest), None)
    if released is not None:  # an installed revision's weights under another name: the same model
        return load_model(family.name, released.full_id)
    model_id = meta.get("model_id") or Path(Path(path).name.removesuffix(weights_file.SUFFIX)).stem
    entry = ModelEntry(model_id.partition("@")[0], int(meta.get("revision", 0)), None, digest,
                       summary=f"weights file {Path(path).name}")
    return family.load(entry, data)


@dataclass(frozen=True)
class ModelInfo:
    """One line of ``codec models``."""

    family: Family
    entry: ModelEntry

    def as_dict(self) -> dict[str, Any]:
        family, entry = self.family, self.entry
        path = family.weights_path(entry)
        rc = family.rate_control(entry)
        newest = _newest(family.models, entry.id) == entry
        return {
            "id": entry.full_id, "model": entry.id, "revision": entry.revision, "current": newest,
            "family": family.name, "media": media_name(family.media), "summary": entry.summary,
            "digest": entry.digest,
            "weights": None if path is None else _stored_weights(path),
            "rate_control": {"qualities": rc.qualities, "default_quality": rc.default_quality,
                             "continuous": rc.continuous, "target": rc.target, "presets": list(rc.presets)},
            "exact": family.exactness.value,
        }


def _stored_weights(path: Path) -> dict[str, Any]:
    found = weights_file.stored(path)
    return {"file": path.name if found is None else found.name,
            "bytes": None if found is None else found.stat().st_size}


def installed_models() -> list[ModelInfo]:
    return [ModelInfo(f, e) for f in families() for e in f.models]
