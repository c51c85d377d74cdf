"""``codec eval audio``: metrics that could fail, baselines through PyAV, and a whole run with our tiny model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from codec import zoo
from codec.cli.main import main
from codec.eval.audio_metrics import mel_distance, si_sdr
from codec.eval.codecs.mp3 import Mp3Codec
from codec.eval.codecs.opus import OpusCodec
from codec.eval.media.audio import load, measure

from audio_fixtures import tiny_family, tone


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    fam = tiny_family(tmp_path_factory.mktemp("rvq-weights"))
    zoo.register_family(fam)
    yield fam
    zoo.unregister_family(fam.name)


def test_si_sdr_and_mel_distance():
    x = tone(1.0, 16000)[:, 0]
    noise = np.random.default_rng(0).standard_normal(x.size) * 0.03
    assert si_sdr(x, 0.5 * x) == np.inf
    assert si_sdr(x, x + noise) == pytest.approx(10 * np.log10((x - x.mean()) @ (x - x.mean()) / (noise @ noise)),
                                                 abs=0.5)
    assert mel_distance(x, x, 16000) == 0
    assert mel_distance(x, x + noise, 16000) < mel_distance(x, x + 10 * noise, 16000)


@pytest.mark.parametrize("codec", [OpusCodec(), Mp3Codec()], ids=["opus", "mp3"])
def test_baselines_line_up_and_count_payloads(tmp_path, codec):
    path = tmp_path / "music.wav"
    sf.write(path, tone(2.0, 44100, 2), 44100)
    ref = load(path)
    coded = tmp_path / f"c.{codec.extension}"
    codec.encode(ref, 64, coded)
    decoded = codec.decode(coded)
    assert 0 < decoded.payload_bytes < coded.stat().st_size
    m = measure(ref, decoded)
    assert m["si_sdr"] > 5          # aligned: a delay of even a few samples would ruin SI-SDR at 64 kbit/s
    assert m["kbps"] == pytest.approx(8 * decoded.payload_bytes / 2.0 / 1000)


def test_eval_audio_runs_ours_and_opus(family, tmp_path, capsys):
    data = tmp_path / "speech"
    data.mkdir()
    sf.write(data / "a.wav", tone(1.2, 16000), 16000)
    out = tmp_path / "results"
    code = main(["eval", "audio", "--dataset", str(data), "--codecs", "nmc-rvq-test-tiny,opus", "--out", str(out),
                 "--anchor", "opus", "--quiet"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    ours = results["average"]["nmc-rvq-test-tiny"]
    assert [p["rate_point"] for p in ours] == sorted(p["rate_point"] for p in ours)
    assert {"visqol", "mel_distance", "si_sdr", "pesq_wb", "stoi", "kbps"} <= set(ours[0])
    assert "nmc-rvq-test-tiny" in results["bd"]["opus"]
    rows = [r for r in csv.reader(line for line in (out / "per_item.csv").read_text().splitlines()
                                  if not line.startswith("#"))]
    assert "file_kbps" in rows[0] and len(rows) > 10
    assert (out / "rd_visqol.png").exists() and "BD-rate" in (out / "bd.md").read_text()
