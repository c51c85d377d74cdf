"""What a new user trips over (issue 13): photos as viewers show them, progress and -v, start-up, eval, media.

Every test reproduces something a first user met: a portrait photo that came
back on its side, a wide-gamut photo whose colours shifted, progress garbage
in a log file, ``codec --help`` that took seconds, an empty BD table, and
``codec encode tone.wav`` answering as if the file were broken.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

import codec
from codec.cli import exitcodes
from codec.cli.main import main
from codec.container import parse_container
from codec.errors import BadInputError
from codec.io.image_input import load_image

ORIENTATION = 0x0112


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process; every outcome must be an exit code, never a traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def pattern(h: int, w: int) -> np.ndarray:
    """An asymmetric picture (so every rotation and mirror differs) with mid-range colours."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                     ((x + 2 * y) * 7) % 200 + 30], axis=2).astype(np.uint8)


# -- EXIF orientation ---------------------------------------------------------------------------------

def jpeg_with_orientation(path: Path, orientation: int, pixels: np.ndarray) -> Path:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_as_viewers_show_it(tmp_path, orientation):
    path = jpeg_with_orientation(tmp_path / "photo.jpg", orientation, pattern(24, 40))
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im))
    loaded = load_image(path)
    assert np.array_equal(loaded.pixels, shown)
    assert loaded.notes == (() if orientation == 1 else (f"EXIF orientation {orientation} applied",))


def test_portrait_photo_with_orientation_6_round_trips_upright(tmp_path, capsys):
    path = jpeg_with_orientation(tmp_path / "portrait.jpg", 6, pattern(24, 40))
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im))
    assert shown.shape == (40, 24, 3)  # stored landscape, shown portrait
    code, _, err = run(capsys, "encode", str(path), "-o", str(tmp_path / "p.nmc"), "-q", "8")
    assert code == exitcodes.OK
    assert "EXIF orientation 6 applied" in err  # said at the default level and with -v
    assert run(capsys, "decode", str(tmp_path / "p.nmc"), "-o", str(tmp_path / "p.png"))[0] == exitcodes.OK
    decoded = np.asarray(Image.open(tmp_path / "p.png"))
    assert decoded.shape == shown.shape
    assert np.abs(decoded.astype(int) - shown.astype(int)).mean() < 12  # the content, not just the shape
    sideways = np.asarray(Image.open(path))
    assert sideways.shape != decoded.shape


def test_quiet_hides_the_source_notes(tmp_path, capsys):
    path = jpeg_with_orientation(tmp_path / "portrait.jpg", 6, pattern(16, 24))
    code, _, err = run(capsys, "encode", str(path), "-o", str(tmp_path / "p.nmc"), "--quiet")
    assert code == exitcodes.OK and err == ""


# -- colour profiles ----------------------------------------------------------------------------------

