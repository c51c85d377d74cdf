"""Atomic output: a final name only ever holds a complete, verified file."""

from __future__ import annotations

import pytest

from codec.errors import OutputExistsError
from codec.io.atomic import TEMP_PREFIX, atomic_output, write_bytes_atomic


def test_writes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    write_bytes_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]


def test_refuses_to_overwrite_unless_asked(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    write_bytes_atomic(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"


def test_failure_midway_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as f:
            f.write(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_verification_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def reject(path):
        assert path.name.startswith(TEMP_PREFIX)
        raise ValueError("bad output")

    with pytest.raises(ValueError):
        write_bytes_atomic(target, b"new", overwrite=True, verify=reject)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
