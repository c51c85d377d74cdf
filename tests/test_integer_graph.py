"""Float module -> calibrated integer graph: accuracy, structure, serialization, validation, QAT."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from codec.nn import integer as I


def smooth(n: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Image-like calibration data: low-pass noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h // 4 + 1, w // 4 + 1, generator=g)
    return nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float((got - expected).norm() / expected.norm())


def video_like_net() -> nn.Module:
    """Everything a DCVC-style feature path uses: 3x3, 1x1, depthwise, residual blocks, (un)shuffle, concat."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.LeakyReLU(0.1),
        I.ResidualBlock(16),
        nn.PixelUnshuffle(2),                                           # 64 x H/2 x W/2
        nn.Conv2d(64, 32, 1), nn.ReLU(),
        I.ResidualBlock(32, depthwise=True, hidden=48),
        I.Concat(nn.Identity(), nn.Sequential(nn.Conv2d(32, 16, 3, padding=1, groups=16), nn.LeakyReLU(0.01))),
        nn.Conv2d(48, 64, 3, padding=1),
        nn.PixelShuffle(2),                                             # 16 x H x W
        I.Residual(nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 8, 1)),
                   shortcut=nn.Conv2d(16, 8, 1)),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
        nn.Conv2d(4, 3, 3, stride=2, padding=1),
    ).eval()


def test_converted_network_follows_the_float_network():
    net = video_like_net()
    integer = I.convert(net, [smooth(2, 3, 32, 48, seed) for seed in range(3)])
    x = smooth(2, 3, 32, 48, seed=10)
    with torch.no_grad():
        expected = net(x)
    got = integer.forward_float(x)
    assert got.shape == expected.shape
    assert relative_error(got, expected) < 5e-3
    # the graph mirrors the float module: paths, kinds and a fraction chosen for every tensor
    kinds = {path: type(node).__name__ for path, node in integer.named_nodes()}
    assert kinds["2"] == "IntResidual" and kinds["2.body.0"] == "IntConv" and kinds["1"] == "IntLeakyReLU"
    assert kinds["7"] == "IntConcat" and kinds["7.branches.0"] == "IntIdentity"
    assert kinds["10.shortcut"] == "IntConv" and kinds["11"] == "IntConv"
    assert integer.node("6.body.0").groups == 32
    assert integer.node("11").upsample == (2, 2) and integer.node("11").transposed
    # the concat's convolution branch produces the concat's fraction bits itself
    concat = integer.node("7")
    assert concat.branches[1].f_out == concat.f_out == min(b.f_out for b in concat.branches)


def test_serialization_round_trip_is_exact():
    net = video_like_net()
    integer = I.convert(net, smooth(2, 3, 16, 16, seed=1))
    tensors, spec = integer.state()
    spec = json.loads(json.dumps(spec))                     # the spec is plain JSON
    assert all(not t.dtype.is_floating_point for t in tensors.values())
    assert all(t.dtype in (torch.int8, torch.int16) for k, t in tensors.items() if k.endswith("weight"))
    again = I.IntegerModule.from_state(tensors, spec)
    x = I.to_fixed(smooth(1, 3, 24, 20, seed=5), integer.f_in)
    assert torch.equal(again(x), integer(x))
    assert again.spec() == integer.spec()
    for key, value in again.state()[0].items():
        assert torch.equal(value, tensors[key])
    loaded = I.IntegerModule.from_bytes(integer.to_bytes())
    assert torch.equal(loaded(x), integer(x))
    full, _ = integer.state(compact=False)
    assert all(t.dtype == torch.int64 for t in full.values())


