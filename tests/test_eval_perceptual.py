"""The perceptual metric of ``codec eval image`` (FLIP), its BD sign, its cache handling, and the contact sheet."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")
pytest.importorskip("flip_evaluator")
skimage_data = pytest.importorskip("skimage.data")

from PIL import Image, ImageFilter  # noqa: E402

from codec.cli import exitcodes  # noqa: E402
from codec.cli.main import main  # noqa: E402
from codec.eval.media.image import IMAGE, measure  # noqa: E402  (first: importing bdtable first is circular)
from codec.eval.bdtable import bd_against, markdown  # noqa: E402
from codec.eval.cache import Cache  # noqa: E402
from codec.eval.codecs import select  # noqa: E402
from codec.eval.codecs.webp import WebP  # noqa: E402
from codec.eval.curves import Curve  # noqa: E402
from codec.eval.dataset import open_dataset  # noqa: E402
from codec.eval.engine import evaluate  # noqa: E402
from codec.eval.flip import flip_error, pixels_per_degree  # noqa: E402

# MS-SSIM needs both sides above 160 pixels; the smallest crops that fit keep the tests fast
H, W = 176, 192
TOOL = Path(__file__).resolve().parents[1] / "tools" / "contact_sheet.py"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(skimage_data.astronaut()[100:100 + H, 150:150 + W])


@pytest.fixture
def dataset(tmp_path, astronaut) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    Image.fromarray(np.ascontiguousarray(skimage_data.chelsea()[:H, :W])).save(folder / "chelsea.png")
    return folder


@pytest.fixture(scope="module")
def contact_sheet():
    spec = importlib.util.spec_from_file_location("contact_sheet", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


# --- the metric ----------------------------------------------------------------------------------

def test_flip_of_identical_images_is_zero(astronaut):
    assert flip_error(astronaut, astronaut.copy()) == 0.0
    assert measure(astronaut, astronaut.copy())["flip"] == 0.0


def test_flip_grows_with_noise(astronaut):
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 1.0, astronaut.shape)
    errors = [flip_error(astronaut, np.clip(astronaut + sigma * noise, 0, 255).round().astype(np.uint8))
              for sigma in (2, 5, 10, 20, 40)]
    assert errors[0] > 0
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


def test_flip_grows_with_blur(astronaut):
    image = Image.fromarray(astronaut)
    errors = [flip_error(astronaut, np.asarray(image.filter(ImageFilter.GaussianBlur(radius))))
              for radius in (0.5, 1, 2, 4)]
    assert errors[0] > 0
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


def test_flip_is_symmetric_enough_and_bounded(astronaut):
    inverted = 255 - astronaut
    error = flip_error(astronaut, inverted)
    assert 0.2 < error <= 1.0
    assert pixels_per_degree() == pytest.approx(67.02, abs=0.01)  # FLIP's documented default viewing condition


def test_flip_rejects_images_of_different_sizes(astronaut):
    with pytest.raises(ValueError, match="one size"):
        flip_error(astronaut, astronaut[:-1])


def test_image_medium_declares_flip_as_an_error_metric():
    assert "flip" in IMAGE.quality_keys and "flip" in IMAGE.lower_is_better and "flip" in IMAGE.bd_keys
    text = IMAGE.conditions["metrics"]["flip"]
    assert "LDR" in text and "pixels per degree" in text and "flip-evaluator" in text


# --- BD deltas of a lower-is-better metric -------------------------------------------------------

def _curve(name: str, bpp: list[float], flip: list[float]) -> Curve:
    psnr = [25.0 + 4 * np.log2(b / bpp[0]) for b in bpp]
    return Curve(name, name, tuple({"bpp": b, "psnr_rgb": p, "flip": f} for b, p, f in zip(bpp, psnr, flip)))


def test_bd_of_flip_has_the_right_signs():
    bpp = [0.1, 0.2, 0.4, 0.8]
    flip = [0.30, 0.21, 0.13, 0.08]
    anchor = _curve("anchor", bpp, flip)
    cheaper = _curve("cheaper", [0.8 * b for b in bpp], flip)  # the same FLIP for 20 % fewer bits
    worse = _curve("worse", bpp, [f + 0.02 for f in flip])  # more error at every rate
    table = bd_against("anchor", [anchor, cheaper, worse], ms_ssim_key=None, extra_keys=("flip",),
                       lower_is_better=frozenset({"flip"}))
    c, w = table["cheaper"]["flip"], table["worse"]["flip"]
    assert c["bd_rate_percent"] == pytest.approx(-20.0, abs=1e-6)
    assert c["bd_quality"] < 0  # less error at equal rate: better
    assert c["worst_quality_gap"] < 0  # better at every rate compared
    assert c["lower_is_better"] and c["quality_range"][0] < c["quality_range"][1]
    assert w["bd_rate_percent"] > 0  # more bits needed for the same FLIP
    assert w["bd_quality"] == pytest.approx(0.02, abs=1e-9)
    assert w["worst_quality_gap"] == pytest.approx(0.02, abs=1e-9)
    # the anchor against the cheaper curve: the same delta the other way round
    back = bd_against("cheaper", [anchor, cheaper], ms_ssim_key=None, extra_keys=("flip",),
                      lower_is_better=frozenset({"flip"}))["anchor"]["flip"]
    assert back["bd_rate_percent"] == pytest.approx(25.0, abs=1e-6)
    md = markdown(anchor, table, [anchor, cheaper, worse], ("flip",))
    assert "BD-rate (flip)" in md and "-20.0 %" in md


def test_a_worse_curve_crossing_shows_its_worst_point():
    bpp = [0.1, 0.2, 0.4, 0.8]
    anchor = _curve("anchor", bpp, [0.30, 0.21, 0.13, 0.08])
    crossing = _curve("crossing", bpp, [0.26, 0.20, 0.14, 0.10])  # better at low rates, worse at high
    entry = bd_against("anchor", [anchor, crossing], ms_ssim_key=None, extra_keys=("flip",),
                       lower_is_better=frozenset({"flip"}))["crossing"]["flip"]
    assert entry["worst_quality_gap"] == pytest.approx(0.02, abs=1e-3)  # the largest FLIP increase
    assert entry["worst_at_bpp"] == pytest.approx(0.8, rel=0.01)


# --- the evaluator ---------------------------------------------------------------------------------

def test_cached_measurements_without_flip_are_measured_again(dataset, tmp_path):
    data, codecs, cache = open_dataset(dataset, IMAGE.suffixes), select(["jpeg-420"]), Cache(tmp_path / "cache")
    codecs[0].rate_points = (10, 50)  # two points are enough here (an instance attribute of this selection)
    first = evaluate("image", data, codecs, cache, progress=False)
    assert first.cached == 0 and all("flip" in r for r in first.records)
    files = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(files) == len(first.records) == 4
    for path in files:  # as if measured before FLIP was added
        record = json.loads(path.read_text())
        del record["flip"]
        path.write_text(json.dumps(record))
    second = evaluate("image", data, codecs, cache, progress=False)
    assert second.cached == 0 and len(second.records) == 4 and all("flip" in r for r in second.records)
    third = evaluate("image", data, codecs, cache, progress=False)
    assert third.cached == 4


def test_codec_eval_image_writes_flip_columns(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(WebP, "rate_points", (0, 40, 90))  # three points are enough here
    out = tmp_path / "out"
    argv = ["eval", "image", "--dataset", str(dataset), "--codecs", "jpeg-420,webp", "--out", str(out),
            "--anchor", "jpeg-420", "--quiet"]
    assert main(argv) == exitcodes.OK
    results = json.loads((out / "results.json").read_text())
    for points in results["per_item"]["webp"].values():
        assert all(0 < p["flip"] < 1 for p in points)
    average = results["average"]["webp"]
    flips = [p["flip"] for p in average]
    assert flips[0] > flips[-1]  # the lowest rate point has more visible error than the highest
    assert results["bd"]["jpeg-420"]["webp"]["flip"]["lower_is_better"]
    assert "flip" in results["conditions"]["medium"]["metrics"]
    for name in ("per_image.csv", "average.csv"):
        rows = list(csv.DictReader(line for line in (out / name).read_text().splitlines()
                                   if not line.startswith("#")))
        assert rows and all(0 < float(r["flip"]) < 1 for r in rows), name
    assert "BD-flip" in (out / "bd.md").read_text()
    assert (out / "rd_flip.png").stat().st_size > 0


# --- the contact sheet -----------------------------------------------------------------------------

def test_nearest_setting_is_nearest_among_its_neighbours(contact_sheet, astronaut, tmp_path):
    jpeg = select(["jpeg-420"])[0]
    target = 0.8
    setting, data, lowest = contact_sheet.nearest_setting(jpeg, astronaut, target, tmp_path)
    pixels = astronaut.shape[0] * astronaut.shape[1]

    def bpp(quality: int) -> float:
        path = tmp_path / "probe.jpg"
        jpeg.encode(astronaut, quality, path)
        return 8 * path.stat().st_size / pixels

    assert 8 * len(data) / pixels == pytest.approx(bpp(setting))
    assert not lowest and 0 < setting < 100
    gap = abs(bpp(setting) - target)
    assert gap <= abs(bpp(setting - 1) - target) and gap <= abs(bpp(setting + 1) - target)
    # a target below what the codec reaches gives its lowest setting, flagged
    assert contact_sheet.nearest_setting(jpeg, astronaut, 1e-6, tmp_path)[2]


def test_contact_sheet_writes_one_png_and_a_listing(contact_sheet, dataset, tmp_path):
    for old, new in (("astronaut", "kodim01"), ("chelsea", "kodim02")):
        (dataset / f"{old}.png").rename(dataset / f"{new}.png")
    out = tmp_path / "sheet"
    argv = [str(dataset), "--codecs", "jpeg-420,webp", "--crops", "kodim01,kodim02:10,0", "--size", "168",
            "--bpp", "0.5", "--out", str(out)]
    assert contact_sheet.main(argv) == 0
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size == (3 * 168, 2 * (168 + contact_sheet.LABEL_HEIGHT))
    listing = json.loads((out / "contact_sheet.json").read_text())
    assert [(t["crop"], t["codec"]) for t in listing["tiles"]] == [
        ("kodim01", "jpeg-420"), ("kodim01", "webp"), ("kodim02", "jpeg-420"), ("kodim02", "webp")]
    assert all(abs(t["bpp"] - 0.5) < 0.3 and 0 < t["flip"] < 1 for t in listing["tiles"])
    assert listing["conditions"]["crops"] == {"kodim01": "centred", "kodim02": [10, 0]}
    assert "| kodim02 | WebP |" in (out / "contact_sheet.md").read_text()


def test_contact_sheet_bad_input_is_one_message(contact_sheet, dataset, tmp_path, capsys):
    out = tmp_path / "sheet"
    assert contact_sheet.main([str(dataset), "--codecs", "jpeg-420", "--out", str(out)]) == exitcodes.BAD_INPUT
    assert "no image kodim05" in capsys.readouterr().err
    assert contact_sheet.main([str(dataset), "--codecs", "nope", "--out", str(out)]) == exitcodes.USAGE_ERROR
    assert contact_sheet.main([str(dataset), "--crops", "astronaut:1", "--out", str(out)]) == exitcodes.USAGE_ERROR
    assert contact_sheet.main([str(dataset), "--crops", "astronaut", "--size", "64", "--out", str(out)]) \
        == exitcodes.USAGE_ERROR
    assert not out.exists()


def test_rate_points_option_sets_a_codecs_points_for_this_run(dataset, tmp_path):
    out = tmp_path / "out"
    argv = ["eval", "image", "--dataset", str(dataset), "--codecs", "jpeg-420,webp", "--out", str(out),
            "--anchor", "jpeg-420", "--rate-points", "webp=5,60", "--rate-points", "jpeg-420=10,50,90", "--quiet"]
    assert main(argv) == exitcodes.OK
    results = json.loads((out / "results.json").read_text())
    assert len(results["average"]["webp"]) == 2 and len(results["average"]["jpeg-420"]) == 3
    assert WebP.rate_points != (5, 60)  # the class keeps its own points


def test_rate_points_for_a_codec_outside_the_run_is_a_usage_error(dataset, tmp_path, capsys):
    argv = ["eval", "image", "--dataset", str(dataset), "--codecs", "jpeg-420", "--out", str(tmp_path / "o"),
            "--rate-points", "webp=5,60", "--quiet"]
    assert main(argv) == exitcodes.USAGE_ERROR
    assert "webp" in capsys.readouterr().err


def test_reuse_partial_keeps_measurements_made_before_flip(dataset, tmp_path):
    from codec.eval.cache import Cache
    from codec.eval.curves import average, per_item
    from codec.eval.media import MEDIA

    codecs = select(["jpeg-420"])
    codecs[0].rate_points = (20, 80)
    data = open_dataset(dataset, MEDIA["image"].suffixes)
    cache = Cache(tmp_path / "cache")
    evaluate("image", data, codecs, cache, progress=False)
    for path in (tmp_path / "cache").rglob("*.json"):
        record = json.loads(path.read_text())
        del record["flip"]
        path.write_text(json.dumps(record))
    again = evaluate("image", data, codecs, cache, progress=False, reuse_partial=True)
    assert again.cached == len(again.records) > 0 and all("flip" not in r for r in again.records)
    curve = average("jpeg-420", "JPEG", per_item(again.records, MEDIA["image"])["jpeg-420"], (20, 80),
                    MEDIA["image"])
    assert all("psnr_rgb" in p and "flip" not in p for p in curve.points)
