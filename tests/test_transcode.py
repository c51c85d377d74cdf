"""``codec transcode``: folders, manifests, overwrite policy, failures, resuming after SIGKILL, engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.api import decode_image
from codec.batch import ItemOptions, JobSpec, Overwrite, run_job
from codec.batch.job import FAILURES_NAME
from codec.cli import exitcodes
from codec.cli.main import main
from codec.container import parse_container
from codec.io.atomic import TEMP_PREFIX

REPO = Path(__file__).resolve().parents[1]


def _crops(n: int) -> list[np.ndarray]:
    """Tiny 48x64 crops of scikit-image photos: fast to code, real image statistics."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    return [photos[i % len(photos)][40 + 8 * i: 88 + 8 * i, 60 + 4 * i: 124 + 4 * i] for i in range(n)]


def _make_images(folder: Path, n: int, ext: str = "png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(_crops(n)):
        path = folder / f"img{i:02d}.{ext}"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def _outputs(root: Path, ext: str = ".nmc") -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob(f"*{ext}"))}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Good images in a tree, a corrupt PNG, a text file posing as a JPEG, and a note that is not media."""
    root = tmp_path_factory.mktemp("library") / "in"
    _make_images(root, 3)
    _make_images(root / "sub", 2, "jpg")
    good = (root / "img00.png").read_bytes()
    (root / "sub" / "corrupt.png").write_bytes(good[: len(good) // 3])
    (root / "sub" / "fake.jpg").write_text("not an image")
    (root / "notes.txt").write_text("shot on a Tuesday")
    return root


def test_folder_with_bad_inputs_codes_the_rest_and_reports_failures(capsys, library, tmp_path):
    out = tmp_path / "out"
    code, _, err = _run(capsys, "transcode", "-i", str(library), "-o", str(out), "-j", "1")
    assert code == exitcodes.BAD_INPUT
    coded = _outputs(out)
    assert sorted(coded) == ["img00.nmc", "img01.nmc", "img02.nmc", "sub/img00.nmc", "sub/img01.nmc"]
    for data in coded.values():
        assert decode_image(data).shape == (48, 64, 3)
    failures = [json.loads(line) for line in (out / FAILURES_NAME).read_text().splitlines()]
    assert {Path(f["input"]).name for f in failures} == {"corrupt.png", "fake.jpg"}
    assert all(f["category"] == "input" and f["reason"] for f in failures)
    assert "5 done" in err and "2 failed" in err and "1 ignored" in err
    assert not _temporaries(out)


def test_rerun_skips_complete_outputs_redoes_damaged_and_y_redoes_all(capsys, tmp_path):
    src = tmp_path / "in"
    _make_images(src, 3)
    out = tmp_path / "out"
    assert _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-j", "1")[0] == exitcodes.OK
    first = _outputs(out)
    damaged = out / "img01.nmc"
    damaged.write_bytes(first["img01.nmc"][:-5])
    progress = tmp_path / "progress.jsonl"
    code, _, err = _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-j", "1", "--progress", str(progress))
    assert code == exitcodes.OK and "1 done" in err and "2 skipped" in err
    assert _outputs(out) == first
    lines = [json.loads(line) for line in progress.read_text().splitlines()]
    assert [line["status"] for line in lines[:-1]].count("skipped") == 2
    assert lines[-1]["event"] == "end" and lines[-1]["done"] == 1 and lines[-1]["total"] == 3
    assert {"files_per_s", "mb_per_s", "eta_s", "failed"} <= set(lines[-1])
    code, _, err = _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-j", "1", "-y")
    assert code == exitcodes.OK and "3 done" in err


def test_n_never_replaces_an_existing_output(capsys, tmp_path):
    src = tmp_path / "in"
    _make_images(src, 2)
    out = tmp_path / "out"
    out.mkdir()
    damaged = b"NMC but not really"
    (out / "img00.nmc").write_bytes(damaged)
    (out / "img01.nmc").write_bytes(parse_and_keep := _encode_bytes(src / "img01.png", quality=1))
    summary = run_job(JobSpec(src, out, overwrite=Overwrite.NEVER, workers=1))
    assert (summary.done, summary.skipped, summary.failed) == (0, 1, 1)
    assert (out / "img00.nmc").read_bytes() == damaged
    assert (out / "img01.nmc").read_bytes() == parse_and_keep
    assert "-n forbids" in json.loads((out / FAILURES_NAME).read_text())["reason"]
    # The command line's -n is the same policy: the damaged output is reported, not replaced.
    code, _, _ = _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-n", "-q", "8")
    assert code == exitcodes.OUTPUT_ERROR
    assert (out / "img00.nmc").read_bytes() == damaged
    assert (out / "img01.nmc").read_bytes() == parse_and_keep
    # Without a flag the damaged output is redone and the complete one kept.
    code, _, _ = _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-q", "8")
    assert code == exitcodes.OK and (out / "img01.nmc").read_bytes() == parse_and_keep
    assert parse_container((out / "img00.nmc").read_bytes()).packets


def _encode_bytes(path: Path, **options) -> bytes:
    from codec.api import encode_image

    return encode_image(path, **options)


def test_manifest_with_per_item_options(capsys, tmp_path):
    src = tmp_path / "in"
    paths = _make_images(src, 3)
    manifest = src / "list.csv"
    manifest.write_text("path,quality,output,format\n"
                        "img00.png,1,,\n"
                        "img01.png,,custom/one.nmc,\n"
                        "img02.png,9,,\n"
                        "missing.png,,,\n")
    out = tmp_path / "out"
    code, _, _ = _run(capsys, "transcode", "-i", str(manifest), "-o", str(out), "-q", "6", "-j", "1")
    assert code == exitcodes.BAD_INPUT
    assert parse_container((out / "img00.nmc").read_bytes()).header.quality == 1
    assert parse_container((out / "custom/one.nmc").read_bytes()).header.quality == 6
    reasons = {Path(f["input"]).name: f["reason"] for f in map(json.loads, (out / FAILURES_NAME).open())}
    assert set(reasons) == {"img02.png", "missing.png"} and "1..8" in reasons["img02.png"]

    jsonl = src / "decode.jsonl"
    jsonl.write_text(json.dumps({"path": str(out / "img00.nmc"), "format": "webp", "output": "a.webp"}) + "\n"
                     + json.dumps({"path": str(out / "custom/one.nmc"), "output": "b.png"}) + "\n"
                     + '{"path": "x.nmc", "speed": 3}\n')
    dec = tmp_path / "dec"
    code, _, _ = _run(capsys, "transcode", "-i", str(jsonl), "-o", str(dec), "-j", "1")
    assert code == exitcodes.BAD_INPUT  # the line with an unknown key
    with Image.open(dec / "a.webp") as im:
        assert im.format == "WEBP" and im.size == (64, 48)
    assert np.array_equal(np.asarray(Image.open(dec / "b.png")), decode_image((out / "custom/one.nmc").read_bytes()))
    assert paths  # inputs untouched
    assert not _temporaries(tmp_path)


def test_decode_direction_mirrors_the_tree_and_dry_run_writes_nothing(capsys, library, tmp_path):
    out, dec = tmp_path / "out", tmp_path / "dec"
    _run(capsys, "transcode", "-i", str(library), "-o", str(out), "-j", "1", "--include", "*.png")
    assert sorted(_outputs(out)) == ["img00.nmc", "img01.nmc", "img02.nmc"]
    code, listing, _ = _run(capsys, "transcode", "-i", str(out), "-o", str(dec), "--format", "tiff", "--dry-run")
    assert code == exitcodes.OK and listing.count("decode ") == 3 and not dec.exists()
    code, _, _ = _run(capsys, "transcode", "-i", str(out), "-o", str(dec), "--format", "tiff", "-j", "1")
    assert code == exitcodes.OK
    assert sorted(p.name for p in dec.iterdir()) == ["img00.tiff", "img01.tiff", "img02.tiff"]


def test_stale_temporaries_are_removed_and_usage_errors_are_one_line(capsys, tmp_path):
    src = tmp_path / "in"
    _make_images(src, 1)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f"{TEMP_PREFIX}img00.nmc.abc123_z"
    stale.write_bytes(b"half")
    assert _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-j", "1")[0] == exitcodes.OK
    assert not stale.exists() and (out / "img00.nmc").exists()
    code, _, err = _run(capsys, "transcode", "-i", str(src), "-o", str(out), "-j", "0")
    assert code == exitcodes.USAGE_ERROR and err.count("\n") == 1
    code, _, err = _run(capsys, "transcode", "-i", str(tmp_path / "nope"), "-o", str(out))
    assert code == exitcodes.BAD_INPUT and err.count("\n") == 1


def test_process_pool_is_byte_identical_to_one_worker(tmp_path):
    src = tmp_path / "in"
    _make_images(src, 4)
    one = run_job(JobSpec(src, tmp_path / "one", ItemOptions(quality=3), workers=1))
    two = run_job(JobSpec(src, tmp_path / "two", ItemOptions(quality=3), workers=2))
    assert one.done == two.done == 4
    assert _outputs(tmp_path / "one") == _outputs(tmp_path / "two")


def test_sigkill_then_rerun_completes_only_what_is_missing(tmp_path):
    src = tmp_path / "in"
    _make_images(src, 10)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "codec.cli.main", "transcode", "-i", str(src), "-o", str(out), "-j", "1", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=REPO)
    deadline = time.monotonic() + 60
    while not list(out.glob("*.nmc")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _outputs(out)
    assert 1 <= len(finished) < 10, "the job should be killed part-way"
    for data in finished.values():
        parse_container(data)  # nothing partial under a final name
    progress = tmp_path / "progress.jsonl"
    rerun = subprocess.run(cmd + ["--progress", str(progress)], cwd=REPO)
    assert rerun.returncode == exitcodes.OK
    end = json.loads(progress.read_text().splitlines()[-1])
    assert end["skipped"] == len(finished) and end["done"] == 10 - len(finished)
    coded = _outputs(out)
    assert len(coded) == 10
    for name, data in coded.items():
        assert decode_image(data).shape == (48, 64, 3), name
    assert not _temporaries(out)


def test_ray_engine_matches_local_engine_byte_for_byte(capsys, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'neural-media-codec[ray]'")
    src = tmp_path / "in"
    _make_images(src, 4)
    (src / "bad.png").write_text("nope")
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert _run(capsys, "transcode", "-i", str(src), "-o", str(local), "-j", "1")[0] == exitcodes.BAD_INPUT
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code, _, err = _run(capsys, "transcode", "-i", str(src), "-o", str(remote), "--engine", "ray")
    finally:
        ray.shutdown()
    assert code == exitcodes.BAD_INPUT and "4 done" in err and "1 failed" in err
    assert _outputs(remote) == _outputs(local) and len(_outputs(local)) == 4
    assert json.loads((remote / FAILURES_NAME).read_text())["input"].endswith("bad.png")


def test_a_dying_worker_fails_its_items_and_the_pool_is_replaced():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from codec.batch.engines.local import _collect
    from codec.batch.items import Direction, Status, WorkItem

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        items = [WorkItem(Path(f"in{i}.png"), Path(f"out{i}.nmc"), Direction.ENCODE, "image") for i in range(2)]
        pending = {pool.submit(os._exit, 1): items[0], pool.submit(time.sleep, 0.1): items[1]}
        gen = _collect(pending)
        outcomes = []
        try:
            while True:
                outcomes.append(next(gen))
        except StopIteration as stop:
            broken = stop.value
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    assert broken and not pending
    assert [o.status for o in outcomes] == [Status.FAILED, Status.FAILED]
    assert all("worker process died" in o.reason for o in outcomes)