def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def adobe_like_profile(description: str = "Adobe-like RGB (synthetic test profile)", gamma: float = 2.2) -> bytes:
    """An ICC v2 RGB matrix/TRC display profile with Adobe RGB (1998) primaries (D50-adapted) and gamma 2.2.

    Pillow cannot make RGB profiles other than sRGB, and the test must not
    depend on a profile file of the system, so it is written here field by
    field (ICC.1:2001-04: 128-byte header, tag table, desc/wtpt/XYZ/TRC tags).
    """
    desc_text = description.encode() + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(desc_text)) + desc_text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(0.6097, 0.3111, 0.0195)),
            (b"gXYZ", _xyz(0.2053, 0.6257, 0.0609)), (b"bXYZ", _xyz(0.1492, 0.0632, 0.7446)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text" + bytes(4) + b"none\0")]
    first = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        body += bytes(-(first + len(body)) % 4)
        table += signature + struct.pack(">II", first + len(body), len(data))
        body += data
    header = (struct.pack(">I", first + len(body)) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(4 + 4 + 8 + 8 + 4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
              + bytes(4 + 44))
    return header + table + body


def test_wide_gamut_profile_is_converted_to_srgb(tmp_path):
    icc = adobe_like_profile()
    raw = pattern(16, 24)
    path = tmp_path / "adobe.png"
    Image.fromarray(raw).save(path, icc_profile=icc)
    with Image.open(path) as im:
        expected = np.asarray(ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                                        ImageCms.createProfile("sRGB"), outputMode="RGB"))
    loaded = load_image(path)
    assert np.array_equal(loaded.pixels, expected)
    assert np.abs(expected.astype(int) - raw.astype(int)).max() > 20  # the conversion matters for these colours
    assert loaded.notes == ("colour profile 'Adobe-like RGB (synthetic test profile)' converted to sRGB",)


def test_srgb_profile_is_left_alone(tmp_path):
    raw = pattern(8, 12)
    path = tmp_path / "srgb.png"
    Image.fromarray(raw).save(path, icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    loaded = load_image(path)
    assert np.array_equal(loaded.pixels, raw) and loaded.notes == ()


@pytest.mark.parametrize("icc, message", [
    (b"not an ICC profile at all", "colour profile cannot be read"),
    (ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(), "cannot convert its colour profile"),
])
def test_profile_that_cannot_be_used_is_refused(tmp_path, capsys, icc, message):
    path = tmp_path / "odd.png"
    Image.fromarray(pattern(8, 8)).save(path, icc_profile=icc)
    with pytest.raises(BadInputError, match=message):
        load_image(path)
    code, _, err = run(capsys, "encode", str(path), "-o", str(tmp_path / "odd.nmc"))
    assert code == exitcodes.BAD_INPUT and message in err and err.count("\n") == 1
    assert not (tmp_path / "odd.nmc").exists()


def test_verbose_encode_says_what_was_done_and_how_long_it_took(tmp_path, capsys):
    path = tmp_path / "adobe.png"
    Image.fromarray(pattern(16, 24)).save(path, icc_profile=adobe_like_profile())
    code, _, err = run(capsys, "-v", "encode", str(path), "-o", str(tmp_path / "a.nmc"))
    assert code == exitcodes.OK
    assert "converted to sRGB" in err
    assert "image, 24x16, 3 components, 8-bit" in err
    assert "model hyperprior-vr-small@" in err and "ready in" in err
    timed = [line for line in err.splitlines() if re.search(r" \(\d+\.\d\ds\)$", line)]
    assert len(timed) >= 2, err  # the family's stage timings (options.progress.note) and the summary
    code, _, err = run(capsys, "-v", "decode", str(tmp_path / "a.nmc"), "-o", str(tmp_path / "a.png"))
    assert code == exitcodes.OK
    assert "ready in" in err and "decoded and written in" in err


# -- progress -----------------------------------------------------------------------------------------

def test_piped_encode_and_decode_print_no_progress_bar(tmp_path, capsys):
    Image.fromarray(pattern(16, 16)).save(tmp_path / "p.png")
    # a target the 16x16 file can meet (below it the command adds a warning line)
    for argv in (["encode", str(tmp_path / "p.png"), "-o", str(tmp_path / "p.nmc"), "--bpp", "40"],
                 ["decode", str(tmp_path / "p.nmc"), "-o", str(tmp_path / "p.png"), "-y"]):
        code, out, err = run(capsys, *argv)
        assert code == exitcodes.OK
        assert "\r" not in err and "%|" not in err and "\x1b[" not in err
        assert len(err.splitlines()) == 1 and out == ""  # the one summary line


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_bar_and_quiet_or_a_pipe_gets_none(monkeypatch):
    from codec.cli import progress

    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = progress.TerminalProgress(enabled=True)
    bar.start(4, "step", "fitting the rate")
    for _ in range(4):
        bar.advance()
    bar.finish()
    assert "fitting the rate" in terminal.getvalue() and "\r" in terminal.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    silent = progress.TerminalProgress(enabled=False)  # --quiet
    silent.start(4, "step", "fitting the rate")
    silent.advance()
    silent.finish()
    assert quiet.getvalue() == ""


def test_terminal_without_tqdm_works_without_a_bar(monkeypatch):
    """tqdm comes with the [eval] extra; a plain install must still encode on a terminal."""
    from codec.cli import progress

    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    bar = progress.TerminalProgress(enabled=True)
    bar.start(2, "step", "work")
    bar.advance()
    bar.finish()
    assert sys.stderr.getvalue() == ""


# -- start-up -----------------------------------------------------------------------------------------

HEAVY = ("torch", "scipy", "matplotlib", "av", "codec.eval", "codec.models.image.hyperprior.session")


def test_help_info_and_models_import_no_torch_and_no_evaluator(tmp_path):
    data = codec.encode_image(pattern(8, 8), quality=1)
    (tmp_path / "x.nmc").write_bytes(data)
    script = f"""
import contextlib, io, json, sys
from codec.cli.main import main
codes = []
for argv in (["--help"], ["encode", "--help"], ["decode", "--help"], ["info", {str(tmp_path / 'x.nmc')!r}],
             ["info", "--json", "--check", {str(tmp_path / 'x.nmc')!r}], ["models"], ["models", "--json"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes.append(main(argv))
        except SystemExit as exit:
            codes.append(exit.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "scipy", "matplotlib", "av")
               or m.startswith(("codec.eval", "codec.models.image.hyperprior.session")))
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0] * 7
    assert report["heavy"] == [], f"imported by commands that need no model: {report['heavy'][:8]}"


def test_help_lists_every_subcommand_and_the_pixel_limit(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("encode", "decode", "info", "models", "transcode", "eval", "train"):
        assert name in out
    with pytest.raises(SystemExit):
        main(["encode", "--help"])
    out = capsys.readouterr().out
    assert "--max-pixels" in out and "checked before decoding" in out


# -- codec eval -----------------------------------------------------------------------------------------

@pytest.fixture
def one_photo(tmp_path) -> Path:
    pytest.importorskip("scipy", reason="codec eval needs the [eval] extra")
    skdata = pytest.importorskip("skimage.data", reason="the photo comes from scikit-image (the [test] extra)")
    folder = tmp_path / "tiny"
    folder.mkdir()

    Image.fromarray(np.ascontiguousarray(skdata.astronaut()[100:276, 150:342])).save(folder / "astronaut.png")
    return folder


def test_eval_with_one_codec_says_there_is_nothing_to_compare(one_photo, tmp_path, capsys):
    code, out, err = run(capsys, "eval", "image", "--dataset", str(one_photo), "--codecs", "jpeg-420",
                         "--out", str(tmp_path / "out"))
    assert code == exitcodes.OK
    assert "no other curve in this run to compare with" in out
    assert "| codec | BD-rate" not in out  # not an empty table
    assert "\r" not in err  # no progress bar when piped
    assert (tmp_path / "out" / "results.json").exists()


def test_eval_anchor_outside_the_run_is_a_usage_error(one_photo, tmp_path, capsys):
    code, _, err = run(capsys, "eval", "image", "--dataset", str(one_photo), "--codecs", "jpeg-420",
                       "--anchor", "x265-444", "--out", str(tmp_path / "out"))
    assert code == exitcodes.USAGE_ERROR
    assert "x265-444" in err and "not in this run" in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_eval_default_out_is_eval_results_never_the_scoreboard(one_photo, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "eval", "image", "--dataset", str(one_photo), "--codecs", "jpeg-420,jpeg-444")
    assert code == exitcodes.OK
    results = tmp_path / "eval-results" / "tiny"
    assert (results / "bd.md").exists() and (results / "results.json").exists()
    assert "JPEG 4:4:4" in out and "| codec | BD-rate" in out  # two curves: a real table
    assert not (tmp_path / "evaluation").exists()


# -- media that are not supported ---------------------------------------------------------------------

@pytest.mark.parametrize("name, kind", [("tone.wav", "audio"), ("clip.mp4", "video")])
def test_audio_and_video_without_a_reader_say_so(tmp_path, capsys, monkeypatch, name, kind):
    import codec.media as media

    media.all_media()  # discovered, then the medium hidden: as in an installation without it
    monkeypatch.setattr(media, "_MEDIA", {k: v for k, v in media._MEDIA.items() if k != kind})
    path = tmp_path / name
    path.write_bytes(b"\0" * 64)
    code, _, err = run(capsys, "encode", str(path))
    assert code == exitcodes.BAD_INPUT
    assert f"{kind} is not supported by this installation yet" in err
    assert "image (.png, .jpg" in err  # what it does code
    assert not list(tmp_path.glob("*.nmc"))


@pytest.mark.parametrize("name, kind", [("tone.wav", "audio"), ("clip.mp4", "video")])
def test_audio_and_video_without_a_model_say_so(tmp_path, capsys, monkeypatch, name, kind):
    import codec.media as media
    from codec import zoo

    medium = next((m for m in media.all_media() if m.name == kind), None)
    if medium is None:
        pytest.skip(f"no {kind} medium in this installation (the message without one is tested above)")
    zoo.families()  # discovered, then the medium's families hidden: as before its first model lands
    monkeypatch.setattr(zoo, "_FAMILIES", {n: f for n, f in zoo._FAMILIES.items() if f.media is not medium.media_type})
    path = tmp_path / name
    path.write_bytes(b"\0" * 64)  # not a real file: it must not be read before the model is known
    code, _, err = run(capsys, "encode", str(path))
    assert code == exitcodes.BAD_INPUT
    assert f"no {kind} model is installed yet" in err and "this installation codes" in err


def test_unknown_extension_names_what_is_supported(tmp_path, capsys):
    path = tmp_path / "notes.xyz"
    path.write_bytes(b"hello")
    code, _, err = run(capsys, "encode", str(path))
    assert code == exitcodes.BAD_INPUT
    assert "extension '.xyz'" in err and "image (.png, .jpg" in err and "--media" in err


def test_medium_without_a_model_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    from codec import zoo
    from codec.media import image as image_medium

    Image.fromarray(pattern(8, 8)).save(tmp_path / "p.png")
    zoo.families()  # discovered, then hidden: as if no image family were installed
    monkeypatch.setattr(zoo, "_FAMILIES", {})

    def no_reading(*args, **kwargs):
        raise AssertionError("the source was read before the model was known")

    monkeypatch.setattr(image_medium, "load_image", no_reading)
    code, _, err = run(capsys, "encode", str(tmp_path / "p.png"))
    assert code == exitcodes.BAD_INPUT
    assert "no image model is installed yet" in err


@pytest.mark.parametrize("save", ["gif", "tiff"])
def test_animation_and_pages_are_refused(tmp_path, capsys, save):
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (0, 128, 255)]
    path = tmp_path / f"many.{save}"
    frames[0].save(path, save_all=True, append_images=frames[1:], **({"duration": 100} if save == "gif" else {}))
    code, _, err = run(capsys, "encode", str(path))
    assert code == exitcodes.BAD_INPUT
    assert "holds 3 frames" in err and "extract the frame you want" in err
    assert not (tmp_path / "many.nmc").exists()


def test_fractional_quality_is_a_level_without_a_display_quality():
    data = codec.encode_image(pattern(16, 16), quality=2.5)
    header = parse_container(data).header
    assert header.quality is None
    from codec.zoo import entry_for_header

    family, _ = entry_for_header(header)
    assert family.check_params(header)["quality"] == 2.5
    assert codec.decode_image(data).shape == (16, 16, 3)
