"""The hierarchical VAE image family (``hvae``): exact top-down path, progressive decoding, refusals.

Most tests code with a tiny randomly initialised model exported in the test
(its quantization steps lowered so that every group sends symbols), so they
check the machinery, not the compression; ``codec eval`` and
``benchmarks/bench_hvae.py`` measure that. The CLI tests use the shipped model
(one real round trip, its progressive previews and its rate controls).
"""

from __future__ import annotations

import hashlib
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
from codec.models.image.hvae.export import export_model
from codec.models.image.hvae.family import FAMILY, decode_params, encode_params
from codec.models.image.hvae.integer_path import FRACTION, interpolate_table
from codec.models.image.hvae.model_file import load_model_bytes
from codec.models.image.hvae.network import HvaeConfig, HvaeModel

skdata = pytest.importorskip("skimage.data")

TINY = HvaeConfig(groups=((64, 4), (32, 4), (16, 8), (16, 8), (8, 4)),
                  encoder_channels=((4, 16), (8, 16), (16, 16), (32, 16), (64, 16)),
                  decoder_channels=((64, 16), (32, 16), (16, 16), (8, 16)),
                  synthesis_channels=16, synthesis_blocks=1,
                  encoder_blocks=((4, 1), (8, 1), (16, 1), (32, 1), (64, 1)))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def weights() -> bytes:
    torch.manual_seed(3)
    model = HvaeModel(TINY).eval()
    with torch.no_grad():
        for table in model.log_steps:  # fine steps: a random model's small latents still give symbols
            table.sub_(3.0)
        for group in model.groups:      # narrower priors than the initial ones, so tables vary
            group.prior[-1].bias[group.latent:].fill_(-1.5)
    images = torch.from_numpy(skdata.astronaut()[:128, :256].copy()).permute(2, 0, 1)[None].float() / 255
    return export_model(model, images, "hvae-test", {})


@pytest.fixture(scope="module")
def model(weights):
    entry = ModelEntry("hvae-test", 0, None, hashlib.sha256(weights).hexdigest())
    return FAMILY.load(entry, weights)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skdata.coffee()[100:170, 200:300].copy()   # 70 x 100: padding on both sides


@pytest.fixture(scope="module")
def encoded(model, photo) -> bytes:
    return codec.encode(photo, weights=model, quality=5)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_round_trip_sends_symbols_in_every_group(model, encoded, photo):
    out = codec.decode(encoded, weights=model)
    assert out.shape == photo.shape and out.dtype == np.uint8
    f = parse_container(encoded)
    assert len(f.packets[0].segments) == len(TINY.groups)
    level, groups = decode_params(f.header.codec_params)
    result = model.coder.decode_top_down(f.packets[0].segments, *photo.shape[:2], round(level * 256))
    assert all(int(s.abs().sum()) > 0 for s in result.symbols)


def test_model_file_round_trips(weights):
    loaded = load_model_bytes(weights)
    assert loaded.model_id == "hvae-test" and loaded.path.groups == len(TINY.groups)
    again = load_model_bytes(weights)
    x = torch.randint(-4000, 4000, (1, 16, 2, 3))
    assert torch.equal(loaded.path.priors[0](x), again.path.priors[0](x))
    with pytest.raises(ValueError):
        load_model_bytes(b"\x00" * 64)


def test_decoding_is_exact_across_torch_and_entropy_threads(model, encoded, photo):
    f = parse_container(encoded)
    level, _ = decode_params(f.header.codec_params)
    segments = f.packets[0].segments
    prints = set()
    for torch_threads in (1, 2):
        torch.set_num_threads(torch_threads)
        for entropy_threads in (1, 3):
            result = model.coder.decode_top_down(segments, *photo.shape[:2], round(level * 256),
                                                 threads=entropy_threads)
            prints.add(result.fingerprint())
    torch.set_num_threads(1)
    assert len(prints) == 1
    assert model.exact_fingerprint(f.header, f.packets) in prints
    # The encoder writes the same bytes whatever its entropy threads.
    assert codec.encode(photo, weights=model, quality=5, threads=3) == encoded


