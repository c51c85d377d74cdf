"""Integer ops against references computed with Python integers, straight from their definitions."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from codec.nn import integer as I
from codec.nn.integer import ACT_LIMIT


# -- references (Python ints, arbitrary precision) ------------------------------------------------


def ref_round_shift(a: int, s: int) -> int:
    return (a + (1 << (s - 1))) >> s if s > 0 else a << -s


def ref_sat(v: int) -> int:
    return max(-ACT_LIMIT, min(ACT_LIMIT, v))


def ref_requantize(a: int, s: int) -> int:
    return ref_sat(ref_round_shift(a, s))


def ref_conv(x, w, b, s, *, stride, dilation, upsample, pads, groups):
    """The IntConv definition, literally: zero insertion, zero padding, grouped correlation, requantize."""
    x, w = x.tolist(), w.tolist()
    dims = len(stride)
    n = len(x)
    c_out, c_per = len(w), len(w[0])
    shape = []
    node = x[0][0]
    while isinstance(node, list):
        shape.append(len(node))
        node = node[0] if node else 0
    kernel = []
    node = w[0][0]
    while isinstance(node, list):
        kernel.append(len(node))
        node = node[0] if node else 0
    z_size = [upsample[d] * (shape[d] - 1) + 1 + pads[d][0] + pads[d][1] for d in range(dims)]
    out_size = [(z_size[d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1 for d in range(dims)]

    def get(t, idx):
        for i in idx:
            t = t[i]
        return t

    def z(batch, ch, pos):
        src = []
        for d in range(dims):
            p = pos[d] - pads[d][0]
            if p < 0 or p % upsample[d] or p // upsample[d] >= shape[d]:
                return 0
            src.append(p // upsample[d])
        return get(x[batch][ch], src)

    out = []
    group_out = c_out // groups
    for bi in range(n):
        per_batch = []
        for o in range(c_out):
            g = o // group_out
            plane = {}
            for r in itertools.product(*[range(m) for m in out_size]):
                acc = b[o]
                for i in range(c_per):
                    for k in itertools.product(*[range(m) for m in kernel]):
                        pos = [stride[d] * r[d] + dilation[d] * k[d] for d in range(dims)]
                        acc += get(w[o][i], k) * z(bi, g * c_per + i, pos)
                plane[r] = ref_requantize(acc, s[o])
            per_batch.append(plane)
        out.append(per_batch)
    result = torch.zeros(n, c_out, *out_size, dtype=torch.int64)
    for bi in range(n):
        for o in range(c_out):
            for r, v in out[bi][o].items():
                result[(bi, o) + r] = v
    return result


def random_activations(gen: torch.Generator, *shape: int, limit: int = ACT_LIMIT) -> torch.Tensor:
    x = torch.randint(-limit, limit + 1, shape, generator=gen)
    flat = x.view(-1)
    flat[:: 7] = limit            # extremes and zeros occur
    flat[3:: 11] = -limit
    flat[5:: 13] = 0
    return x


def random_conv(gen, c_out, c_in_per_group, kernel, *, shift_range=(8, 30), **geometry):
    w = torch.randint(-2047, 2048, (c_out, c_in_per_group, *kernel), generator=gen)
    b = torch.randint(-(1 << 40), 1 << 40, (c_out,), generator=gen)
    s = torch.randint(shift_range[0], shift_range[1], (c_out,), generator=gen)
    return w, b, s


# -- the rounding rule ------------------------------------------------------------------------------


def test_requantize_matches_the_definition_for_every_shift():
    rng = random.Random(1)
    values = [0, 1, -1, 2, -2, 3, -3, 5, -5, ACT_LIMIT, -ACT_LIMIT, ACT_LIMIT + 1, -(1 << 52), (1 << 52) - 1]
    values += [rng.randrange(-(1 << 53) + 1, 1 << 53) for _ in range(300)]
    values += [rng.randrange(-5000, 5000) for _ in range(300)]
    acc = torch.tensor(values, dtype=torch.int64)
    for s in list(range(-50, 71)) + [100, -100]:
        expected = torch.tensor([ref_requantize(v, s) for v in values])
        assert torch.equal(I.requantize(acc, s), expected), s
    # one shift per channel (channel_dim 1, and the last dimension)
    shifts = torch.tensor([-45, -3, 0, 1, 2, 17, 40, 63, 80])
    acc2 = acc[: 9 * 20].view(20, 9)
    expected = torch.tensor([[ref_requantize(v, int(s)) for v, s in zip(row, shifts)] for row in acc2.tolist()])
    assert torch.equal(I.requantize(acc2, shifts, channel_dim=1), expected)
    assert torch.equal(I.requantize(acc2, shifts, channel_dim=-1), expected)


def test_round_shift_rounds_ties_up():
    acc = torch.tensor([5, -5, 6, -6, 7, -7, 3, -3]).view(1, -1, 1, 1)
    out = I.round_shift(acc, torch.full((8,), 1)).view(-1).tolist()
    assert out == [3, -2, 3, -3, 4, -3, 2, -1]   # x / 2 rounded half up: 2.5 -> 3, -2.5 -> -2
    assert I.requantize(torch.tensor([5, -5, -7]), 1).tolist() == [3, -2, -3]


def test_align_and_fixed_point_conversions():
    x = torch.tensor([1, -1, 3, -3, 1000])
    assert I.align(x, 4, 6).tolist() == [4, -4, 12, -12, 4000]          # exact
    assert I.align(x, 2, 0).tolist() == [0, 0, 1, -1, 250]              # 0.25 -> 0, 0.75 -> 1, -0.75 -> -1
    assert I.to_fixed(torch.tensor([0.5, -0.5, 1.25, 1e9, -1e9]), 1).tolist() == [1, -1, 3, ACT_LIMIT, -ACT_LIMIT]
    assert I.from_fixed(torch.tensor([3, -8]), 2, torch.float64).tolist() == [0.75, -2.0]


def test_narrowest_int_keeps_values():
    for values, dtype in (([0, 127, -128], torch.int8), ([128], torch.int16), ([-40000], torch.int32),
                          ([1 << 40], torch.int64)):
        t = I.narrowest_int(torch.tensor(values))
        assert t.dtype == dtype and t.tolist() == values


# -- convolutions --------------------------------------------------------------------------------

CONV_CASES = {
    "3x3": dict(c_in=4, c_out=3, size=(6, 5), kernel=(3, 3), stride=(1, 1), dilation=(1, 1), upsample=(1, 1),
                pads=((1, 1), (1, 1)), groups=1),
    "5x5-stride2": dict(c_in=3, c_out=2, size=(7, 6), kernel=(5, 5), stride=(2, 2), dilation=(1, 1),
                        upsample=(1, 1), pads=((2, 2), (2, 2)), groups=1),
    "1x1": dict(c_in=5, c_out=4, size=(3, 4), kernel=(1, 1), stride=(1, 1), dilation=(1, 1), upsample=(1, 1),
                pads=((0, 0), (0, 0)), groups=1),
    "depthwise": dict(c_in=4, c_out=4, size=(5, 5), kernel=(3, 3), stride=(1, 1), dilation=(1, 1),
                      upsample=(1, 1), pads=((1, 1), (1, 1)), groups=4),
    "grouped-dilated": dict(c_in=4, c_out=6, size=(7, 7), kernel=(3, 3), stride=(1, 1), dilation=(2, 2),
                            upsample=(1, 1), pads=((2, 2), (2, 2)), groups=2),
    "asymmetric-pads": dict(c_in=2, c_out=2, size=(4, 5), kernel=(2, 3), stride=(1, 2), dilation=(1, 1),
                            upsample=(1, 1), pads=((1, 0), (2, 0)), groups=1),
    "transposed-k5": dict(c_in=3, c_out=2, size=(3, 4), kernel=(5, 5), stride=(1, 1), dilation=(1, 1),
                          upsample=(2, 2), pads=((2, 3), (2, 3)), groups=1),
    "transposed-k4-grouped": dict(c_in=4, c_out=4, size=(3, 3), kernel=(4, 4), stride=(1, 1), dilation=(1, 1),
                                  upsample=(2, 2), pads=((2, 2), (2, 2)), groups=2),
    "transposed-nofast": dict(c_in=2, c_out=2, size=(3, 3), kernel=(3, 3), stride=(2, 1), dilation=(1, 1),
                              upsample=(2, 2), pads=((1, 1), (0, 3)), groups=1),
    "1d": dict(c_in=3, c_out=4, size=(9,), kernel=(3,), stride=(1,), dilation=(1,), upsample=(1,),
               pads=((1, 1),), groups=1),
    "1d-causal-dilated": dict(c_in=3, c_out=2, size=(10,), kernel=(3,), stride=(1,), dilation=(3,), upsample=(1,),
                              pads=((6, 0),), groups=1),
    "1d-stride2-depthwise": dict(c_in=4, c_out=4, size=(9,), kernel=(4,), stride=(2,), dilation=(1,),
                                 upsample=(1,), pads=((3, 0),), groups=4),
    "1d-transposed": dict(c_in=2, c_out=3, size=(5,), kernel=(4,), stride=(1,), dilation=(1,), upsample=(2,),
                          pads=((2, 2),), groups=1),
}


@pytest.mark.parametrize("shifts", ["float-rescale", "int-rescale", "small"])
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv_matches_the_definition(name, shifts):
    case = CONV_CASES[name]
    gen = torch.Generator().manual_seed(sum(map(ord, name + shifts)))
    w, b, s = random_conv(gen, case["c_out"], case["c_in"] // case["groups"], case["kernel"])
    if shifts == "small":   # many exact ties: small weights, biases and shifts
        w, b, s = w % 5 - 2, b % 7 - 3, torch.randint(0, 4, s.shape, generator=gen)
    s[0] = -2               # a left shift, saturating most outputs
    if shifts == "int-rescale":
        s[-1] = 70          # beyond the largest useful right shift: rescaled in int64
    geometry = {k: case[k] for k in ("stride", "dilation", "upsample", "pads", "groups")}
    node = I.IntConv(w, b, s, f_in=10, f_out=8, **geometry)
    assert node._float_finish == (shifts != "int-rescale")
    x = random_activations(gen, 2, case["c_in"], *case["size"], limit=ACT_LIMIT if shifts != "small" else 9)
    expected = ref_conv(x, w, b.tolist(), s.tolist(), **geometry)
    assert torch.equal(node(x), expected)
    assert torch.equal(node.reference(x), expected)
    node._float_finish = False
    assert torch.equal(node(x), expected)


def test_conv_tie_rounding_and_saturation_by_hand():
    # 1x1 conv, weight 3, bias 1, shift 2: y = round_half_up((3x + 1) / 4), saturated.
    node = I.IntConv(torch.tensor([[[[3]]]]), torch.tensor([1]), torch.tensor([2]), f_in=0, f_out=0)
    x = torch.tensor([0, 1, 2, -1, -3, ACT_LIMIT, -ACT_LIMIT]).view(1, 1, 1, -1)
    # 3x+1 = 1, 4, 7, -2, -8, ...: /4 -> 0.25, 1, 1.75, -0.5 (tie -> 0), -2
    assert node(x).view(-1).tolist() == [0, 1, 2, 0, -2, 786432, -786431]
    left = I.IntConv(torch.tensor([[[[3]]]]), torch.tensor([1]), torch.tensor([-1]), f_in=0, f_out=0)
    assert left(x).view(-1).tolist() == [2, 8, 14, -4, -16, ACT_LIMIT, -ACT_LIMIT]


@pytest.mark.parametrize("layer", [
    torch.nn.ConvTranspose2d(3, 4, 5, stride=2, padding=2, output_padding=1),
    torch.nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2),
    torch.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=0, dilation=2),
    torch.nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1),
])
def test_transposed_conv_agrees_with_torch_layout(layer):
    """The correlation form stored for a ConvTranspose layer computes what the float layer computes."""
    torch.manual_seed(3)
    node = I.quantize_layer(layer, 8, 8)
    x = torch.randn(1, layer.in_channels, *([5] * (layer.weight.dim() - 2)))
    xi = I.to_fixed(x, 8)
    with torch.no_grad():
        expected = layer(I.from_fixed(xi, 8))
    got = I.from_fixed(node(xi), 8)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 0.02
    assert torch.equal(node(xi), node.reference(xi))
    w, _ = node.to_float()
    assert w.shape == layer.weight.shape and (w - layer.weight).abs().max() < 1e-3


def test_linear_matches_the_definition():
    gen = torch.Generator().manual_seed(4)
    w = torch.randint(-2047, 2048, (5, 7), generator=gen)
    b = torch.randint(-(1 << 35), 1 << 35, (5,), generator=gen)
    s = torch.tensor([0, 3, 12, 25, 40])
    for shifts in (s, torch.tensor([0, 3, 12, 25, 60]), torch.tensor([-3, 1, 2, 1, 0])):
        node = I.IntLinear(w, b, shifts, f_in=6, f_out=4)
        x = random_activations(gen, 2, 3, 7)
        expected = torch.tensor([[[ref_requantize(b[o].item() + sum(w[o][i].item() * x[n][t][i].item()
                                                                  for i in range(7)), shifts[o].item())
                                   for o in range(5)] for t in range(3)] for n in range(2)])
        assert torch.equal(node(x), expected)


# -- elementwise and rearranging ops --------------------------------------------------------------


@pytest.mark.parametrize("num,shift", [(655, 16), (1, 3), (1, 1), (0, 0), (1, 0), (3277, 15)])
def test_leaky_relu_matches_the_definition(num, shift):
    x = torch.arange(-3000, 3001)
    x = torch.cat([x, torch.tensor([ACT_LIMIT, -ACT_LIMIT])])
    expected = [v if v >= 0 else ref_round_shift(v * num, shift) for v in x.tolist()]
    assert I.leaky_relu(x, num, shift).tolist() == expected
    node = I.IntLeakyReLU(5, num, shift)
    assert node(x).tolist() == expected


def test_leaky_slope_and_its_limits():
    assert I.leaky_slope(0.01) == (655, 16)
    assert I.leaky_slope(0.125) == (1, 3)
    assert I.leaky_slope(0.0) == (0, 0)
    assert I.leaky_slope(1.0) == (1, 0)
    with pytest.raises(ValueError):
        I.leaky_slope(1.5)
    with pytest.raises(ValueError):
        I.IntLeakyReLU(0, 9, 3)
    assert I.leaky_relu(torch.tensor([-5, -4, -3]), 1, 1).tolist() == [-2, -2, -1]  # -2.5 -> -2, -1.5 -> -1


def test_relu_pad_flatten():
    x = torch.tensor([[-3, 0, 4]])
    assert I.relu(x).tolist() == [[0, 0, 4]]
    assert I.IntPad(0, [(2, 1)])(x).tolist() == [[0, 0, -3, 0, 4, 0]]
    y = torch.arange(6).view(1, 1, 2, 3)
    assert I.zero_pad(y, [(1, 0), (0, 2)]).tolist() == [[[[0, 0, 0, 0, 0], [0, 1, 2, 0, 0], [3, 4, 5, 0, 0]]]]
    assert I.IntFlatten(0)(y).shape == (1, 6)
    assert I.zero_insert(torch.tensor([[1, 2, 3]]), [2]).tolist() == [[1, 0, 2, 0, 3]]


def test_add_aligns_to_the_finest_fraction_then_rounds_once():
    rng = random.Random(5)
    a = [rng.randrange(-ACT_LIMIT, ACT_LIMIT + 1) for _ in range(400)] + [ACT_LIMIT, -ACT_LIMIT, 1, -1, 3, -3]
    b = [rng.randrange(-ACT_LIMIT, ACT_LIMIT + 1) for _ in range(400)] + [ACT_LIMIT, -ACT_LIMIT, 0, 0, 0, 0]
    for fa, fb, fo in ((8, 8, 8), (8, 10, 9), (12, 4, 6), (5, 7, 9), (3, 3, 1), (9, 6, 12)):
        top = max(fa, fb)
        expected = [ref_requantize((x << (top - fa)) + (y << (top - fb)), top - fo) for x, y in zip(a, b)]
        got = I.add([torch.tensor(a), torch.tensor(b)], [fa, fb], fo)
        assert got.tolist() == expected, (fa, fb, fo)
    # by hand: 0.5 (f=1) + 0.25 (f=2) = 0.75 -> f=1: 1.5 -> rounds half up to 2 (= 1.0)
    assert I.add([torch.tensor([1]), torch.tensor([1])], [1, 2], 1).tolist() == [2]
    with pytest.raises(ValueError):
        I.add([torch.tensor([1]), torch.tensor([1])], [0, 40], 0)


def test_concat_aligns_each_input():
    a, b = torch.tensor([[5, -5]]), torch.tensor([[7, -7, 6]])
    assert I.concat([a, b], [3, 1]).tolist() == [[ref_requantize(5, 2), ref_requantize(-5, 2), 7, -7, 6]]
    assert I.concat([a, b], [3, 1], 4, dim=1).tolist() == [[10, -10, 56, -56, 48]]
    assert I.concat([a, b], [2, 2], dim=-1).tolist() == [[5, -5, 7, -7, 6]]


def test_pixel_shuffle_is_the_stated_rearrangement():
    r, c, h, w = 2, 3, 2, 3
    x = torch.arange(c * r * r * h * w).view(1, c * r * r, h, w)
    y = I.pixel_shuffle(x, r)
    assert y.shape == (1, c, h * r, w * r)
    for ch, hh, ww, i, j in itertools.product(range(c), range(h), range(w), range(r), range(r)):
        assert y[0, ch, hh * r + i, ww * r + j] == x[0, ch * r * r + i * r + j, hh, ww]
    assert torch.equal(I.pixel_unshuffle(y, r), x)
    assert torch.equal(I.IntPixelUnshuffle(0, r)(I.IntPixelShuffle(0, r)(x)), x)


# -- determinism ---------------------------------------------------------------------------------


def test_results_do_not_depend_on_the_thread_count():
    gen = torch.Generator().manual_seed(6)
    nodes = [
        I.IntConv(*random_conv(gen, 48, 48, (3, 3)), f_in=8, f_out=8),
        I.IntConv(*random_conv(gen, 48, 1, (3, 3)), f_in=8, f_out=8, groups=48),
        I.IntConv(*random_conv(gen, 32, 48, (5, 5)), f_in=8, f_out=8, upsample=2, pads=[(2, 3), (2, 3)]),
        I.IntConv(*random_conv(gen, 32, 48, (3,)), f_in=8, f_out=8, pads=[(2, 0)]),
    ]
    linear = I.IntLinear(*random_conv(gen, 64, 48, ()), f_in=8, f_out=8)
    x = random_activations(gen, 2, 48, 24, 40)
    x1 = random_activations(gen, 2, 48, 300)
    xl = random_activations(gen, 500, 48)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            results.append([nodes[0](x), nodes[1](x), nodes[2](x), nodes[3](x1), linear(xl)])
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_refuses_layers_whose_accumulator_could_reach_2_to_53():
    I.IntConv(torch.full((1, 4096, 1, 1), 1 << 20), None, 0, f_in=0, f_out=0)  # 2^32 * (2^20 - 1) < 2^53: fine
    with pytest.raises(ValueError, match="2\\^53"):
        I.IntConv(torch.full((1, 16384, 1, 1), 1 << 20), None, 0, f_in=0, f_out=0)
    with pytest.raises(ValueError, match="2\\^53"):
        I.IntLinear(torch.ones(2, 3), torch.tensor([1 << 53, 0]), 0, f_in=0, f_out=0)
    with pytest.raises(ValueError, match="2\\^53"):
        I.quantize_layer(torch.nn.Linear(4096, 2), 8, 8, weight_limit=(1 << 23) - 1)


def test_table_index_counts_reached_thresholds():
    thresholds = torch.tensor([-5, 0, 0, 7, 100])
    x = torch.tensor([-6, -5, -1, 0, 6, 7, 99, 100, 10**6])
    expected = [sum(t <= v for t in thresholds.tolist()) for v in x.tolist()]
    assert I.table_index(x, thresholds).tolist() == expected == [0, 1, 1, 3, 3, 4, 4, 5, 5]