def test_loading_validates_the_spec_and_tensors():
    integer = I.convert(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU()), smooth(1, 2, 8, 8, 0))
    tensors, spec = integer.state()

    def fails(t, s, match):
        with pytest.raises(ValueError, match=match):
            I.IntegerModule.from_state(t, s)

    fails({k: v for k, v in tensors.items() if k != "0.bias"}, spec, "lacks")
    fails({**tensors, "junk": torch.zeros(1, dtype=torch.int8)}, spec, "not used")
    fails({**tensors, "0.weight": tensors["0.weight"].float()}, spec, "integer")
    huge = tensors["0.weight"].to(torch.int64).sign() * (1 << 29)
    fails({**tensors, "0.weight": huge}, spec, "2\\^53")
    fails({**tensors, "0.shift": tensors["0.shift"][:2]}, spec, "shift")
    bad = copy.deepcopy(spec)
    bad["root"]["layers"][0]["kind"] = "softmax"
    fails(tensors, bad, "unknown")
    bad = copy.deepcopy(spec)
    bad["root"]["layers"][1]["f_in"] += 1
    fails(tensors, bad, "fraction")
    bad = copy.deepcopy(spec)
    bad["version"] = 99
    fails(tensors, bad, "version")
    with pytest.raises(ValueError):
        I.IntegerModule.from_bytes(b"not a file")


def test_output_and_module_fraction_bits_can_be_forced():
    torch.manual_seed(1)
    first = nn.Conv2d(3, 8, 3, padding=1)
    net = nn.Sequential(first, nn.ReLU(), nn.Conv2d(8, 4, 1), nn.ReLU())
    integer = I.convert(net, smooth(2, 3, 16, 16, 2), f_in=7, f_out=5, fractions={first: 9})
    assert integer.f_in == 7 and integer.f_out == 5
    assert integer.node("0").f_out == 9 and integer.node("2").f_out == 5
    assert len(integer.root.layers) == 4                     # the last conv produced f_out: no extra rescale
    only_activations = I.convert(nn.Sequential(nn.ReLU()), smooth(1, 3, 4, 4, 3), f_in=6, f_out=4)
    assert isinstance(only_activations.root.layers[-1], I.IntRescale)
    x = torch.tensor([[[[64, -64, 40]]]])
    assert only_activations(x).tolist() == [[[[16, 0, 10]]]]


def test_multiple_inputs_with_different_fraction_bits():
    """A DCVC-style fusion: a decoded latent and a propagated feature, concatenated, then mixed."""
    torch.manual_seed(2)
    net = nn.Sequential(I.Parallel(nn.Conv2d(4, 8, 3, padding=1), nn.Identity()),
                        nn.Conv2d(14, 6, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(6, 2, 1)).eval()
    latent, feature = smooth(2, 4, 12, 12, 4) * 20, smooth(2, 6, 12, 12, 5) * 0.05
    integer = I.convert(net, [(latent, feature)])
    assert isinstance(integer.f_in, list) and integer.f_in[0] < integer.f_in[1]
    with torch.no_grad():
        expected = net((latent, feature))
    assert relative_error(integer.forward_float(latent, feature), expected) < 5e-3
    xs = integer.quantize_inputs(latent, feature)
    assert torch.equal(integer(*xs), integer(xs))
    again = I.IntegerModule.from_state(*integer.state())
    assert torch.equal(again(*xs), integer(*xs))

    adder = nn.Sequential(I.Parallel(nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 3, padding=1), merge="add"), nn.ReLU())
    a, b = smooth(1, 3, 8, 8, 6), smooth(1, 3, 8, 8, 7) * 3
    integer = I.convert(adder, [(a, b)])
    with torch.no_grad():
        assert relative_error(integer.forward_float(a, b), adder((a, b))) < 5e-3


def test_context_mlp_of_linear_layers_with_a_residual():
    """Cool-chic style: an MLP over a causal neighbourhood, small weights sent in the file."""
    torch.manual_seed(3)
    mlp = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), I.Residual(nn.Sequential(nn.Linear(24, 24), nn.ReLU())),
                        nn.Linear(24, 2)).eval()
    ctx = torch.randn(4000, 12)
    integer = I.convert(mlp, ctx[:2000], weight_bits=8)
    assert all(t.dtype == torch.int8 for k, t in integer.state()[0].items() if k.endswith("weight"))
    with torch.no_grad():
        expected = mlp(ctx[2000:])
    assert relative_error(integer.forward_float(ctx[2000:]), expected) < 0.05   # 8-bit weights
    fine = I.convert(mlp, ctx[:2000])
    assert relative_error(fine.forward_float(ctx[2000:]), expected) < 5e-3
    compact = len(integer.to_bytes())
    assert compact < 2500, compact


