"""The token image family (``vq``): exact token decoding, the integer softmax, granularity, training bursts.

Most tests code with a tiny randomly initialised model exported in the test
(4-bit tokens), so they check the machinery, not the compression; ``codec
eval`` measures that. The CLI tests use the shipped model when one is
installed.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

import codec
from codec.cli import exitcodes
from codec.cli.main import main
from codec.container import build_container, parse_container
from codec.errors import CorruptStreamError, UsageError
from codec.models.base import ModelEntry
from codec.models.image.vq import softmax
from codec.models.image.vq.export import export_model
from codec.models.image.vq.family import FAMILY, decode_params, encode_params
from codec.models.image.vq.granularity import fractions, levels_from_ranking
from codec.models.image.vq.model_file import load_model_bytes
from codec.models.image.vq.network import VqConfig, VqModel

skdata = pytest.importorskip("skimage.data")

TINY = VqConfig(bits=4, channels=(4, 4, 8, 8, 8), prior_channels=8)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def weights() -> bytes:
    torch.manual_seed(5)
    model = VqModel(TINY)
    images = _tensor(skdata.astronaut()[:128, :256])
    # Batch-norm statistics of the encoder from the image itself, so a random model's bits vary.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()
        model.encoder(images)
    model.eval()
    return export_model(model, images, "vq-test", {})


@pytest.fixture(scope="module")
def model(weights):
    entry = ModelEntry("vq-test", 0, None, hashlib.sha256(weights).hexdigest())
    return FAMILY.load(entry, weights)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skdata.coffee()[100:170, 200:300].copy()   # 70 x 100: padded to 96 x 128


@pytest.fixture(scope="module")
def encoded(model, photo) -> bytes:
    return codec.encode(photo, weights=model, quality=5)


def test_round_trip_codes_every_grid(model, encoded, photo):
    back = codec.decode(encoded, weights=model)
    assert back.shape == photo.shape and back.dtype == np.uint8
    f = parse_container(encoded)
    segments = f.packets[0].segments
    assert len(segments) == 7
    grids = model.coder.decode_grids(segments, *photo.shape[:2])
    assert grids.levels.shape == (3, 4)
    assert sorted(np.unique(grids.levels).tolist()) == [1, 2]       # quality 5: all fine, a quarter finest
    assert (grids.levels == 2).sum() == 3
    # The decoded tokens are the encoder's tokens at the coded positions.
    analysis = model.coder.analyse(photo)
    expected = model.coder.grids_at(analysis, 4.0)
    assert grids.fingerprint() == expected.fingerprint()


def test_decoding_is_exact_across_torch_and_entropy_threads(model, encoded, photo):
    f = parse_container(encoded)
    prints = set()
    for torch_threads in (1, 2):
        torch.set_num_threads(torch_threads)
        for entropy_threads in (1, 3):
            grids = model.coder.decode_grids(f.packets[0].segments, *photo.shape[:2], threads=entropy_threads)
            prints.add(grids.fingerprint())
    torch.set_num_threads(1)
    assert len(prints) == 1
    assert model.exact_fingerprint(f.header, f.packets) in prints
    assert codec.encode(photo, weights=model, quality=5, threads=3) == encoded


def test_model_file_round_trips(weights):
    loaded = load_model_bytes(weights)
    again = load_model_bytes(weights)
    for a, b in zip(loaded.prior.nets, again.prior.nets):
        ta, sa = a.state()
        tb, sb = b.state()
        assert sa == sb and all(torch.equal(ta[k], tb[k]) for k in ta)
    assert loaded.config == TINY
    with pytest.raises(ValueError):
        load_model_bytes(weights[:8] + b"{}" + weights[10:])


def test_the_prior_beats_nothing_it_should_not_and_matches_the_payload(model, photo):
    """The rANS payload of each grid is its ideal code length (the integer softmax's tables) plus a small
    overhead, and a token can be decoded only with the exact tables."""
    grids = model.coder.grids_at(model.coder.analyse(photo), 5.0)
    ideal = model.coder.prior.ideal_bits(grids)
    payloads = model.coder.prior.encode(grids)
    for s in range(3):
        coded = 8 * (len(payloads[1 + 2 * s]) + len(payloads[2 + 2 * s]))
        assert ideal[s] <= coded <= ideal[s] + 2 * 8 * 40, (s, ideal[s], coded)


def test_damaged_segments_raise_corrupt_stream(model, encoded):
    f = parse_container(encoded)
    segments = f.packets[0].segments
    damaged = [segments[:-1], segments + (b"",), (segments[0][:2],) + segments[1:],
               segments[:2] + (b"",) + segments[3:], segments[:3] + (segments[3][:-3],) + segments[4:]]
    for parts in damaged:
        with pytest.raises(CorruptStreamError):
            codec.decode(build_container(f.header, [parts]), weights=model)


def test_levels_and_target_rate(model, photo):
    sizes = [len(codec.encode(photo, weights=model, quality=q)) for q in (1, 3, 6)]
    assert sizes[0] < sizes[1] < sizes[2]
    target = 8 * sizes[1] / (photo.shape[0] * photo.shape[1])
    data = codec.encode(photo, weights=model, bpp=target)
    # Sizes step with whole blocks: the largest level that fits codes quality 3's blocks (level 2 up to
    # the next block, 2 + 1/12 of a level here).
    assert len(data) <= sizes[1]
    level, bits = decode_params(parse_container(data).header.codec_params)
    assert 2.0 <= level < 2.0 + 1 / 12 and bits == TINY.bits
    with pytest.raises(UsageError):
        codec.encode(photo, weights=model, quality=7)
    with pytest.raises(UsageError):
        codec.encode(photo, weights=model, preset="slow")


def test_integer_softmax_tables():
    assert hashlib.sha256(struct.pack("<256I", *softmax.EXP_TABLE.tolist())).hexdigest() == softmax.EXP_TABLE_SHA256
    assert softmax.EXP_TABLE[0] == 65536 and softmax.EXP_TABLE[16] == 24109      # round(2^16 / e)
    logits = np.array([[0, 16, 16, -5000], [7, 7, 7, 7]])
    freq = softmax.frequencies(logits)
    assert freq.sum(axis=1).tolist() == [65536, 65536] and freq.min() == 1 and freq[:, -1].tolist() == [1, 1]
    # R = 65531; S = 24109 + 2 * 65536 + 0 = 155181; shares 10180, 27675, 27675, 0; remainder 1 to symbol 1
    assert freq[0].tolist() == [10181, 27677, 27676, 1, 1]
    # equal logits: shares floor(65536 * 65531 / 262144) = 16382 each; the remainder 3 goes to symbol 0
    assert freq[1].tolist() == [1 + 16382 + 3, 16383, 16383, 16383, 1]
    # Shifting every logit by a constant changes nothing; the table depends only on differences.
    rng = np.random.default_rng(0)
    x = rng.integers(-3000, 3000, size=(5, 1024))
    assert np.array_equal(softmax.frequencies(x), softmax.frequencies(x + 12345))


def test_granularity_levels_follow_the_ranking():
    info = torch.tensor([[[0.1, 0.9, 0.5, 0.3], [0.8, 0.2, 0.7, 0.4]]])
    levels = levels_from_ranking(info, 0.5, 0.25)[0]
    assert levels.tolist() == [[0, 2, 1, 0], [2, 0, 1, 0]]
    assert levels_from_ranking(info, 0.0, 0.0).sum() == 0
    assert (levels_from_ranking(info, 1.0, 1.0) == 2).all()
    assert fractions(1) == (0.0, 0.0) and fractions(4) == (1.0, 0.0) and fractions(5.5) == (1.0, 0.375)


def test_codec_params_are_validated_without_torch():
    data = encode_params(3.25, 10)
    assert decode_params(data) == (3.25, 10)
    for bad in (data[:-1], b"\x02" + data[1:], encode_params(5.5, 10), data[:1] + b"\x01" + data[2:]):
        with pytest.raises(CorruptStreamError):
            decode_params(bad)
    code = ("import sys, codec.models.image.vq as v; from codec.models.image.vq.family import decode_params; "
            "decode_params(bytes([1, 10, 0, 2])); print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_training_bursts_resume_exactly(tmp_path):
    from PIL import Image

    from codec.models.image.vq.train_config import VqTrainConfig
    from codec.models.image.vq.trainer import VqTrainer
    from codec.train.crops import CropSampler

    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(skdata.astronaut()[:96, :128]).save(data / "a.png")
    Image.fromarray(skdata.coffee()[:96, :128]).save(data / "b.png")
    cfg = VqTrainConfig(data=[str(data)], crop=64, batch=2, steps=3, warmup=1, adv_from=2, threads=1,
                        checkpoint_every=100, model={"bits": 4, "channels": [4, 4, 8, 8, 8], "prior_channels": 8})
    sampler = CropSampler(cfg.data, cfg.crop, torch.device("cpu"))
    straight = VqTrainer(cfg, tmp_path / "a", torch.device("cpu"))
    (tmp_path / "a").mkdir()
    straight.train(sampler)
    (tmp_path / "b").mkdir()
    first = VqTrainer(cfg, tmp_path / "b", torch.device("cpu"))
    first.train(sampler, max_seconds=0.0)         # stops (with a checkpoint) after one step
    assert first.step == 1
    resumed = VqTrainer(cfg, tmp_path / "b", torch.device("cpu"))
    resumed.load(first.checkpoint_path)
    resumed.train(sampler)
    assert resumed.step == straight.step == 3
    for (k, a), b in zip(straight.ema.state_dict().items(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(straight.disc.state_dict().values(), resumed.disc.state_dict().values()):
        assert torch.equal(a, b)


def _shipped() -> bool:
    return bool(FAMILY.models)


@pytest.mark.skipif(not _shipped(), reason="no vq weights shipped in this installation")
def test_shipped_model_round_trip_from_the_cli(tmp_path):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(skdata.astronaut()[0:128, 160:288]).save(src)      # a face: 128 x 128
    original = np.asarray(Image.open(src))
    sizes = {}
    for q in ("1", "6"):
        out = tmp_path / f"q{q}.nmc"
        assert main(["encode", str(src), "-o", str(out), "--model", "vq", "-q", q]) == exitcodes.OK
        sizes[q] = out.stat().st_size
        assert parse_container(out.read_bytes()).header.model_id == FAMILY.models[-1].full_id
    assert sizes["1"] < sizes["6"]
    assert main(["decode", str(tmp_path / "q6.nmc"), "-o", str(tmp_path / "back.png")]) == exitcodes.OK
    back = np.asarray(Image.open(tmp_path / "back.png"))
    mse = np.mean((back.astype(float) - original.astype(float)) ** 2)
    # vq-small@1 measured 18.2 dB here; the crop's mean colour alone gives 12.6 dB
    assert back.shape == original.shape and 10 * np.log10(255 ** 2 / mse) > 16.5


@pytest.mark.skipif(not _shipped(), reason="no vq weights shipped in this installation")
def test_bad_input_gets_one_message_and_an_exit_code(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(skdata.coffee()[200:264, 300:380]).save(src)
    out = tmp_path / "in.nmc"
    assert main(["encode", str(src), "-o", str(out), "--model", "vq", "-q", "2"]) == exitcodes.OK
    for args in (["encode", str(src), "-o", str(tmp_path / "y.nmc"), "--model", "vq", "-q", "7"],
                 ["encode", str(src), "-o", str(tmp_path / "y.nmc"), "--model", "vq", "--bpp", "-1"]):
        assert main(args) == exitcodes.USAGE_ERROR, args
    damaged = bytearray(out.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    out.write_bytes(bytes(damaged))
    assert main(["decode", str(out), "-o", str(tmp_path / "w.png")]) == exitcodes.BAD_INPUT
    for name in ("y.nmc", "w.png"):
        assert not (tmp_path / name).exists()
    assert "Traceback" not in capsys.readouterr().err
