"""Keep the fuzz targets runnable: import them and feed them a few inputs.

The fuzzer itself (atheris) is not needed; this runs each target's one-input
function directly so that API changes break the default test run, not the
next fuzzing session.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def load_target(name: str):
    spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def target():
    yield load_target("fuzz_rans_decoder")
    del sys.modules["fuzz_rans_decoder"]


@pytest.fixture(scope="module")
def container_target():
    yield load_target("fuzz_container")
    del sys.modules["fuzz_container"]


def test_unmodified_seeds_decode_to_their_symbols(target) -> None:
    # Mutate mode with zero operations checks the decoded symbols.
    for i in range(len(target.SEEDS)):
        for threads_byte in (0, 1):
            target.test_one_input(bytes([target.MODE_MUTATE, i, threads_byte, 0]))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00", id="raw-no-stream"),
        pytest.param(b"\x00\x00\x00\x10\x00\x03abc" + bytes(range(256)), id="raw-garbage"),
        pytest.param(b"\x00\x01\x01\xff\xff\x0f" + b"\xff" * 64, id="raw-max-count-threads"),
        pytest.param(b"\x00\x00\x02\x08\x00\x01\xff\x05", id="raw-bad-indexes"),
        pytest.param(b"\x01\x00\x00", id="seed-unmodified"),
        pytest.param(b"\x01\x03\x01\x03\x00\x05\x00\x01\x02\x00\x02\x07\x00\x00\x12", id="seed-mutated"),
        pytest.param(b"\x01\x05\x00\x01\x02\x00\x00", id="seed-truncated"),
    ],
)
def test_target_accepts_inputs(target, data: bytes) -> None:
    target.test_one_input(data)


def test_seed_corpus_is_written(target, tmp_path: Path) -> None:
    target.write_seed_corpus(str(tmp_path))
    files = sorted(tmp_path.iterdir())
    assert len(files) == len(target.SEEDS)
    for path in files:
        target.test_one_input(path.read_bytes())


# -- the container reader ----------------------------------------------------------------------------

def test_container_seeds_read_and_split_back_to_their_bytes(container_target) -> None:
    fc = container_target
    assert len(fc.SEEDS) >= 5, "the conformance files the seeds come from are missing"
    layouts = set()
    for seed in fc.SEEDS:
        assert fc.read_every_way(seed) == "ok"
        parts = fc.split(seed)
        layouts.add(parts.layout)
        assert fc.join(parts) == seed  # the damages rewrite checksums exactly as the writer does
    assert layouts == {0, 1}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00", id="raw-nothing"),
        pytest.param(b"\x00\x89NMC\r\n\x1a\n\x01\x01\xff\xff\x00\x00", id="raw-huge-header-length"),
        pytest.param(b"\x00" + bytes(range(256)), id="raw-garbage"),
        pytest.param(b"\x01", id="damage-nothing-chosen"),
        pytest.param(b"\x01\x00\x03\x06\x02\x05\x09\x00\x01\x04", id="damage-header"),
        pytest.param(b"\x01\x08\x01\x06\x00\x01\x02\x03\x04\x05\x06", id="damage-entropy-block"),
        pytest.param(b"\x01\x04\x03" + bytes(range(1, 60)), id="damage-several"),
    ],
)
def test_container_target_accepts_inputs(container_target, data: bytes) -> None:
    container_target.test_one_input(data)


def test_every_damage_family_is_refused_or_read_cleanly(container_target) -> None:
    fc = container_target
    outcomes = {}
    for family, name in enumerate(fc.FAMILIES):
        for i, seed in enumerate(fc.SEEDS):
            rng = random.Random(f"{family}-{i}")
            outcomes.setdefault(name, set()).add(fc.read_every_way(fc.damage(seed, rng.randrange, family)))
    assert set().union(*outcomes.values()) <= {"ok", "CorruptStreamError", "UnsupportedVersionError"}
    for name in ("truncation", "byte flip", "header rewrite", "packet head rewrite", "end packet rewrite"):
        assert "CorruptStreamError" in outcomes[name], name


def test_container_seed_corpus_is_written(container_target, tmp_path: Path) -> None:
    container_target.write_seed_corpus(str(tmp_path))
    files = sorted(tmp_path.iterdir())
    assert len(files) == len(container_target.SEEDS)
    for path in files:
        container_target.test_one_input(path.read_bytes())
