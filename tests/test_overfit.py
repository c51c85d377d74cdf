"""The overfitted image family (``overfit-coolchic-small``): exact latent coding, round trips, refusals.

Fits are cut to a few dozen steps on small scikit-image crops (the presets
are swapped for tiny schedules), so these tests check the machinery, not the
compression; ``benchmarks/bench_overfit.py`` and ``codec eval`` measure that.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import codec
from codec.cli import exitcodes
from codec.cli.main import main
from codec.container import build_container, parse_container
from codec.entropy import decode as rans_decode
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.models.base import Progress
from codec.models.image.overfit import coder, fit, fused_rate, network, rate_search
from codec.models.image.overfit.architecture import Architecture, grid_shapes
from codec.models.image.overfit.family import FAMILY
from codec.models.image.overfit.integer_context import IntegerContext, arm_layer_shapes, table_choice
from codec.models.image.overfit.latent_coding import decode_latents, encode_latents, symbols_and_indexes
from codec.models.image.overfit.params import CodecParams
from codec.models.image.overfit.tables import latent_tables
from codec.zoo import model_for_header

skdata = pytest.importorskip("skimage.data")
TINY = {"fast": fit.Schedule(30, 5), "medium": fit.Schedule(40, 5), "slow": fit.Schedule(50, 5)}
RELEASED_PRESETS = dict(fit.PRESETS)


def _use_tiny_presets(mp) -> None:
    for module in (fit, coder, rate_search):
        mp.setattr(module, "PRESETS", TINY)


@pytest.fixture(autouse=True)
def tiny_presets(monkeypatch):
    _use_tiny_presets(monkeypatch)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Fits of tiny images run faster on one thread (and a busy machine makes a second one wait)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skdata.astronaut()[40:88, 180:236].copy()   # 48 x 56


@pytest.fixture(scope="module")
def encoded(photo) -> bytes:
    with pytest.MonkeyPatch.context() as mp:
        _use_tiny_presets(mp)
        return codec.encode(photo, model="overfit", quality=5)


# -- fitting --------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", [Architecture(), Architecture(arm_layers=0, arm_context=3),
                                  Architecture(grids=3, arm_layers=3, arm_hidden=5, arm_context=24)])
def test_fused_rate_kernel_matches_autograd(arch):
    """The fitting kernel's total bits and gradients are those of autograd through Decoder.rate_bits."""
    if not fused_rate.available():
        pytest.skip("the compiled overfit module is not built")
    torch.manual_seed(3)
    decoder = network.Decoder(arch)
    with torch.no_grad():
        for p in decoder.arm.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    shapes = grid_shapes(37, 53, arch.grids)
    latents = [(torch.randn(1, 1, h, w) * 3).requires_grad_() for h, w in shapes]
    params = fused_rate.parameters_in_kernel_order(decoder.arm)

    def gradients(total_of):
        for t in latents + params:
            t.grad = None
        grids = [torch.round(l.detach() * 4) / 4 + (l - l.detach()) for l in latents]   # values on a 1/4 grid
        total = total_of(grids)
        total.backward()
        return total.detach(), [t.grad.clone() if t.grad is not None else torch.zeros_like(t)
                                for t in latents + params]

    expected, expected_grads = gradients(lambda g: decoder.rate_bits(g).sum())
    total, grads = gradients(lambda g: fused_rate.total_bits(decoder.arm, g, decoder.context_index(g)))
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-3 * want.abs().max().item() + 1e-7)  # float32 sums
    assert any(g.abs().sum() > 0 for g in grads[:len(latents)])


def test_channels_last_upsampling_matches_the_window_products():
    """The fitting path's depthwise upsampling gives the decoder's values, and the same gradients."""
    torch.manual_seed(5)
    half = (torch.tensor(network.BICUBIC_HALF) + 0.1 * torch.randn(4)).requires_grad_()
    x = torch.randn(1, 4, 11, 17, requires_grad=True)
    want = network.upsample2(network.upsample2(x.reshape(4, 1, 11, 17), half, 3), half, 2).reshape(1, 4, 22, 34)
    got = network.upsample2x2_channels_last(x, half)
    assert torch.allclose(got, want, atol=1e-5)
    weights = torch.randn_like(want)
    g_want = torch.autograd.grad((want * weights).sum(), [x, half])
    g_got = torch.autograd.grad((got * weights).sum(), [x, half])
    for a, b in zip(g_got, g_want):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