def test_every_prefix_of_groups_decodes(model, encoded, photo):
    f = parse_container(encoded)
    level, groups = decode_params(f.header.codec_params)
    segments = f.packets[0].segments
    full = model.coder.decode_top_down(segments, *photo.shape[:2], round(level * 256))
    previews = []
    for k in range(1, groups + 1):
        part = model.coder.decode_top_down(segments, *photo.shape[:2], round(level * 256), groups=k)
        for g in range(k):   # the decoded groups are the file's; the rest are prior means, symbols 0
            assert torch.equal(part.latents[g], full.latents[g])
        assert all(int(s.abs().sum()) == 0 for s in part.symbols[k:])
        # Only the first k segments are read: garbage after them changes nothing.
        cut = list(segments[:k]) + [b"\xff" * 3] * (groups - k)
        assert model.coder.decode_top_down(cut, *photo.shape[:2], round(level * 256),
                                           groups=k).fingerprint() == part.fingerprint()
        previews.append(codec.decode(encoded, weights=model, model_options={"groups": k}))
    assert part.fingerprint() == full.fingerprint()
    assert np.array_equal(previews[-1], codec.decode(encoded, weights=model))
    with codec.open(encoded, weights=model, model_options={"refinements": True}) as reader:
        refined = list(reader)
    assert len(refined) == groups
    for a, b in zip(refined, previews):
        assert np.array_equal(a, b)
    with pytest.raises(UsageError):
        codec.decode(encoded, weights=model, model_options={"groups": groups + 1})


def test_damaged_segments_raise_corrupt_stream(model, encoded):
    f = parse_container(encoded)
    segments = f.packets[0].segments
    damaged = [segments[:-1], segments + (b"",), (segments[0][:3],) + segments[1:],
               segments[:2] + (b"",) + segments[3:], (b"\x01\x01\x10\x00",) + segments[1:]]
    for parts in damaged:
        with pytest.raises(CorruptStreamError):
            codec.decode(build_container(f.header, [parts]), weights=model)
    # A damaged prefix is reported by the refinements too, after the images before it.
    with pytest.raises(CorruptStreamError):
        with codec.open(build_container(f.header, [segments[:2] + (b"",) + segments[3:]]), weights=model,
                        model_options={"refinements": True}) as reader:
            list(reader)


def test_levels_and_target_rate(model, photo):
    sizes = [len(codec.encode(photo, weights=model, quality=q)) for q in (1, 4.5, 8)]
    assert sizes[0] < sizes[1] < sizes[2]
    target = 8 * sizes[1] / (photo.shape[0] * photo.shape[1])
    data = codec.encode(photo, weights=model, bpp=target)
    assert len(data) <= sizes[1]
    level, _ = decode_params(parse_container(data).header.codec_params)
    assert 3.0 <= level <= 4.0    # the largest level that fits: at or just below 3.5 (quality 4.5)
    with pytest.raises(UsageError):
        codec.encode(photo, weights=model, quality=9)
    with pytest.raises(UsageError):
        codec.encode(photo, weights=model, preset="placebo")


