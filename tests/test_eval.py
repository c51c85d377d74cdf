"""The RD evaluator: metrics, Bjøntegaard deltas, baselines, engine and ``codec eval image``."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("scipy")
skimage_data = pytest.importorskip("skimage.data")

from PIL import Image  # noqa: E402

from codec.cli import exitcodes  # noqa: E402
from codec.cli.main import main  # noqa: E402
from codec.eval.bjontegaard import bd_quality, bd_rate, worst_quality_gap  # noqa: E402
from codec.eval.cache import Cache  # noqa: E402
from codec.eval.codecs import all_codecs, select  # noqa: E402
from codec.eval.codecs.vvc import Vvc  # noqa: E402
from codec.eval.colour import Conversion  # noqa: E402
from codec.eval.dataset import open_dataset  # noqa: E402
from codec.eval.engine import Task, evaluate, measure_task  # noqa: E402
from codec.eval.media.image import IMAGE  # noqa: E402
from codec.eval.msssim import ms_ssim  # noqa: E402
from codec.eval.psnr import psnr  # noqa: E402
from codec.eval.published import load_published  # noqa: E402
from codec.errors import UsageError  # noqa: E402

# Smallest crops that MS-SSIM accepts (both sides > 160), so the suite stays fast.
H, W = 176, 192


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


# --- metrics -------------------------------------------------------------------------------------

def test_psnr_hand_computed():
    ref = np.zeros((4, 4, 3), np.uint8)
    one_off = ref.copy()
    one_off[0, 0, 0] = 255  # MSE = 255^2 / 48, so PSNR = 10 log10(48)
    assert psnr(ref, one_off) == pytest.approx(10 * math.log10(48))
    assert psnr(ref, ref + 1) == pytest.approx(20 * math.log10(255))  # MSE 1
    assert psnr(ref, ref) == math.inf


def test_bits_and_bpp_from_size():
    assert IMAGE.rate(100, np.zeros((10, 20, 3), np.uint8)) == {"bits": 800, "bpp": 4.0}


def test_msssim_identical_is_one(astronaut):
    assert ms_ssim(astronaut, astronaut) == pytest.approx(1.0)


def test_msssim_flat_images_hand_computed():
    # Flat images: every contrast-structure term is C2/C2 = 1 and the luminance
    # term is the same at every scale, so MS-SSIM = l ** w5 with w5 = 0.1333.
    a, b, c1 = 100.0, 110.0, (0.01 * 255) ** 2
    luminance = (2 * a * b + c1) / (a * a + b * b + c1)
    x = np.full((H, W, 3), a, np.uint8)
    y = np.full((H, W, 3), b, np.uint8)
    assert ms_ssim(x, y) == pytest.approx(luminance ** 0.1333, rel=1e-12)


def test_msssim_falls_with_noise(astronaut):
    rng = np.random.default_rng(0)
    values = []
    for sigma in (2, 8, 32):
        noisy = np.clip(astronaut + rng.normal(0, sigma, astronaut.shape), 0, 255).astype(np.uint8)
        values.append(ms_ssim(astronaut, noisy))
    assert 1 > values[0] > values[1] > values[2] > 0


def test_msssim_rejects_small_images():
    with pytest.raises(ValueError, match="160"):
        ms_ssim(np.zeros((160, 200, 3), np.uint8), np.zeros((160, 200, 3), np.uint8))


def test_colour_conversion_round_trip(astronaut):
    assert psnr(astronaut, Conversion(chroma="444").to_rgb(Conversion(chroma="444").to_planes(astronaut))) > 48
    c420 = Conversion(matrix="bt709", full_range=False, chroma="420")
    planes = c420.to_planes(astronaut)
    assert planes[1].shape == (H // 2, W // 2)
    assert psnr(astronaut, c420.to_rgb(planes)) > 30
    assert Conversion().describe()["matrix"] == "bt601"


# --- Bjøntegaard -----------------------------------------------------------------------------------

RATES = [0.1, 0.25, 0.5, 1.0, 2.0]
PSNRS = [27.0, 30.5, 33.8, 37.0, 40.1]


def test_bd_rate_of_a_curve_against_itself_is_zero():
    d = bd_rate(RATES, PSNRS, RATES, PSNRS)
    assert d.value == pytest.approx(0.0, abs=1e-12)
    assert (d.low, d.high) == (27.0, 40.1)
    assert bd_quality(RATES, PSNRS, RATES, PSNRS).value == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("factor", [0.8, 1.25, 2.0])
def test_bd_rate_of_a_rate_scaled_curve_is_the_factor(factor):
    d = bd_rate(RATES, PSNRS, [r * factor for r in RATES], PSNRS)
    assert d.value == pytest.approx(factor - 1, rel=1e-9)


def test_bd_psnr_of_a_shifted_curve_and_range():
    d = bd_quality(RATES, PSNRS, RATES, [p + 0.5 for p in PSNRS])
    assert d.value == pytest.approx(0.5)
    assert (d.low, d.high) == pytest.approx((0.1, 2.0))
    # partial overlap: only the common PSNR range counts, and it is reported
    partial = bd_rate(RATES, PSNRS, RATES[2:], PSNRS[2:])
    assert (partial.low, partial.high) == (33.8, 40.1)
    with pytest.raises(ValueError, match="overlap"):
        bd_rate(RATES[:2], PSNRS[:2], RATES[3:], PSNRS[3:])


def test_worst_gap_finds_a_crossing_that_the_average_hides():
    better = worst_quality_gap(RATES, PSNRS, RATES, [p + 0.5 for p in PSNRS])
    assert better.value == pytest.approx(0.5)
    # Better by 1 dB at low rates, worse by 0.4 dB at the highest: the BD average stays positive.
    tilted = [p + d for p, d in zip(PSNRS, [1.0, 0.8, 0.5, 0.1, -0.4])]
    assert bd_quality(RATES, PSNRS, RATES, tilted).value > 0
    worst = worst_quality_gap(RATES, PSNRS, RATES, tilted)
    assert worst.value == pytest.approx(-0.4) and worst.low == pytest.approx(RATES[-1])



# --- baselines -------------------------------------------------------------------------------------

# Every image baseline, and ours through the default image model (other families have their own tests;
# their encoders may spend minutes per image).
BUILTIN = [name for name, c in all_codecs().items()
           if name != "vvc" and c.medium == "image" and (not name.startswith("nmc-") or name == "nmc-hyperprior-vr-small")]


@pytest.mark.parametrize("name", BUILTIN)
def test_baseline_file_decodes_and_size_is_file_size(name, tmp_path, astronaut, dataset):
    codec = all_codecs()[name]
    if codec.unavailable():
        pytest.skip(codec.unavailable())
    rate_point = codec.rate_points[len(codec.rate_points) // 2]
    path = tmp_path / f"a.{codec.extension}"
    codec.encode(astronaut, rate_point, path)
    decoded = codec.decode(path)
    assert decoded.shape == astronaut.shape and decoded.dtype == np.uint8
    assert psnr(astronaut, decoded) > 25
    # the engine's measurement counts the same whole file (encoders are deterministic)
    item = next(i for i in open_dataset(dataset, IMAGE.suffixes).items if i.name == "astronaut.png")
    record = measure_task(Task("image", codec, rate_point, item, key=""))
    assert record["bytes"] == path.stat().st_size
    assert record["bits"] == 8 * record["bytes"]
    assert record["bpp"] == pytest.approx(record["bits"] / (H * W))
    assert record["psnr_rgb"] == pytest.approx(psnr(astronaut, decoded))


def test_rate_points_go_up_in_rate(astronaut, tmp_path):
    codec = all_codecs()["jpeg-420"]
    sizes = []
    for q in codec.rate_points:
        codec.encode(astronaut, q, tmp_path / "x.jpg")
        sizes.append((tmp_path / "x.jpg").stat().st_size)
    assert sizes == sorted(sizes)


def test_missing_external_encoder_is_skipped_with_a_message(dataset, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    vvc = Vvc()
    assert "vvencapp" in vvc.unavailable() and "EncoderApp" in vvc.unavailable()
    assert "not found" in Vvc("/no/such/vvencapp").unavailable()
    codecs = [vvc, all_codecs()["jpeg-420"]]
    codec_log = logging.getLogger("codec")
    codec_log.addHandler(caplog.handler)  # the CLI stops propagation to the root, where caplog listens
    try:
        with caplog.at_level(logging.WARNING, logger="codec"):
            outcome = evaluate("image", open_dataset(dataset, IMAGE.suffixes), codecs, Cache(None), progress=False)
    finally:
        codec_log.removeHandler(caplog.handler)
    assert "vvc" in outcome.skipped_codecs
    assert "skipping vvc" in caplog.text
    assert {r["codec"] for r in outcome.records} == {"jpeg-420"}


def test_unknown_codec_is_a_usage_error(capsys, dataset):
    assert main(["eval", "image", "--dataset", str(dataset), "--codecs", "nope"]) == exitcodes.USAGE_ERROR
    assert "unknown codec nope" in capsys.readouterr().err
    with pytest.raises(UsageError):
        select(["nope"])


# --- whole runs ------------------------------------------------------------------------------------

def _published(tmp_path) -> Path:
    path = tmp_path / "ref-curve.json"
    path.write_text(json.dumps({"name": "Ref", "results": {
        "bpp": [0.2, 0.5, 1.0, 2.0], "psnr-rgb": [26.0, 30.0, 34.0, 38.0],
        "ms-ssim-rgb": [0.90, 0.95, 0.98, 0.99]}}))
    return path


def test_cli_run_writes_results_and_reports_broken_image(capsys, dataset, tmp_path):
    (dataset / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    out = tmp_path / "out"
    argv = ["eval", "image", "--dataset", str(dataset), "--codecs", "jpeg-420,jpeg-444", "--out", str(out),
            "--published", str(_published(tmp_path)), "--anchor", "jpeg-420", "--anchor", "ref-curve", "--quiet"]
    assert main(argv) == exitcodes.OK
    assert {p.name for p in out.iterdir()} >= {"results.json", "per_image.csv", "average.csv", "bd.md",
                                               "rd_psnr.png", "rd_msssim.png"}
    results = json.loads((out / "results.json").read_text())
    assert "broken.png" in results["broken_items"]
    assert set(results["per_item"]["jpeg-420"]) == {"astronaut.png", "chelsea.png"}
    average = results["average"]["jpeg-420"]
    assert [p["items"] for p in average] == [2] * 8
    assert results["bd"]["jpeg-420"]["jpeg-444"]["psnr"]["quality_range"]
    assert "jpeg-444" in results["bd"]["ref-curve"]
    assert results["conditions"]["dataset"]["name"] == "tiny"
    assert results["codecs"]["jpeg-444"]["settings"]["subsampling"] == "444"
    for f in ("results.json", "per_image.csv", "average.csv", "bd.md"):
        text = (out / f).read_text()
        assert str(tmp_path) not in text, f"{f} holds a local path"
        assert results["conditions"]["dataset"]["sha256"][:16] in text
    # a second run resumes from the cache: nothing is encoded again
    (dataset / "broken.png").unlink()
    outcome = evaluate("image", open_dataset(dataset, IMAGE.suffixes), select(["jpeg-420"]),
                       Cache(out / ".cache"), progress=False)
    assert outcome.cached == len(outcome.records) == 8 * 2


def test_published_curve_loads_by_stem(tmp_path):
    curve, source = load_published(_published(tmp_path))
    assert curve.name == "ref-curve" and curve.published
    assert source["file"] == "ref-curve.json"
    assert curve.series("bpp") == [0.2, 0.5, 1.0, 2.0]


def test_parallel_run_matches_serial(dataset):
    data = open_dataset(dataset, IMAGE.suffixes)
    codecs = select(["jpeg-420"])
    serial = evaluate("image", data, codecs, Cache(None), progress=False)
    parallel = evaluate("image", data, codecs, Cache(None), jobs=2, progress=False)
    key = lambda r: (r["item"], r["rate_point"])  # noqa: E731
    strip = lambda r: {k: v for k, v in r.items() if not k.endswith("_seconds")}  # noqa: E731
    assert [strip(r) for r in sorted(serial.records, key=key)] == [strip(r) for r in sorted(parallel.records, key=key)]
