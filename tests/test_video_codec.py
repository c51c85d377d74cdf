"""The dcvc video family: exact decoding, random access, damage, rate control, and the commands.

A tiny randomly initialised model (``video_fixtures.tiny_weights``) goes
through the same export and coding paths as the shipped one, so these tests
need neither the shipped weights nor ``shared/data``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
import torch

import codec
from codec import zoo
from codec.cli.main import main
from codec.container import ContainerReader
from codec.errors import CorruptStreamError, UsageError
from codec.media.video import MEDIUM, Clip
from codec.models.base import ModelEntry
from codec.models.video.dcvc.family import DcvcFamily, decode_params, encode_params
from codec.models.video.dcvc.rate import RateController
from video_fixtures import moving_clip, tiny_weights


@dataclass
class Tiny:
    family: DcvcFamily
    model: object


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    digest = tiny_weights(folder / "dcvc-tiny.r1.safetensors")

    class TinyFamily(DcvcFamily):
        name = "dcvc-tiny"
        weights_dir = folder
        default_rank = 99
        models = (ModelEntry("dcvc-tiny", 1, "dcvc-tiny.r1.safetensors", digest, "random weights"),)

    family = TinyFamily()
    zoo.register_family(family)
    yield Tiny(family, zoo.load_model("dcvc-tiny", "dcvc-tiny@1"))
    zoo.unregister_family("dcvc-tiny")


def encode(clip: Clip, **options) -> bytes:
    buf = io.BytesIO()
    codec.encode(clip, buf, media="video", model="dcvc-tiny", **options)
    return buf.getvalue()


def planes(frames) -> list[bytes]:
    return [f.to_bytes() for f in frames]


def test_encoder_and_decoder_compute_the_same_features(tiny):
    clip = moving_clip(5)
    session = tiny.model.encoder(clip.info(), codec.models.base.EncodeOptions(quality=5))
    encoder_features, packets = [], []
    for frame in clip.frames:
        packets += session.encode(frame)
        encoder_features.append(session.reference.clone())
    reference, height, width = None, clip.frames[0].height, clip.frames[0].width
    for packet, expected in zip(packets, encoder_features):
        _, _, reference = tiny.model.coder.decode_feature(packet.segments, reference, height, width)
        assert torch.equal(reference, expected)


def test_decoding_is_identical_whatever_the_thread_counts(tiny):
    data = encode(moving_clip(4), quality=6)
    torch_threads = torch.get_num_threads()
    try:
        results = []
        for torch_n, rans_n in ((1, 1), (2, 3), (4, 1)):
            torch.set_num_threads(torch_n)
            results.append(planes(codec.decode(data, threads=rans_n)))
    finally:
        torch.set_num_threads(torch_threads)
    assert results[0] == results[1] == results[2]


def test_round_trip_keeps_size_rate_and_timing_of_odd_sized_video(tiny):
    clip = moving_clip(3, width=81, height=47, fps=Fraction(30000, 1001))
    data = encode(clip, quality=8)
    with codec.open(data) as reader:
        assert reader.info.frames == 3 and reader.info.fps == Fraction(30000, 1001)
        frames = list(reader)
    assert [f.pts for f in frames] == [0, 1, 2]
    assert frames[0].y.shape == (47, 81) and frames[0].u.shape == (24, 41)


def test_intra_frames_are_the_seek_points_and_seeking_matches_a_full_decode(tiny):
    clip = moving_clip(6)
    data = encode(clip, quality=5, model_options={"intra_period": 3})
    with open_container(data) as packets:
        assert [p.random_access for p in packets] == [True, False, False, True, False, False]
    full = planes(codec.decode(data))
    with codec.open(data) as reader:
        assert reader.seek(4 / 25) == pytest.approx(3 / 25)  # back to the intra frame at 3
        assert planes(reader) == full[3:]


def test_intra_period_minus_one_codes_one_intra_frame(tiny):
    data = encode(moving_clip(4), quality=3, model_options={"intra_period": -1})
    with open_container(data) as packets:
        assert [p.random_access for p in packets] == [True, False, False, False]
    assert decode_params(ContainerReader(io.BytesIO(data)).header.codec_params)["intra_period"] == 0


def test_a_truncated_file_yields_the_frames_before_the_damage(tiny):
    data = encode(moving_clip(4), quality=4)
    full = planes(codec.decode(data))
    cut = data[: len(data) * 3 // 4]
    got = []
    with pytest.raises(CorruptStreamError):
        with codec.open(cut) as reader:
            for frame in reader:
                got.append(frame.to_bytes())
    assert 1 <= len(got) < 4 and got == full[: len(got)]


def test_streaming_writer_takes_rgb_and_planes_and_reader_gives_rgb_and_torch(tiny):
    clip = moving_clip(3)
    buf = io.BytesIO()
    with codec.open(buf, "w", media="video", model="dcvc-tiny", width=80, height=48, fps=25, quality=5) as writer:
        writer.write(clip.frames[0])
        writer.write(clip.frames[1].planes)
        writer.write(clip.frames[2].to_rgb())
    data = buf.getvalue()
    with codec.open(data, output="rgb") as reader:
        rgb = list(reader)
    with codec.open(data, output="torch") as reader:
        tensors = list(reader)
    assert len(rgb) == 3 and rgb[0].shape == (48, 80, 3) and rgb[0].dtype == np.uint8
    assert tuple(t.shape for t in tensors[0]) == ((48, 80), (24, 40), (24, 40))
    with pytest.raises(UsageError):
        with codec.open(io.BytesIO(), "w", media="video", model="dcvc-tiny", width=80, height=48, fps=25) as w:
            w.write(np.zeros((40, 80, 3), np.uint8))


def test_higher_quality_costs_more_bits(tiny):
    clip = moving_clip(3)
    assert len(encode(clip, quality=1)) < len(encode(clip, quality=8))


def test_codec_params_are_checked():
    assert decode_params(encode_params(40, 0, 500))["target_kbps"] == 500
    with pytest.raises(CorruptStreamError):
        decode_params(encode_params(40, 0)[:-1])
    with pytest.raises(CorruptStreamError):
        decode_params(bytes([1, 64, 70]) + bytes(8))


def test_rate_controller_meets_a_target_on_a_modelled_coder():
    """Bits double every 9 quality indexes and an intra frame costs 3 inter frames: within 10 % over 4 s."""
    controller = RateController(bitrate=200_000, fps=25, width=352, height=288)
    spent = []
    for index in range(100):
        qp = controller.next_qp(index)
        bits = int(40_000 * 2 ** ((qp - 30) / 9) * (3 if index == 0 else 1))
        controller.update(bits)
        spent.append(bits)
    assert sum(spent) / len(spent) == pytest.approx(200_000 / 25, rel=0.1)


def test_a_target_bitrate_is_recorded_and_roughly_met(tiny):
    clip = moving_clip(8)
    data = encode(clip, bitrate="60k")
    params = decode_params(ContainerReader(io.BytesIO(data)).header.codec_params)
    assert params["target_kbps"] == 60
    with pytest.raises(UsageError):
        codec.encode(clip, io.BytesIO(), media="video", model="dcvc-tiny", quality=3, bitrate="60k")


def test_commands_encode_decode_with_start_and_frames_and_info(tiny, tmp_path, capsys):
    clip = moving_clip(6)
    src = tmp_path / "clip.y4m"
    sink = MEDIUM.open_sink(src, "y4m", clip.info(), {})
    for f in clip.frames:
        sink.write(f)
    sink.close()
    nmc, out = tmp_path / "clip.nmc", tmp_path / "part.y4m"
    assert main(["encode", str(src), "-o", str(nmc), "--model", "dcvc-tiny", "-q", "4", "--intra-period", "2"]) == 0
    assert main(["decode", str(nmc), "-o", str(out), "--start", "0.08", "--frames", "3"]) == 0
    full = planes(codec.decode(nmc))
    with MEDIUM.open_source(out, {}) as part:
        assert planes(part) == full[2:5]
    capsys.readouterr()
    assert main(["info", "--json", "--check", str(nmc)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 6 and info["packets"]["random_access"] == 3
    assert info["decodable"]["params"]["gop"] == 2 and info["bits_per_second"] > 0


def write_source(path, clip):
    sink = MEDIUM.open_sink(path, path.suffix[1:], clip.info(), {})
    for f in clip.frames:
        sink.write(f)
    sink.close()
    return path


def test_commands_code_an_mp4_at_a_bitrate_and_decode_alike_with_one_or_two_threads(tiny, tmp_path):
    src, nmc = write_source(tmp_path / "clip.mp4", moving_clip(5)), tmp_path / "clip.nmc"
    assert main(["encode", str(src), "-o", str(nmc), "--model", "dcvc-tiny", "-b", "80k", "--frames", "4"]) == 0
    assert decode_params(ContainerReader(io.BytesIO(nmc.read_bytes())).header.codec_params)["target_kbps"] == 80
    outputs = {}
    for threads in ("1", "2"):
        outputs[threads] = tmp_path / f"t{threads}.y4m"
        assert main(["decode", str(nmc), "-o", str(outputs[threads]), "--threads", threads]) == 0
    assert outputs["1"].read_bytes() == outputs["2"].read_bytes()
    with MEDIUM.open_source(outputs["1"], {}) as y4m:
        assert planes(y4m) == planes(codec.decode(nmc)) and y4m.info.frame_count == 4


def test_commands_keep_odd_sizes_and_pad_only_the_mp4_preview(tiny, tmp_path):
    src, nmc = write_source(tmp_path / "odd.mkv", moving_clip(3, width=81, height=47)), tmp_path / "odd.nmc"
    assert main(["encode", str(src), "-o", str(nmc), "--model", "dcvc-tiny", "-q", "6"]) == 0
    assert main(["decode", str(nmc), "-o", str(tmp_path / "odd.y4m")]) == 0
    assert main(["decode", str(nmc), "-o", str(tmp_path / "odd.mp4")]) == 0
    with MEDIUM.open_source(tmp_path / "odd.y4m", {}) as y4m:
        frames = list(y4m)
    with MEDIUM.open_source(tmp_path / "odd.mp4", {}) as mp4:
        preview = list(mp4)
    assert len(frames) == len(preview) == 3
    assert frames[0].y.shape == (47, 81) and preview[0].y.shape == (48, 82)  # H.264 4:2:0 needs even sides
    error = np.mean([(a.y.astype(float) - b.y[:47, :81]) ** 2 for a, b in zip(frames, preview)])
    assert 10 * np.log10(255 ** 2 / max(error, 1e-9)) > 35


def test_command_errors_are_one_clear_line(tiny, tmp_path, capsys):
    src, nmc = write_source(tmp_path / "c.y4m", moving_clip(4)), tmp_path / "c.nmc"
    raw = tmp_path / "r.yuv"
    raw.write_bytes(bytes(1000))
    cases = [(["encode", str(src), "-o", str(nmc), "--model", "dcvc-tiny", "-q", "3", "-b", "80k"], 2, "not allowed"),
             (["encode", str(src), "-o", str(nmc), "--model", "dcvc-tiny", "-b", "fast"], 2, "bitrate"),
             (["encode", str(tmp_path / "missing.mp4"), "-o", str(nmc), "--model", "dcvc-tiny"], 3, "no such file"),
             (["encode", str(raw), "-o", str(nmc), "--model", "dcvc-tiny"], 2, "-s WIDTHxHEIGHT")]
    for args, code, message in cases:
        assert main(args) == code, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and not nmc.exists()
    assert main(["encode", str(src), "-o", str(nmc), "--model", "dcvc-tiny", "-q", "4"]) == 0
    full = planes(codec.decode(nmc))
    data = nmc.read_bytes()
    cut, out = tmp_path / "cut.nmc", tmp_path / "cut.y4m"
    cut.write_bytes(data[: len(data) * 3 // 4])
    capsys.readouterr()
    assert main(["decode", str(cut), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "truncated" in err and "before the damage were written" in err and "Traceback" not in err
    with MEDIUM.open_source(out, {}) as part:
        got = planes(part)
    assert 1 <= len(got) < 4 and got == full[: len(got)]


def test_bad_intra_period_is_a_usage_error(tiny, tmp_path, capsys):
    src = tmp_path / "c.y4m"
    sink = MEDIUM.open_sink(src, "y4m", moving_clip(2).info(), {})
    for f in moving_clip(2).frames:
        sink.write(f)
    sink.close()
    assert main(["encode", str(src), "-o", str(tmp_path / "c.nmc"), "--model", "dcvc-tiny",
                 "--intra-period", "0"]) == 2
    assert "intra-period" in capsys.readouterr().err


@pytest.mark.gpu
def test_cpu_encoded_file_decodes_to_the_same_features_on_the_gpu(tiny):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    data = encode(moving_clip(4), quality=6)
    cpu = planes(codec.decode(data))
    gpu = codec.decode(data, device="cuda")
    with open_container(data) as packets:
        fingerprint = tiny.model.exact_fingerprint(ContainerReader(io.BytesIO(data)).header, packets)
    features, reference = [], None
    clip0 = moving_clip(1).frames[0]
    for packet in ContainerReader(io.BytesIO(data)).packets():
        _, _, reference = tiny.model.coder.decode_feature(packet.segments, reference, clip0.height, clip0.width,
                                                          device="cuda")
        features.append(reference.cpu())
    digest = hashlib.sha256()
    for f in features:
        digest.update(f.numpy().astype("<i8").tobytes())
    assert digest.hexdigest() == fingerprint
    for a, b in zip(cpu, planes(gpu)):
        assert np.abs(np.frombuffer(a, np.uint8).astype(int) - np.frombuffer(b, np.uint8)).max() <= 1


class open_container:
    """The data packets of an in-memory file, as a list."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __enter__(self):
        return list(ContainerReader(io.BytesIO(self.data)).packets())

    def __exit__(self, *exc) -> None:
        pass

