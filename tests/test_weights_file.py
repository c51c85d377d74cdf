"""Weights stored xz-compressed: same bytes back, found by their registered name, unpacked once into a cache."""

from __future__ import annotations

import hashlib

import pytest

from codec.models import weights_file
from codec.zoo import installed_models, load_model


def test_packed_weights_read_back_the_same_bytes(tmp_path):
    path = tmp_path / "model.r1.safetensors"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    assert weights_file.stored(path) == path and weights_file.read(path) == data
    packed = weights_file.pack(path)
    assert not path.exists() and packed.name == "model.r1.safetensors.xz"
    assert packed.stat().st_size < len(data)
    assert weights_file.stored(path) == packed and weights_file.read(path) == data
    with pytest.raises(FileNotFoundError):
        weights_file.read(tmp_path / "other.safetensors")


def test_packed_weights_are_unpacked_once_into_a_verified_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEC_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "model.r1.safetensors"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    weights_file.pack(path)
    assert weights_file.read(path, digest) == data
    cached = weights_file.cache_dir() / f"{digest}.safetensors"
    assert cached.read_bytes() == data and list(cached.parent.iterdir()) == [cached]
    cached.write_bytes(b"damaged")  # a damaged copy is never used: unpacked again and replaced
    assert weights_file.read(path, digest) == data and cached.read_bytes() == data
    cached.unlink()  # a wrong expected digest reads the file but caches nothing
    assert weights_file.read(path, "0" * 64) == data and not cached.exists()


def test_an_unwritable_cache_still_reads(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("CODEC_CACHE_DIR", str(blocker))  # a file, so the cache folder cannot be made
    path = tmp_path / "model.r1.safetensors"
    data = b"weights" * 100
    path.write_bytes(data)
    weights_file.pack(path)
    assert weights_file.read(path, hashlib.sha256(data).hexdigest()) == data


def test_every_installed_revision_is_present_and_matches_its_digest():
    """Plain or packed, each registered weights file unpacks to the bytes its digest names."""
    seen = 0
    for info in installed_models():
        path = info.family.weights_path(info.entry)
        if path is None:
            continue
        assert weights_file.stored(path) is not None, info.entry.full_id
        assert hashlib.sha256(weights_file.read(path)).hexdigest() == info.entry.digest, info.entry.full_id
        seen += 1
    assert seen >= 8


def test_every_installed_revision_is_packed():
    for info in installed_models():
        path = info.family.weights_path(info.entry)
        if path is not None:
            assert weights_file.stored(path).suffix == ".xz", f"{info.entry.full_id}: pack it (module docstring)"


def test_a_packed_revision_loads():
    assert load_model("hvae", "hvae-small@1").coder.groups == 8