# -- the exact part -------------------------------------------------------------------------------

def _random_context(arch: Architecture, rng: np.random.Generator) -> IntegerContext:
    weights = [rng.integers(-400, 400, size=s) for s in arm_layer_shapes(arch)]
    biases = [rng.integers(-900, 900, size=(arch.arm_hidden,)) for _ in range(arch.arm_layers)]
    return IntegerContext.from_coded(arch, weights, biases + [rng.integers(-900, 900, size=2)], e_w=9, e_b=12)


@pytest.mark.parametrize("arch", [Architecture(), Architecture(arm_layers=0, arm_context=3),
                                  Architecture(grids=3, arm_layers=3, arm_hidden=5, arm_context=24)])
def test_kernel_follows_the_integer_reference_and_the_standard_block_format(arch):
    rng = np.random.default_rng(1)
    tables = latent_tables()
    context = _random_context(arch, rng)
    grids = [(rng.integers(-4, 5, size=s) * (rng.random(s) < 0.6)).astype(np.int32)
             for s in grid_shapes(29, 43, arch.grids)]
    indexes, bases = context.kernel(tables).parameters(grids)
    # the same model from codec.nn.integer nodes, over the same contexts (coding order: coarsest grid first)
    shapes = [g.shape for g in grids]
    inputs = network.arm_inputs([torch.from_numpy(g).float() for g in grids],
                                network.context_index(shapes, arch.arm_context))
    parts = torch.split(inputs, [g.size for g in grids])
    outputs = context.reference()(torch.cat(parts[::-1]).round().to(torch.int64)).numpy()
    ref_indexes, ref_bases = table_choice(outputs, tables)
    assert np.array_equal(indexes, ref_indexes) and np.array_equal(bases, ref_bases)
    assert len(np.unique(indexes)) > 20            # the check covers many tables, not one
    block = encode_latents(grids, context, tables)
    decoded = decode_latents(block, shapes, context, tables)
    assert all(np.array_equal(a, b) for a, b in zip(grids, decoded))
    symbols, idx = symbols_and_indexes(grids, context, tables)
    assert np.array_equal(rans_decode(block, idx, tables.coder), symbols)


