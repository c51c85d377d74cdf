"""The audio medium: readers (soundfile and PyAV, pipes), writers (WAV, FLAC), --start/--duration, and the
CLI (encode, decode, info, transcode) on the tiny test model."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import soundfile as sf

from codec import zoo
from codec.cli.main import main
from codec.errors import BadInputError
from codec.eval.audio_metrics import mel_distance
from codec.media.audio import MEDIUM, AudioClip, WavWriter, layout_mask, open_audio

from audio_fixtures import MODEL_ID, tiny_family, tone


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    fam = tiny_family(tmp_path_factory.mktemp("rvq-weights"))
    zoo.register_family(fam)
    yield fam
    zoo.unregister_family(fam.name)


def pyav_write(path, samples: np.ndarray, rate: int, codec_name: str, fmt: str) -> None:
    import av

    layout = "mono" if samples.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec_name, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T), format="fltp", layout=layout)
        frame.sample_rate = rate
        for p in stream.encode(frame):
            out.mux(p)
        for p in stream.encode(None):
            out.mux(p)


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"), ("flac", "PCM_16"),
                                         ("ogg", "VORBIS")])
def test_soundfile_formats_read_in_blocks(tmp_path, ext, subtype):
    x = tone(2.5, 44100, 2)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 44100, subtype=subtype)
    with open_audio(path) as src:
        assert (src.info.sample_rate, src.info.channels, src.info.channel_layout) == (44100, 2, 0x3)
        blocks = list(src)
    assert max(b.shape[0] for b in blocks) <= 44100 and blocks[0].dtype == np.float32
    y = np.concatenate(blocks)
    assert y.shape == x.shape
    if subtype != "VORBIS":
        assert np.abs(y - x).max() < 1e-4


@pytest.mark.parametrize("codec_name,fmt,ext", [("libmp3lame", "mp3", "mp3"), ("aac", "ipod", "m4a")])
def test_pyav_formats(tmp_path, codec_name, fmt, ext):
    path = tmp_path / f"a.{ext}"
    pyav_write(path, tone(1.0, 44100, 2), 44100, codec_name, fmt)
    with open_audio(path) as src:
        assert (src.info.sample_rate, src.info.channels) == (44100, 2)
        n = sum(b.shape[0] for b in src)
    assert abs(n - 44100) < 3000


def test_pipe_input_through_pyav(tmp_path, monkeypatch):
    buf = io.BytesIO()
    sf.write(buf, tone(0.8, 16000), 16000, format="WAV")
    monkeypatch.setattr(sys, "stdin", type("S", (), {"buffer": io.BytesIO(buf.getvalue())})())
    with open_audio("-") as src:
        assert src.info.sample_rate == 16000
        assert sum(b.shape[0] for b in src) == 12800


def test_unreadable_and_empty_sources(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(BadInputError, match="cannot read audio"):
        open_audio(tmp_path / "bad.wav")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(BadInputError, match="no samples"):
        open_audio(tmp_path / "empty.wav")


@pytest.mark.parametrize("fmt,sample_format", [("wav", "16"), ("wav", "24"), ("wav", "float"), ("flac", "16"),
                                               ("flac", "24")])
def test_writers_and_trimming(tmp_path, fmt, sample_format):
    info = MEDIUM.source_info(samplerate=8000, channels=2)
    x = tone(2.0, 8000, 2)
    path = tmp_path / f"out.{fmt}"
    sink = MEDIUM.open_sink(path, fmt, info, {"start": 0.5, "duration": 1.0, "sample_format": sample_format})
    for i in range(0, x.shape[0], 3000):
        sink.write(x[i:i + 3000])
    sink.close()
    MEDIUM.verify_file(path)
    y, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 8000 and y.shape == (8000, 2)
    tol = {"16": 1e-4, "24": 1e-6, "float": 0}[sample_format]
    assert np.abs(y - x[4000:12000]).max() <= tol


def test_wav_to_a_pipe_leaves_sizes_open():
    class Pipe(io.BytesIO):
        def seek(self, *a):
            raise OSError("not seekable")

    pipe = Pipe()
    w = WavWriter(pipe, 16000, 1, "16")
    w.write(tone(0.1, 16000))
    w.close()
    assert pipe.getvalue()[4:8] == b"\xff\xff\xff\xff"


def test_layouts():
    assert layout_mask(["FL", "FR", "FC", "LFE", "BL", "BR"]) == 0x3F
    assert layout_mask(["FL", "FL"]) == 0


def run(*args) -> int:
    return main([str(a) for a in args])


def test_cli_encode_info_decode_with_start_and_duration(family, tmp_path, capsys):
    sf.write(tmp_path / "speech.wav", tone(3.0, 16000), 16000)
    assert run("encode", tmp_path / "speech.wav", "-o", tmp_path / "speech.nmc", "-b", "1.5k", "--model",
               MODEL_ID) == 0
    capsys.readouterr()
    assert run("info", tmp_path / "speech.nmc", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"]["sample_rate"] == 16000 and info["source"]["channels"] == 1
    assert info["duration_seconds"] == pytest.approx(3.0)
    assert 1000 < info["bits_per_second"] < 3000
    assert run("decode", tmp_path / "speech.nmc", "-o", tmp_path / "part.flac", "--start", "0.5",
               "--duration", "1.25") == 0
    y, rate = sf.read(tmp_path / "part.flac")
    assert rate == 16000 and y.shape[0] == 20000
    assert run("decode", tmp_path / "speech.nmc", "-o", tmp_path / "all.wav") == 0
    assert sf.info(tmp_path / "all.wav").frames == 48000


@pytest.mark.skipif(not any(m.entry.id == "rvq-audio-small" for m in zoo.installed_models()),
                    reason="the shipped rvq-audio-small weights are not installed")
def test_shipped_model_cli_round_trip_at_6k(tmp_path, capsys):
    """The user's command lines with the shipped weights: -b 6k, the rate restored, WAV and FLAC outputs."""
    rate = 16000
    x = tone(1.5, rate)
    sf.write(tmp_path / "speech.wav", x, rate, subtype="PCM_16")
    assert run("encode", tmp_path / "speech.wav", "-b", "6k", "-o", tmp_path / "x.nmc") == 0
    capsys.readouterr()
    assert run("info", tmp_path / "x.nmc", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    current = max((i.entry for i in zoo.installed_models() if i.entry.id == "rvq-audio-small"),
                  key=lambda e: e.revision)
    assert info["model"]["id"] == current.full_id   # the newest shipped revision codes new files
    # 6 kbit/s, plus the header's share of 1.5 s and a last packet that runs 80 ms past the end
    assert 4000 < info["bits_per_second"] < 9500
    for ext in ("wav", "flac"):
        assert run("decode", tmp_path / "x.nmc", "-o", tmp_path / f"out.{ext}") == 0
        y, got_rate = sf.read(tmp_path / f"out.{ext}", always_2d=True)
        assert got_rate == rate and y.shape == x.shape
        assert 0.03 < np.sum(y ** 2) / np.sum(x ** 2) < 30     # neither silent nor exploding (within 15 dB)
        # the decoded chirp is the input's, not noise (what quality it has is measured by codec eval audio)
        noise = np.random.default_rng(0).standard_normal(x.shape[0]) * x.std()
        assert mel_distance(x[:, 0], y[:, 0], rate) < 0.6 * mel_distance(x[:, 0], noise, rate)


def test_cli_refuses_bad_audio_with_one_line(family, tmp_path, capsys):
    sf.write(tmp_path / "odd.wav", tone(0.3, 12345), 12345)
    assert run("encode", tmp_path / "odd.wav", "-o", tmp_path / "odd.nmc", "--model", MODEL_ID) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "12345 Hz" in err[0]
    assert not (tmp_path / "odd.nmc").exists()


def test_transcode_handles_audio_folders(family, tmp_path, monkeypatch):
    monkeypatch.setenv("RVQ_TEST_WEIGHTS", str(family.weights_dir))
    monkeypatch.setenv(zoo.PLUGINS_VARIABLE, "audio_plugin")
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        sf.write(src / f"clip{i}.wav", tone(0.7, 16000, seed=i), 16000)
    assert run("transcode", "-i", src, "-o", tmp_path / "out", "--model", MODEL_ID, "-b", "1.5k") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == \
        ["clip0.nmc", "clip1.nmc"]


def test_conformance_sample_is_small_stereo():
    sample = MEDIUM.conformance_sample()
    assert isinstance(sample, AudioClip) and sample.channels == 2 and sample.seconds < 1
