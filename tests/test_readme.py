"""The README's commands and Python blocks, run as written, so they cannot drift from the package."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_set_up_command_after_the_install(tmp_path, monkeypatch, capsys):
    """The second sh block, minus its pip install, from a fresh folder."""
    from codec.cli.main import main
    from codec.samples import main as samples

    monkeypatch.chdir(tmp_path)
    command = next(b for b in _blocks("sh") if "codec.samples" in b).strip()
    steps = [s.strip() for s in command.split("&&")]
    assert steps[0].startswith("python -m pip install")
    for step in steps[1:]:
        words = shlex.split(step)
        if words[:3] == ["python", "-m", "codec.samples"]:
            assert samples(words[3:]) == 0
        else:
            assert words[0] == "codec"
            assert main(words[1:]) == 0, step
    assert "decode:   yes" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["astronaut.nmc", "astronaut.png", "decoded.png"]


def test_python_block_runs(tmp_path, monkeypatch, capsys):
    from codec.samples import main as samples

    monkeypatch.chdir(tmp_path)
    assert samples(["demo/astronaut.png"]) == 0
    (block,) = _blocks("python")
    exec(compile(block, "README.md", "exec"), {})
    assert "hyperprior-vr-small@2" in capsys.readouterr().out


def test_help_and_dir_list_the_api():
    import codec

    for name in ("open", "encode", "decode", "encode_image", "decode_image", "round_trip", "list_models"):
        assert name in dir(codec) and name in codec.__all__
    assert "encode_image" in (codec.__doc__ or "")


@pytest.mark.parametrize("path", re.findall(r"\]\(([^)#]+)\)", README))
def test_links_point_at_files(path):
    assert (Path(__file__).resolve().parents[1] / path).exists(), path