def test_refinement_lowers_the_cost_and_keeps_the_file_valid(model, photo):
    """The slow preset's latents cost less than the one-pass encode's (real bytes, decoded pixels) or are
    the one-pass ones; either way the file decodes, and under a target rate it still fits."""
    from codec.models.image.hvae.refine import BUDGETS

    fast = codec.encode(photo, weights=model, quality=3)
    slow = codec.encode(photo, weights=model, quality=3, preset="slow")
    assert parse_container(slow).header.codec_params == parse_container(fast).header.codec_params
    assert codec.decode(slow, weights=model).shape == photo.shape

    def cost(data: bytes) -> float:
        mse = np.mean((codec.decode(data, weights=model).astype(np.float64) - photo) ** 2) / 255 ** 2
        level, _ = decode_params(parse_container(data).header.codec_params)
        lam = float(model.coder.net.level_lambdas(torch.tensor([level]))[0])
        return lam * 255 ** 2 * mse + 8 * len(data) / (photo.shape[0] * photo.shape[1])

    assert cost(slow) <= cost(fast) + 1e-9
    assert BUDGETS["slow"].steps > BUDGETS["medium"].steps
    target = 8 * len(fast) / (photo.shape[0] * photo.shape[1])
    assert len(codec.encode(photo, weights=model, bpp=target, preset="medium")) <= len(fast)


def test_integer_level_interpolation_is_exact():
    table = torch.tensor([[1024, -3000], [2048, 5000], [8192, 5001]])
    assert interpolate_table(table, 0).tolist() == [1024, -3000]
    assert interpolate_table(table, 256).tolist() == [2048, 5000]
    assert interpolate_table(table, 512).tolist() == [8192, 5001]
    # halfway: floor((a * 128 + b * 128 + 128) / 256), ties rounded up
    assert interpolate_table(table, 128).tolist() == [1536, 1000]
    assert interpolate_table(table, 384).tolist() == [5120, 5001]
    assert FRACTION == 10


