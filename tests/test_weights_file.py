"""Superseded revisions' weights stored xz-compressed: same bytes back, found by their registered name."""

from __future__ import annotations

import hashlib

import pytest

from codec.models import weights_file
from codec.zoo import installed_models, load_model


def test_retired_weights_read_back_the_same_bytes(tmp_path):
    path = tmp_path / "model.r1.safetensors"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    assert weights_file.stored(path) == path and weights_file.read(path) == data
    packed = weights_file.retire(path)
    assert not path.exists() and packed.name == "model.r1.safetensors.xz"
    assert packed.stat().st_size < len(data)
    assert weights_file.stored(path) == packed and weights_file.read(path) == data
    with pytest.raises(FileNotFoundError):
        weights_file.read(tmp_path / "other.safetensors")


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


def test_a_packed_revision_loads():
    assert weights_file.stored(next(i.family.weights_path(i.entry) for i in installed_models()
                                    if i.entry.full_id == "hvae-small@1")).suffix == ".xz"
    assert load_model("hvae", "hvae-small@1").coder.groups == 8
