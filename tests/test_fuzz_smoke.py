"""Keep the rANS fuzz target runnable: import it and feed it a few inputs.

The fuzzer itself (atheris) is not needed; this runs the target's one-input
function directly so that API changes break the default test run, not the
next fuzzing session.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).resolve().parent.parent / "fuzz" / "fuzz_rans_decoder.py"


@pytest.fixture(scope="module")
def target():
    spec = importlib.util.spec_from_file_location("fuzz_rans_decoder", TARGET)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


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
