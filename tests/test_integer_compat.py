"""codec.nn.integer became a package: every old name still computes exactly what it computed.

The block between the markers is a verbatim copy of the old module
``codec/nn/integer.py`` (names prefixed ``old``), the reference for the
shipped model's integer layers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import codec.nn.integer as I

# ---- verbatim copy of the old codec/nn/integer.py (renamed) -----------------------------------------
ACT_LIMIT = (1 << 20) - 1
WEIGHT_LIMIT = (1 << 11) - 1
_EXACT_LIMIT = 1 << 53


def old_round_shift(acc: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rescale int64 ``acc`` (N, C, H, W) by per-channel ``shift`` (C,) with round half up."""
    shift = shift.view(1, -1, 1, 1)
    right = shift.clamp_min(0)
    half = torch.where(right > 0, torch.ones_like(right) << (right - 1).clamp_min(0), torch.zeros_like(right))
    down = torch.bitwise_right_shift(acc + half, right)
    return torch.bitwise_left_shift(down, (-shift).clamp_min(0))


def _old_exact_mode(device: torch.device):
    return torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else contextlib.nullcontext()


@dataclass
class OldIntegerConv:
    """One exact integer convolution (plain or transposed, stride 1 or 2), optionally with ReLU."""

    weight: torch.Tensor      # int64 (C_out, C_in, k, k) in conv2d layout (transposed convs pre-flipped)
    bias: torch.Tensor        # int64 (C_out,)
    shift: torch.Tensor       # int64 (C_out,): f_in + e_c - f_out
    stride: int
    transposed: bool
    relu: bool
    f_in: int                 # fraction bits of the input activations
    f_out: int                # fraction bits of the output activations

    @property
    def kernel(self) -> int:
        return self.weight.shape[-1]

    def accumulator_bound(self, input_limit: int = ACT_LIMIT) -> int:
        per_channel = self.weight.abs().sum(dim=(1, 2, 3)) * input_limit + self.bias.abs()
        return int(per_channel.max())

    def to_float(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The float weight (in the original layer's layout) and bias this layer stands for.

        Why: training can continue from a shipped model file, whose entropy
        path exists only in this integer form.
        """
        exponent = (self.shift - self.f_in + self.f_out).to(torch.float64)
        w = self.weight.to(torch.float64) * torch.pow(2.0, -exponent).view(-1, 1, 1, 1)
        if self.transposed:
            w = w.flip(-1, -2).transpose(0, 1)
        b = self.bias.to(torch.float64) * torch.pow(2.0, -(exponent + self.f_in))
        return w.to(torch.float32), b.to(torch.float32)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: int64 (N, C_in, H, W) -> int64 (N, C_out, H', W')."""
        k = self.kernel
        xf = x.to(torch.float64)
        w = self.weight.to(device=x.device, dtype=torch.float64)
        with _old_exact_mode(x.device):
            if self.transposed:
                # conv_transpose(k, stride 2, pad k//2, output_padding 1) == zero-insert, then conv.
                n, c, h, wd = xf.shape
                up = xf.new_zeros(n, c, 2 * h - 1, 2 * wd - 1)
                up[:, :, ::2, ::2] = xf
                lo = k - 1 - k // 2
                up = F.pad(up, (lo, lo + 1, lo, lo + 1))
                acc = F.conv2d(up, w)
            else:
                acc = F.conv2d(xf, w, stride=self.stride, padding=k // 2)
        acc = acc.to(torch.int64) + self.bias.to(x.device).view(1, -1, 1, 1)
        out = old_round_shift(acc, self.shift.to(x.device))
        if self.relu:
            out = out.clamp_min(0)
        return out.clamp(-ACT_LIMIT, ACT_LIMIT)


def old_quantize_conv(layer: nn.Conv2d | nn.ConvTranspose2d, f_in: int, f_out: int, *, relu: bool,
                  weight_mask: torch.Tensor | None = None) -> OldIntegerConv:
    """Convert a trained float convolution to an :class:`OldIntegerConv` (the one float-to-integer step).

    Each output channel gets the largest power-of-two exponent that keeps its
    weights within ``WEIGHT_LIMIT``.
    """
    w = layer.weight.detach().to(torch.float64)
    transposed = isinstance(layer, nn.ConvTranspose2d)
    if transposed:
        if layer.stride != (2, 2) or layer.output_padding != (1, 1) or layer.padding[0] != layer.kernel_size[0] // 2:
            raise ValueError("only stride-2 'same' transposed convolutions are supported")
        w = w.transpose(0, 1).flip(-1, -2)
    if weight_mask is not None:
        w = w * weight_mask.to(torch.float64)
    stride = layer.stride[0]
    peak = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)
    exponent = torch.floor(torch.log2(WEIGHT_LIMIT / peak)).to(torch.int64).clamp(-30, 40)
    scale = torch.pow(2.0, exponent.to(torch.float64))
    w_int = torch.round(w * scale.view(-1, 1, 1, 1)).to(torch.int64)
    b = layer.bias.detach().to(torch.float64) if layer.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    b_int = torch.round(b * scale * 2.0 ** f_in).to(torch.int64)
    conv = OldIntegerConv(w_int, b_int, exponent + f_in - f_out, stride, transposed, relu, f_in, f_out)
    if conv.accumulator_bound() >= _EXACT_LIMIT:
        raise ValueError("integer layer could exceed 2^53 in its accumulator")
    return conv


def old_fraction_bits_for(peak: float, limit: int = (1 << 15) - 1) -> int:
    """Fraction bits that fit activations up to ``peak`` (with 2x headroom) below ``limit``."""
    if peak <= 0:
        return 8
    return int(math.floor(math.log2(limit / (2 * peak))))
# ---- end of the copy -------------------------------------------------------------------------------


def legacy_layers():
    torch.manual_seed(0)
    mask = (torch.arange(25).view(5, 5) % 2 == 1).float()[None, None]
    return [
        (nn.Conv2d(6, 5, 3, 1, 1), dict(relu=True)),
        (nn.Conv2d(6, 4, 5, 2, 2), dict(relu=False)),
        (nn.Conv2d(8, 6, 1), dict(relu=True)),
        (nn.ConvTranspose2d(6, 4, 5, 2, 2, output_padding=1), dict(relu=True)),
        (nn.ConvTranspose2d(5, 3, 3, 2, 1, output_padding=1), dict(relu=False)),
        (nn.Conv2d(4, 6, 5, 1, 2), dict(relu=False, weight_mask=mask)),
    ]


def activations(seed: int, *shape: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-(1 << 16), 1 << 16, shape, generator=g)
    x.view(-1)[::9] = I.ACT_LIMIT
    x.view(-1)[4::9] = -I.ACT_LIMIT
    return x


def test_every_old_name_is_importable():
    from codec.nn.integer import (_EXACT_LIMIT, ACT_LIMIT, WEIGHT_LIMIT, IntegerConv, _exact_mode,  # noqa: F401
                                  fraction_bits_for, quantize_conv, round_shift)
    assert (ACT_LIMIT, WEIGHT_LIMIT, _EXACT_LIMIT) == ((1 << 20) - 1, (1 << 11) - 1, 1 << 53)
    assert isinstance(_exact_mode(torch.device("cpu")), contextlib.nullcontext)


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("f_in,f_out", [(8, 10), (10, 6), (3, 12)])
def test_quantize_conv_and_integer_conv_are_unchanged(index, f_in, f_out):
    layer, kwargs = legacy_layers()[index]
    old = old_quantize_conv(layer, f_in, f_out, **kwargs)
    new = I.quantize_conv(layer, f_in, f_out, **kwargs)
    assert type(new) is I.IntegerConv
    for name in ("weight", "bias", "shift"):
        assert torch.equal(getattr(old, name), getattr(new, name)), name
    assert (old.stride, old.transposed, old.relu, old.f_in, old.f_out, old.kernel) == \
        (new.stride, new.transposed, new.relu, new.f_in, new.f_out, new.kernel)
    assert old.accumulator_bound() == new.accumulator_bound()
    for a, b in zip(old.to_float(), new.to_float()):
        assert torch.equal(a, b)
    x = activations(index, 2, layer.in_channels, 7, 6)
    expected = old(x)
    assert torch.equal(new(x), expected)
    # the general graph node computes the same integers
    assert torch.equal(I.from_legacy(new)(x), expected)


def test_quantize_conv_still_refuses_inexact_layers():
    layer = nn.Conv2d(4, 2, 3, padding=1)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.fill_(100.0)   # exponent 40: the bias integer alone exceeds 2^53
    with pytest.raises(ValueError, match="2\\^53"):
        old_quantize_conv(layer, 8, 8, relu=False)
    with pytest.raises(ValueError, match="2\\^53"):
        I.quantize_conv(layer, 8, 8, relu=False)
    # the general quantizer lowers that channel's exponent instead (its weights are zero anyway)
    node = I.quantize_layer(layer, 8, 8)
    assert node.accumulator_bound() < 1 << 53
    assert node(torch.zeros(1, 4, 3, 3, dtype=torch.int64)).unique().tolist() == [100 << 8]


def test_round_shift_and_fraction_bits_for_are_unchanged():
    acc = activations(7, 3, 9, 4, 5) * 12345
    shift = torch.tensor([-3, -1, 0, 1, 2, 5, 13, 20, 31])
    assert torch.equal(I.round_shift(acc, shift), old_round_shift(acc, shift))
    for peak in [0.0, -1.0, 1e-9, 0.3, 1.0, 7.5, 16383.5, 1e6, 123.456]:
        for limit in [(1 << 15) - 1, 255, 1 << 20]:
            assert I.fraction_bits_for(peak, limit) == old_fraction_bits_for(peak, limit)
    assert I.fraction_bits_for(3.0) == old_fraction_bits_for(3.0)


def test_the_general_converter_reproduces_hand_wired_legacy_layers():
    """The image model's chain (deconv, ReLU, deconv, ReLU, conv), converted as a graph with the same fractions."""
    torch.manual_seed(1)
    h_s = nn.Sequential(nn.ConvTranspose2d(8, 12, 5, 2, 2, output_padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(12, 12, 5, 2, 2, output_padding=1), nn.ReLU(),
                        nn.Conv2d(12, 16, 3, 1, 1))
    fractions = [11, 10, 8]
    legacy, f_in = [], 8
    for i, (conv, f_out) in enumerate(zip([h_s[0], h_s[2], h_s[4]], fractions)):
        legacy.append(old_quantize_conv(conv, f_in, f_out, relu=i < 2))
        f_in = f_out
    z = torch.randn(2, 8, 3, 4)
    graph = I.convert(h_s, z, f_in=8, f_out=8, fractions={h_s[0]: 11, h_s[2]: 10})
    x = activations(3, 2, 8, 3, 4)
    expected = x
    for layer in legacy:
        expected = layer(expected)
    assert torch.equal(graph(x), expected)


SHIPPED_DIGEST = "c5d4bb580937a111664d89f285d04c4b7f78506f3b7aaa75c1c8b106b8a641b5"
SHIPPED_RESULT = "9fe6ab85157fec32e40f8d89e6eef6ce695ad0d3367773095e1ef0074b896e49"  # computed with the old module


def _shipped_weights() -> bytes | None:
    """The shipped weights file with SHIPPED_DIGEST, unpacked (files ship as .safetensors.xz)."""
    from codec.models import weights_file

    folder = Path(__file__).resolve().parents[1] / "codec" / "weights"
    for path in sorted(folder.glob("*.safetensors*")):
        data = weights_file.read_file(path)
        if hashlib.sha256(data).hexdigest() == SHIPPED_DIGEST:
            return data
    return None


@pytest.mark.parametrize("general", [False, True])
def test_shipped_integer_layers_give_the_recorded_integers(general):
    data = _shipped_weights()
    if data is None:
        pytest.skip("the model file the expectation was recorded with is not in codec/weights")
    from safetensors.torch import load

    from codec.zoo import weights_metadata

    meta = json.loads(weights_metadata(data)["layers"])
    t = load(data)

    def conv(name):
        m = meta[name]
        layer = I.IntegerConv(t[f"{name}.weight"].to(torch.int64), t[f"{name}.bias"], t[f"{name}.shift"],
                              m["stride"], m["transposed"], m["relu"], m["f_in"], m["f_out"])
        return I.from_legacy(layer) if general else layer

    hs = [conv(f"int.h_s.{i}") for i in range(3)]
    ep = [conv(f"int.ep.{i}") for i in range(3)]
    ctx = conv("int.context")
    g = torch.Generator().manual_seed(1234)
    x = (torch.randint(-6, 7, (1, 64, 3, 5), generator=g) * 256 + t["int.z_loc"].view(1, -1, 1, 1))
    x = x.clamp(-I.ACT_LIMIT, I.ACT_LIMIT)
    outs = []
    for layer in hs:
        x = layer(x)
        outs.append(x)
    y = (torch.randint(-20, 21, (1, 256, 12, 20), generator=g) * 256
         + torch.randint(-300, 300, (1, 256, 12, 20), generator=g))
    c = ctx(y)
    outs.append(c)
    e = torch.cat([x, c], 1)
    for layer in ep:
        e = layer(e)
        outs.append(e)
    digest = hashlib.sha256()
    for o in outs:
        digest.update(o.contiguous().numpy().tobytes())
    assert digest.hexdigest() == SHIPPED_RESULT


def test_exact_float_at_gives_the_dense_layers_integers_at_those_positions():
    """The checkerboard context's gathered product (half the taps, half the positions) is the same layer."""
    g = torch.Generator().manual_seed(7)
    conv = nn.Conv2d(6, 5, 5, padding=2)
    mask = torch.tensor([[(i + j) % 2 for j in range(5)] for i in range(5)], dtype=torch.float32)
    layer = I.quantize_conv(conv, 8, 6, relu=False, weight_mask=mask.view(1, 1, 5, 5))
    x = torch.randint(-I.ACT_LIMIT, I.ACT_LIMIT + 1, (2, 6, 7, 9), generator=g).to(torch.float64)
    dense = layer.exact_float(x)
    where = torch.rand(7, 9, generator=g) < 0.5
    rows, cols = where.nonzero(as_tuple=True)
    assert torch.equal(layer.exact_float_at(x, rows, cols), dense[:, :, where])
    assert len(layer.__dict__["_float_cache"][x.device]["taps"]) == 12
