"""The ``codec`` command's frame: help, exit codes, one-line errors, ``info``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from codec.cli import exitcodes
from codec.cli.main import main
from codec.container import build_container
from container_fixtures import audio_header, image_header, video_header


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "a.nmc"
    path.write_bytes(build_container(image_header(), [(b"payload",)]))
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_info_text(capsys, image_file):
    code, out, _ = run(capsys, "info", str(image_file))
    assert code == exitcodes.OK
    assert "64x48" in out and "test-image" in out and "NMC 1.1" in out
    assert "decode:   no" in out  # no installed model is called test-image


@pytest.mark.parametrize("make_header, kind", [(image_header, "image"), (video_header, "video"),
                                               (audio_header, "audio")])
def test_info_json(capsys, tmp_path, make_header, kind):
    path = tmp_path / "f.nmc"
    packets = [(b"xyz",)] if kind == "image" else [(b"x",), (b"yz",)]
    data = build_container(make_header(), packets)
    path.write_bytes(data)
    code, out, _ = run(capsys, "info", "--json", str(path))
    info = json.loads(out)
    assert code == 0
    assert info["media_type"] == kind
    assert info["file_size"] == len(data)
    assert info["packets"]["count"] == len(packets) and info["packets"]["payload_bytes"] == 3
    assert info["decodable"]["ok"] is False
    assert run(capsys, "info", "--check", str(path))[0] == exitcodes.BAD_INPUT


def test_info_bits_per_pixel_counts_the_whole_file(capsys, image_file):
    _, out, _ = run(capsys, "info", "--json", str(image_file))
    assert json.loads(out)["bits_per_pixel"] == pytest.approx(8 * image_file.stat().st_size / (64 * 48))


def test_missing_file_is_bad_input(capsys, tmp_path):
    code, _, err = run(capsys, "info", str(tmp_path / "nope.nmc"))
    assert code == exitcodes.BAD_INPUT
    assert err.count("\n") == 1 and "nope.nmc" in err


def test_corrupt_file_names_packet_and_offset(capsys, image_file):
    data = bytearray(image_file.read_bytes())
    data[-6] ^= 0x40
    image_file.write_bytes(bytes(data))
    code, _, err = run(capsys, "info", str(image_file))
    assert code == exitcodes.BAD_INPUT
    assert "packet" in err and "byte offset" in err


def test_not_a_codec_file(capsys, tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    code, _, err = run(capsys, "info", str(path))
    assert code == exitcodes.BAD_INPUT and "magic" in err


@pytest.mark.parametrize("argv", [[], ["info"], ["info", "a", "--bogus"], ["frobnicate"], ["-y", "-n", "info", "a"]])
def test_usage_errors(capsys, argv):
    code, _, _ = run(capsys, *argv)
    assert code == exitcodes.USAGE_ERROR


def test_global_options_before_or_after_the_subcommand(capsys, image_file):
    assert run(capsys, "--quiet", "info", str(image_file))[0] == 0
    assert run(capsys, "info", str(image_file), "--quiet", "--debug")[0] == 0


def test_help_for_every_subcommand(capsys):
    from codec.cli.main import SUBCOMMANDS

    for module in SUBCOMMANDS:
        with pytest.raises(SystemExit) as info:
            main([module.NAME, "--help"])
        assert info.value.code == 0
        assert module.NAME in capsys.readouterr().out


def test_internal_error_is_one_line_without_debug(capsys, monkeypatch, image_file):
    from codec.cli import info

    def boom(args):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(info, "run", boom)
    code, _, err = run(capsys, "info", str(image_file))
    assert code == exitcodes.INTERNAL_ERROR and "kaboom" in err and "--debug" in err
    code = main(["info", str(image_file), "--debug"])
    assert code == exitcodes.INTERNAL_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_console_script_is_installed(image_file):
    exe = shutil.which("codec")
    if exe is None:
        pytest.skip("the 'codec' console script is not on PATH (package not installed)")
    result = subprocess.run([exe, "info", str(image_file)], capture_output=True, text=True)
    assert result.returncode == 0 and "test-image" in result.stdout
    result = subprocess.run([sys.executable, "-m", "codec.cli.main", "info", "/nonexistent/x.nmc"],
                            capture_output=True, text=True)
    assert result.returncode == exitcodes.BAD_INPUT and "Traceback" not in result.stderr
