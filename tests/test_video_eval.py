"""``codec eval video``: clips in, PSNR-YUV BD tables, CSV and plots out, ours beside low-delay baselines."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from codec.cli.main import main
from codec.eval.codecs import all_codecs
from codec.eval.media.video import MEDIUM as EVAL_VIDEO
from codec.eval.video_metrics import MAX_PSNR, ms_ssim_luma, plane_psnr
from codec.media.video import MEDIUM, VideoFrame
from video_fixtures import moving_clip

BASELINES = ["x264-medium-ld", "x264-veryslow-ld", "x265-medium-ld", "svtav1-ld"]


def write_clip(path, clip):
    sink = MEDIUM.open_sink(path, path.suffix[1:], clip.info(), {})
    for frame in clip.frames:
        sink.write(frame)
    sink.close()


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    write_clip(folder / "pan.y4m", moving_clip(6, width=96, height=64))
    raw = moving_clip(4, width=64, height=64, seed=3)
    write_clip(folder / "raw.yuv", raw)
    (folder / "raw.json").write_text(json.dumps({"width": 64, "height": 64, "fps": "30"}))
    return folder


@pytest.mark.parametrize("name", BASELINES)
def test_low_delay_baselines_code_every_frame_in_order_with_one_intra_frame(name, tmp_path):
    import av

    codec = all_codecs()[name]
    if codec.unavailable():
        pytest.skip(codec.unavailable())
    clip = EVAL_VIDEO.load(_write(tmp_path, moving_clip(6, width=96, height=64)))
    path = tmp_path / f"c.{codec.extension}"
    codec.encode(clip, codec.rate_points[3], path)
    with av.open(str(path)) as container:
        kinds = [int(f.pict_type) for f in container.decode(video=0)]  # AVPictureType: 1 I, 2 P, 3 B
    assert kinds == [1, 2, 2, 2, 2, 2]
    metrics = EVAL_VIDEO.measure(clip, codec.decode(path))
    assert metrics["psnr_yuv"] > 30 and len(metrics["frame_psnr_yuv"]) == 6


def _write(tmp_path, clip):
    path = tmp_path / "src.y4m"
    write_clip(path, clip)
    return path


def test_metrics_follow_their_definitions():
    a = moving_clip(1).frames[0]
    noisy = VideoFrame(np.clip(a.y.astype(int) + 4, 0, 255).astype(np.uint8), a.u, a.v)
    assert plane_psnr(a.y, a.y) == MAX_PSNR
    m = EVAL_VIDEO.measure(moving_clip(1), [noisy])
    y = plane_psnr(a.y, noisy.y)
    assert m["psnr_y"] == pytest.approx(y) and m["psnr_yuv"] == pytest.approx((6 * y + 2 * MAX_PSNR) / 8)
    assert ms_ssim_luma(a.y, a.y) == pytest.approx(1.0) and ms_ssim_luma(a.y, noisy.y) < 1.0


def test_sidecar_gives_raw_video_its_size_and_rate(dataset):
    clip = EVAL_VIDEO.load(dataset / "raw.yuv")
    assert clip.fps == Fraction(30) and clip.frames[0].y.shape == (64, 64) and len(clip.frames) == 4
    assert len(EVAL_VIDEO.load(dataset / "pan.y4m", frames=3).frames) == 3


def test_eval_video_writes_bd_tables_on_psnr_yuv_csv_and_plots(dataset, tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(["eval", "video", "--dataset", str(dataset), "--codecs", "x264-medium-ld,svtav1-ld",
                 "--frames", "4", "--out", str(out), "--quiet"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["conditions"]["medium"]["options"] == {"frames": 4}
    delta = results["bd"]["x264-medium-ld"]["svtav1-ld"]
    assert "bd_rate_percent" in delta["psnr"] and "ms_ssim_db" in delta
    point = results["per_item"]["svtav1-ld"]["pan.y4m"][0]
    assert point["frames"] == 4 and len(point["frame_psnr_yuv"]) == 4 and point["kbps"] > 0
    header = [line for line in (out / "average.csv").read_text().splitlines() if not line.startswith("#")][0]
    assert header == "codec,rate_point,items,bpp,psnr_yuv,psnr_y,psnr_rgb,ms_ssim_y"
    for stem in ("rd_psnr_yuv", "rd_psnr_y", "rd_psnr", "rd_ms_ssim_y"):
        assert (out / f"{stem}.png").stat().st_size > 1000


@pytest.mark.parametrize("tool,expected", [("vvencFFapp", [" --PicReordering=0 ", " -b "]),
                                           ("vvencapp", [" PicReordering=0 GOPSize=8 InternalBitDepth=8 ", " -o "])])
def test_vvc_low_delay_speaks_each_vvenc_application(tool, expected):
    """vvencapp rejects vvencFFapp's options (it wants -o and takes the rest through --additional); the
    codec builds each one's command line, so --vvc-encoder may name either."""
    from codec.eval.codecs.vvc_ld import VvcLowDelay

    arguments = f' {VvcLowDelay(tool).settings()["arguments"]} '
    assert all(e in arguments for e in expected)
    assert VvcLowDelay(tool).settings()["encoder"] == tool