def test_codec_params_are_validated_without_torch():
    data = encode_params(3.25, 6)
    assert decode_params(data) == (3.25, 6)
    for bad in (data[:-1], b"\x02" + data[1:], encode_params(7.5, 6), data[:3] + b"\x00", data[:3] + b"\x41"):
        with pytest.raises(CorruptStreamError):
            decode_params(bad)
    code = ("import sys, codec.models.image.hvae as h; from codec.models.image.hvae.family import decode_params; "
            "decode_params(bytes([1, 0, 3, 6])); print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def _prefix_bytes(data: bytes, k: int) -> int:
    """Bytes of a file up to the end of its data packet's segment ``k - 1`` (what a preview of k groups needs)."""
    segments = parse_container(data).packets[0].segments
    (end_offset,) = np.frombuffer(data[-16:-8], dtype="<u8")
    return int(end_offset) - 4 - sum(len(s) for s in segments[k:])


def test_shipped_model_round_trip_and_progressive_previews_from_the_cli(tmp_path, capsys):
    """The released weights through the CLI: encode, decode, every ``--groups k`` and the streaming reader."""
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(skdata.astronaut()[0:128, 160:288]).save(src)   # a face: 128 x 128
    original = np.asarray(Image.open(src))
    out = tmp_path / "in.nmc"
    assert main(["encode", str(src), "-o", str(out), "--model", "hvae", "-q", "6"]) == exitcodes.OK
    data = out.read_bytes()
    header = parse_container(data).header
    assert header.model_id == FAMILY.models[-1].full_id
    assert FAMILY.check_params(header)["quality"] == 6
    assert main(["decode", str(out), "-o", str(tmp_path / "back.png")]) == exitcodes.OK
    full = np.asarray(Image.open(tmp_path / "back.png"))
    assert full.shape == original.shape and _psnr(full, original) > 22
    groups = len(parse_container(data).packets[0].segments)
    previews = []
    for k in range(1, groups + 1):
        target = tmp_path / f"k{k}.png"
        assert main(["decode", str(out), "-o", str(target), "--groups", str(k)]) == exitcodes.OK
        previews.append(np.asarray(Image.open(target)))
    psnrs = [_psnr(p, original) for p in previews]
    assert np.array_equal(previews[-1], full)
    # Each group refines the image: PSNR grows with k (up to a small wobble where a group adds little),
    # the first group alone is recognisable yet far from the whole file, and it is a small part of it.
    assert all(b > a - 0.3 for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert psnrs[0] > 14 and psnrs[-1] > psnrs[0] + 2, psnrs
    assert _prefix_bytes(data, 1) < 0.2 * len(data)
    # The streaming reader yields the same successive refinements, coarsest first.
    with codec.open(str(out), model_options={"refinements": True}) as reader:
        refined = list(reader)
    assert len(refined) == groups
    assert all(np.array_equal(a, b) for a, b in zip(refined, previews))
    # A continuous level lies between its neighbours; --bpp gives the largest level that fits.
    sizes = {}
    for q in ("4", "4.5", "5"):
        target = tmp_path / f"q{q}.nmc"
        assert main(["encode", str(src), "-o", str(target), "--model", "hvae", "-q", q]) == exitcodes.OK
        sizes[q] = target.stat().st_size
    assert sizes["4"] < sizes["4.5"] < sizes["5"]
    bpp = 8 * sizes["4.5"] / original[..., 0].size
    assert main(["encode", str(src), "-o", str(tmp_path / "b.nmc"), "--model", "hvae", "--bpp", f"{bpp:.6f}"]) \
        == exitcodes.OK
    assert (tmp_path / "b.nmc").stat().st_size <= sizes["4.5"]
    level, _ = decode_params(parse_container((tmp_path / "b.nmc").read_bytes()).header.codec_params)
    assert 3.0 <= level <= 4.0


def test_bad_input_gets_one_message_and_an_exit_code(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(skdata.coffee()[200:264, 300:380]).save(src)
    out = tmp_path / "in.nmc"
    assert main(["encode", str(src), "-o", str(out), "--model", "hvae", "-q", "2"]) == exitcodes.OK
    usage = [["decode", str(out), "-o", str(tmp_path / "x.png"), "--groups", "0"],
             ["decode", str(out), "-o", str(tmp_path / "x.png"), "--groups", "two"],
             ["decode", str(out), "-o", str(tmp_path / "x.png"), "--groups", "99"],
             ["encode", str(src), "-o", str(tmp_path / "y.nmc"), "--model", "hvae", "-q", "9"],
             ["encode", str(src), "-o", str(tmp_path / "y.nmc"), "--model", "hvae", "--preset", "placebo"],
             ["encode", str(src), "-o", str(tmp_path / "y.nmc"), "--model", "hvae", "--bpp", "-1"]]
    for args in usage:
        assert main(args) == exitcodes.USAGE_ERROR, args
    not_image = tmp_path / "text.png"
    not_image.write_bytes(b"this is not a PNG file")
    assert main(["encode", str(not_image), "-o", str(tmp_path / "z.nmc"), "--model", "hvae"]) == exitcodes.BAD_INPUT
    damaged = bytearray(out.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    out.write_bytes(bytes(damaged))
    assert main(["decode", str(out), "-o", str(tmp_path / "w.png")]) == exitcodes.BAD_INPUT
    for name in ("x.png", "y.nmc", "z.nmc", "w.png"):
        assert not (tmp_path / name).exists()        # nothing half-written
    assert "Traceback" not in capsys.readouterr().err


def test_a_file_prefix_previews_the_groups_it_holds(model, encoded):
    from codec.models.image.hvae.preview import preview

    f = parse_container(encoded)
    segments = f.packets[0].segments
    (end_offset,) = np.frombuffer(encoded[-16:-8], dtype="<u8")
    payload_end = int(end_offset) - 4
    for k in range(1, len(segments) + 1):
        prefix = encoded[: payload_end - sum(len(s) for s in segments[k:])]
        image, groups = preview(prefix, weights=model)
        assert groups == k
        assert np.array_equal(image, codec.decode(encoded, weights=model, model_options={"groups": k}))
        if k > 1:   # one byte short of segment k: the preview has k - 1 groups
            assert preview(prefix[:-1], weights=model)[1] == k - 1
    first = payload_end - sum(len(s) for s in segments)
    for short in (encoded[:first], encoded[:40], encoded[:5]):
        with pytest.raises(CorruptStreamError):
            preview(short, weights=model)