def test_masked_context_is_causal():
    torch.manual_seed(4)
    net = nn.Sequential(I.MaskedConv2d(1, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(), nn.Conv2d(8, 2, 1))
    x = smooth(1, 1, 10, 10, 8)
    integer = I.convert(net, x)
    xi = integer.quantize_inputs(x)
    base = integer(xi)
    changed = xi.clone()
    changed[0, 0, 5, 5:] += 1000        # the pixel (5, 5) and everything after it in raster order
    changed[0, 0, 6:] -= 700
    out = integer(changed)
    assert torch.equal(out[0, :, :5], base[0, :, :5])
    assert torch.equal(out[0, :, 5, :6], base[0, :, 5, :6])
    assert not torch.equal(out, base)


def test_causal_1d_convolutions_over_time():
    """Audio style: a prior over time from causal dilated 1-D convolutions."""
    torch.manual_seed(5)
    net = nn.Sequential(I.CausalConv1d(8, 16, 3), nn.LeakyReLU(0.2), I.CausalConv1d(16, 16, 3, dilation=2),
                        nn.ReLU(), nn.Conv1d(16, 4, 1), nn.ConstantPad1d((1, 0), 0.0)).eval()
    x = torch.randn(2, 8, 200).cumsum(-1) / 10
    integer = I.convert(net, x)
    with torch.no_grad():
        expected = net(x)
    assert relative_error(integer.forward_float(x), expected) < 5e-3
    assert integer.node("0").pads == ((2, 0),) and integer.node("2").pads == ((4, 0),)
    xi = integer.quantize_inputs(x)
    base = integer(xi)
    future = xi.clone()
    future[:, :, 120:] = 0
    assert torch.equal(integer(future)[:, :, :121], base[:, :, :121])   # the final pad shifts by one step


def test_unsupported_layers_and_missing_calibration_are_refused():
    with pytest.raises(TypeError, match="Sigmoid"):
        I.convert(nn.Sequential(nn.Conv2d(1, 1, 1), nn.Sigmoid()), torch.randn(1, 1, 4, 4))
    with pytest.raises(TypeError, match="padding_mode"):
        I.convert(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), torch.randn(1, 1, 4, 4))
    unused = nn.Conv2d(1, 1, 1)
    with pytest.raises(ValueError, match="calibration"):
        I.convert(unused, calibration=I.Calibration(), f_in=8)


def test_dequantized_weights_reproduce_the_integer_layers():
    net = video_like_net()
    integer = I.convert(net, smooth(1, 3, 16, 16, 9))
    twin = copy.deepcopy(net)
    I.dequantize_into(twin, integer)
    for (name, p), q in zip(net.named_parameters(), twin.parameters()):
        assert (p - q).abs().max() <= p.abs().max() / 1000 + 1e-6, name
    again = I.convert(twin, smooth(1, 3, 16, 16, 9))
    for (path, a), (_, b) in zip(integer.named_nodes(), again.named_nodes()):
        if isinstance(a, I.IntConv) and a.f_out == b.f_out:
            assert torch.equal(a.weight, b.weight), path


def test_fake_quantization_rounds_like_the_integer_graph():
    x = torch.tensor([0.30, -0.30, 0.125, -0.125, 100.0], requires_grad=True)
    y = I.fake_quantize(x, 2, limit=8)
    assert y.tolist() == [0.25, -0.25, 0.25, 0.0, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0] * 5
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    wq = I.fake_quantize_weight(w)
    assert (wq - w).abs().max() < w.abs().max() / 2000
    net = video_like_net()
    integer = I.convert(net, smooth(2, 3, 16, 16, 11))
    handles = I.attach_fake_quant(net, integer)
    x = smooth(1, 3, 16, 16, 12)
    out = net(x)
    steps = out * 2.0 ** integer.f_out
    assert torch.equal(steps, steps.round())           # the output lies on the integer graph's grid
    out.sum().backward()                                # and gradients flow
    assert net[0].weight.grad is not None
    for h in handles:
        h.remove()