def test_damaged_latent_blocks_raise_corrupt_stream():
    arch = Architecture(grids=4)
    rng = np.random.default_rng(2)
    tables = latent_tables()
    context = _random_context(arch, rng)
    grids = [rng.integers(-3, 4, size=s).astype(np.int32) for s in grid_shapes(20, 24, arch.grids)]
    shapes = [g.shape for g in grids]
    block = encode_latents(grids, context, tables)
    for bad in (block[:-3], block[:5], block + b"\x00\x00", b"", bytes([2]) + block[1:]):
        with pytest.raises(CorruptStreamError):
            decode_latents(bad, shapes, context, tables)
    flipped = bytearray(block)
    flipped[len(block) // 2] ^= 0x5A
    try:
        out = decode_latents(bytes(flipped), shapes, context, tables)
    except CorruptStreamError:
        return
    assert not all(np.array_equal(a, b) for a, b in zip(grids, out))


# -- through the public API -----------------------------------------------------------------------

def test_round_trip(photo, encoded):
    f = parse_container(encoded)
    assert f.header.model_id == "overfit-coolchic-small@1" and len(f.packets[0].segments) == 2
    out = codec.decode(encoded)
    assert out.shape == photo.shape and out.dtype == np.uint8
    psnr = 10 * np.log10(255 ** 2 / np.mean((out.astype(float) - photo) ** 2))
    assert psnr > 18     # a few dozen steps already beat a flat grey image (about 12 dB here)


def test_decoding_is_exact_across_threads(encoded):
    f = parse_container(encoded)
    model = model_for_header(f.header)
    prints, pixels = set(), []
    for threads in (1, 2):
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            prints.add(model.exact_fingerprint(f.header, f.packets))
            pixels.append(codec.decode(encoded, threads=threads))
        finally:
            torch.set_num_threads(before)
    assert len(prints) == 1
    assert np.abs(pixels[0].astype(int) - pixels[1].astype(int)).max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_decodes_the_same_latents(encoded):
    cpu = codec.decode(encoded)
    gpu = codec.decode(encoded, device="cuda")
    assert np.abs(cpu.astype(int) - gpu.astype(int)).max() <= 1


def test_damaged_segments_raise_corrupt_stream(encoded):
    f = parse_container(encoded)
    nets, latents = f.packets[0].segments
    for segments in ((nets[:-2], latents), (nets, latents[:-4]), (nets, latents + b"\x01"), (nets,),
                     (b"\x01\x01\x10\x00", latents)):
        data = build_container(f.header, [segments])
        with pytest.raises(CorruptStreamError):
            codec.decode(data)


def test_the_file_carries_the_fitted_networks(photo):
    """Segment 0 holds this image's own fitted networks: the decoder rebuilds them to within a step."""
    from codec.models.image.overfit.network_coding import float_groups

    data = coder.encode(photo, 4.0, schedule=fit.Schedule(20, 2))
    params, coded, grids = coder.decode_state(data.params, data.segments, *photo.shape[:2])
    fitted = float_groups(data.fitted.decoder)
    decoded = float_groups(coded.float_decoder())
    for group, tensors in fitted.items():
        step = 2.0 ** -params.exponents[group]
        for a, b in zip(tensors, decoded[group]):
            assert np.abs(a - b).max() <= step / 2 + 1e-9, group
    assert all(np.array_equal(a, b.numpy().reshape(a.shape)) for a, b in zip(grids, data.fitted.grids))
    # another image fits other networks: the decoder is not a fixed one
    other = coder.encode(np.ascontiguousarray(photo[::-1, ::-1]), 4.0, schedule=fit.Schedule(20, 2))
    assert other.segments[0] != data.segments[0]


def test_codec_params_are_validated_without_torch():
    good = CodecParams(2.5, Architecture(), {g: 6 for g in ("arm.weight", "arm.bias", "upsampling.weight",
                                                             "synthesis.weight", "synthesis.bias")},
                       {g: 3 for g in ("arm.weight", "arm.bias", "upsampling.weight", "synthesis.weight",
                                       "synthesis.bias")})
    data = good.to_bytes()
    assert CodecParams.from_bytes(data) == good
    bad = [data[:-1], b"\x02" + data[1:], data[:1] + b"\xff\xff" + data[3:], data[:3] + b"\x00" + data[4:],
           data[:3] + b"\x08" + data[4:], data[:6] + b"\x04" + data[7:], data[:-1] + b"\x40",
           data[:8] + b"\x1f" + data[9:]]
    for params in bad:
        with pytest.raises(CorruptStreamError):
            CodecParams.from_bytes(params)
    code = ("import sys, codec.models.image.overfit as f, codec.models.image.overfit.params; "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_check_params_describes_a_file(encoded):
    info = FAMILY.check_params(parse_container(encoded).header)
    assert info["quality"] == 5 and info["grids"] == 7


def test_time_limit_stops_the_fit_and_still_codes(photo):
    steps = []

    class Count(Progress):
        def advance(self, amount: float = 1) -> None:
            steps.append(1)

    schedule = fit.Schedule(100_000, 1_000)
    data = coder.encode(photo, 3.0, schedule=schedule, time_limit=1.0, progress=Count())
    assert 0 < len(steps) < 10_000
    assert coder.decode(data.params, data.segments, *photo.shape[:2]).shape == photo.shape


def test_interrupted_encode_leaves_no_file(photo, tmp_path):
    class Interrupt(Progress):
        def __init__(self) -> None:
            self.n = 0

        def advance(self, amount: float = 1) -> None:
            self.n += 1
            if self.n == 10:
                raise KeyboardInterrupt

    target = tmp_path / "out.nmc"
    with pytest.raises(KeyboardInterrupt):
        codec.encode(photo, target, model="overfit", preset="slow", progress=Interrupt())
    assert list(tmp_path.iterdir()) == []


class Notes(Progress):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_target_bpp_fits_the_budget_or_says_it_cannot(photo):
    pixels = photo.shape[0] * photo.shape[1]
    sizes = [len(codec.encode(photo, model="overfit", quality=q)) for q in (1, 8)]
    assert sizes[0] < sizes[1]          # -q 1 is the smallest file, -q 8 the largest
    for budget in ((sizes[0] + sizes[1]) / 2, sizes[0] / 3):
        notes = Notes()
        data = codec.encode(photo, model="overfit", bpp=budget * 8 / pixels, progress=notes)
        tried = [n for n in notes.notes if n.startswith("target")]
        assert 1 <= len(tried) <= rate_search.MAX_FITS
        if len(data) > budget:      # allowed only when no try fitted, and then the smallest file is coded
            assert "no level reached the target" in " ".join(notes.notes)
            assert len(data) - 16 <= min(int(n.split(" gives ")[1].split()[0]) for n in tried)


def test_refusals(photo):
    with pytest.raises(UsageError):
        codec.encode(photo, model="overfit", preset="placebo")
    with pytest.raises(UsageError):
        codec.encode(photo, model="overfit", quality=9)
    with pytest.raises(UsageError):
        codec.encode(photo, model="overfit", quality=3, bpp=0.5)
    with pytest.raises(UsageError):
        codec.encode(photo, model="overfit", bpp=-1)
    with pytest.raises(BadInputError):
        codec.encode(photo.astype(np.uint16) * 257, model="overfit")


def test_cli_refuses_bad_input_with_one_message(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(skdata.coffee()[:16, :16]).save(src)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    cases = [(["encode", str(src), "-o", str(tmp_path / "a.nmc"), "--model", "overfit", "--preset", "placebo"],
              exitcodes.USAGE_ERROR),
             (["encode", str(src), "-o", str(tmp_path / "b.nmc"), "--model", "overfit", "-q", "0"],
              exitcodes.USAGE_ERROR),
             (["encode", str(junk), "-o", str(tmp_path / "c.nmc"), "--model", "overfit"], exitcodes.BAD_INPUT)]
    for argv, code in cases:
        assert main(argv) == code
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "junk.png"]


def test_cli_encodes_and_decodes_end_to_end(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(skdata.coffee()[200:232, 300:340]).save(src)
    out, back = tmp_path / "in.nmc", tmp_path / "back.png"
    assert main(["encode", str(src), "-o", str(out), "--model", "overfit-coolchic-small", "--preset", "fast",
                 "-q", "3", "--time-limit", "60"]) == exitcodes.OK
    assert parse_container(out.read_bytes()).header.model_id == "overfit-coolchic-small@1"
    assert main(["decode", str(out), "-o", str(back)]) == exitcodes.OK
    decoded = np.asarray(Image.open(back))
    assert decoded.shape == (32, 40, 3)
    assert np.array_equal(decoded, codec.decode(out.read_bytes()))
    assert main(["info", str(out)]) == exitcodes.OK
    assert "overfit-coolchic-small@1" in capsys.readouterr().out
    damaged = bytearray(out.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    out.write_bytes(bytes(damaged))
    assert main(["decode", str(out), "-o", str(tmp_path / "x.png")]) == exitcodes.BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("arch", [Architecture(), Architecture(arm_layers=0, grids=4),
                                  Architecture(arm_layers=3, arm_hidden=8, synthesis_hidden=40)])
def test_multiplication_count_matches_the_coded_weights(arch):
    """The card's cost: context model and synthesis use each coded weight once per latent / per pixel."""
    from codec.models.image.overfit.architecture import multiplications_per_pixel
    from codec.models.image.overfit.network_coding import group_shapes

    count = multiplications_per_pixel(arch)
    shapes = group_shapes(arch)
    latents_per_pixel = sum(4.0 ** -g for g in range(arch.grids))
    assert count["context model"] == pytest.approx(latents_per_pixel * sum(np.prod(s) for s in shapes["arm.weight"]))
    assert count["synthesis"] == sum(np.prod(s) for s in shapes["synthesis.weight"])
    assert count["total"] == pytest.approx(count["context model"] + count["upsampler"] + count["synthesis"])


def test_presets_are_ordered_by_effort():
    steps = [RELEASED_PRESETS[p].iterations + RELEASED_PRESETS[p].final_iterations for p in ("fast", "medium", "slow")]
    assert steps == sorted(steps) and len(set(steps)) == 3
    assert FAMILY.rate_control(FAMILY.models[0]).presets == ("fast", "medium", "slow")
