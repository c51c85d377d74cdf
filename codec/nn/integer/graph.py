"""From a float torch module to an exact integer graph: calibration, quantization, serialization.

``convert(float_module, calibration_batches)`` is the one float-to-integer
step of a model. It runs the calibration inputs through the float module with
forward hooks recording every module's output peak, chooses the fraction bits
of every tensor with :func:`fraction_bits_for`, quantizes every weighted layer
(:func:`quantize_layer`) and returns an :class:`IntegerModule`: a callable on
int64 tensors that serializes to a flat dict of integer tensors plus a small
JSON spec (:meth:`IntegerModule.state`, :meth:`IntegerModule.from_state`).

Supported float modules (anything else raises ``TypeError``):

- ``nn.Conv1d``, ``nn.Conv2d`` (zero padding; any stride, dilation, groups;
  a ``kernel_mask`` attribute multiplies the kernel), ``CausalConv1d``;
- ``nn.ConvTranspose1d``, ``nn.ConvTranspose2d`` (``padding <= dilation*(k-1)``);
- ``nn.Linear``;
- ``nn.ReLU``, ``nn.LeakyReLU`` (slope in [0, 1]), ``nn.PixelShuffle``,
  ``nn.PixelUnshuffle``, ``nn.Identity``, ``nn.Dropout`` (as identity),
  ``nn.Flatten``, zero ``nn.ZeroPad1d/2d``, ``nn.ConstantPad1d/2d`` (value 0);
- containers ``nn.Sequential`` and :class:`Residual`, :class:`Concat`,
  :class:`Parallel` (:mod:`codec.nn.integer.layers`).

Fraction bits: a weighted layer's, a residual's and an add-merge's output gets
``fraction_bits_for(peak)`` of its float output over the calibration data
(a layer followed by ReLU: of the pre-activation output); activations,
shuffles and pads keep their input's; a concatenation takes the smallest of
its branches' and has each branch's last layer produce it directly, so only
branches without a layer of their own (an identity) are rounded. ``f_out``
forces the graph's output fraction bits the same way, and ``fractions``
forces those of chosen modules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from codec.nn.integer import functional as IF
from codec.nn.integer.arith import (ACT_LIMIT, WEIGHT_LIMIT, fraction_bits_for, from_fixed,
                                    narrowest_int, to_fixed)
from codec.nn.integer.layers import CausalConv1d, Concat, Parallel, Residual
from codec.nn.integer.ops import (IntConcat, IntConv, IntFlatten, IntIdentity, IntLeakyReLU, IntLinear, IntNode,
                                  IntPad, IntParallel, IntPixelShuffle, IntPixelUnshuffle, IntReLU, IntRescale,
                                  IntResidual, IntSequential, node_from_spec)

FORMAT = "nmc-integer-graph"
VERSION = 1
_BIAS_LIMIT = 1 << 51  # a bias integer larger than this would leave little room below 2^53 for the products

_PASS_THROUGH = (nn.ReLU, nn.LeakyReLU, nn.PixelShuffle, nn.PixelUnshuffle, nn.Identity, nn.Dropout, nn.Flatten,
                 nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d)


# -- quantizing one layer ----------------------------------------------------------------------


def quantize_weights(weight: torch.Tensor, bias: torch.Tensor | None, f_in: int,
                     weight_limit: int = WEIGHT_LIMIT) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer weights, biases and per-output-channel exponents ``e`` for float ``weight`` (C_out, ...).

    ``e_o`` is the largest exponent keeping ``|round(w * 2^e_o)| <= weight_limit``
    (clamped to [-30, 40], the rule of the legacy layers), lowered where needed
    to keep the bias integer ``round(b * 2^(e_o + f_in))`` within 2^51 (a
    channel with tiny or zero weights and a large bias). Rounding is half to
    even (``torch.round``); this runs once, at conversion, and is not part of
    decoding.
    """
    w = weight.detach().to(torch.float64)
    c = w.shape[0]
    peak = w.abs().reshape(c, -1).amax(dim=1).clamp_min(1e-30)
    exponent = torch.floor(torch.log2(weight_limit / peak)).to(torch.int64).clamp(-30, 40)
    b = torch.zeros(c, dtype=torch.float64) if bias is None else bias.detach().to(torch.float64)
    big = b.abs() * 2.0 ** f_in
    cap = torch.where(big > 0, torch.floor(torch.log2(_BIAS_LIMIT / big.clamp_min(1e-300))),
                      torch.full_like(big, 1e9)).clamp(-1e9, 1e9).to(torch.int64)
    exponent = torch.minimum(exponent, cap)
    scale = torch.pow(2.0, exponent.to(torch.float64))
    w_int = torch.round(w * scale.view(-1, *([1] * (w.dim() - 1)))).to(torch.int64)
    if w_int.numel() and int(w_int.abs().max()) > weight_limit:
        raise ValueError("weights too large to quantize (exponent clamped at -30)")
    b_int = torch.round(b * scale * 2.0 ** f_in).to(torch.int64)
    return w_int, b_int, exponent


def _conv_geometry(layer: nn.Module) -> dict:
    if layer.padding_mode != "zeros":
        raise TypeError(f"only zero-padded convolutions are supported, not padding_mode={layer.padding_mode!r}")
    dims = len(layer.kernel_size)
    if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        pads = []
        for k, d, p, q in zip(layer.kernel_size, layer.dilation, layer.padding, layer.output_padding):
            if p > d * (k - 1):
                raise ValueError("transposed convolutions need padding <= dilation * (kernel - 1)")
            pads.append((d * (k - 1) - p, d * (k - 1) - p + q))
        return {"upsample": layer.stride, "stride": 1, "dilation": layer.dilation, "pads": pads, "transposed": True}
    if isinstance(layer, CausalConv1d):
        pads = [(layer.causal_padding, 0)]
    else:
        flat = layer._reversed_padding_repeated_twice  # torch order: last dimension first, (before, after)
        pads = [(flat[2 * i], flat[2 * i + 1]) for i in range(dims)][::-1]
    return {"upsample": 1, "stride": layer.stride, "dilation": layer.dilation, "pads": pads, "transposed": False}


def quantize_layer(layer: nn.Module, f_in: int, f_out: int, *, weight_limit: int = WEIGHT_LIMIT) -> IntNode:
    """Quantize one float ``Conv1d/2d``, ``ConvTranspose1d/2d``, ``CausalConv1d`` or ``Linear``.

    Raises ``ValueError`` if the layer's accumulator could reach 2^53 for
    inputs within ``ACT_LIMIT`` (then use fewer weight bits or fewer inputs
    per output).
    """
    if isinstance(layer, nn.Linear):
        w, b, e = quantize_weights(layer.weight, layer.bias, f_in, weight_limit)
        return IntLinear(w, b, e + f_in - f_out, f_in=f_in, f_out=f_out)
    if not isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        raise TypeError(f"cannot quantize {type(layer).__name__}")
    geometry = _conv_geometry(layer)
    w = layer.weight.detach().to(torch.float64)
    groups = layer.groups
    if geometry["transposed"]:  # (C_in, C_out/G, k..) -> correlation form (C_out, C_in/G, k..)
        w = w.flip(list(range(2, w.dim())))
        per_group = w.shape[0] // groups
        w = torch.cat([w[g * per_group:(g + 1) * per_group].transpose(0, 1) for g in range(groups)], 0)
    mask = getattr(layer, "kernel_mask", None)
    if isinstance(mask, torch.Tensor):
        if geometry["transposed"]:
            raise TypeError("kernel masks are supported on plain convolutions only")
        w = w * mask.to(torch.float64)
    w_int, b_int, e = quantize_weights(w, layer.bias, f_in, weight_limit)
    return IntConv(w_int, b_int, e + f_in - f_out, f_in=f_in, f_out=f_out, groups=groups, **geometry)


# -- calibration -------------------------------------------------------------------------------


@dataclass
class Calibration:
    """Peaks (largest magnitude) of every module's output and of the inputs over the calibration data."""

    peaks: dict[int, float] = field(default_factory=dict)   # id(module) -> peak of its output
    input_peaks: list[float] = field(default_factory=list)  # per input tensor of the root module

    def peak(self, module: nn.Module) -> float:
        try:
            return self.peaks[id(module)]
        except KeyError:
            raise ValueError(f"{type(module).__name__} did not run during calibration") from None


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _batches(batches) -> list:
    if isinstance(batches, torch.Tensor):
        return [batches]
    return list(batches)


def calibrate(module: nn.Module, batches, calibration: Calibration | None = None) -> Calibration:
    """Run ``batches`` through ``module`` (eval mode, no grad) recording output peaks with forward hooks.

    ``batches``: a tensor, or an iterable of batches, each a tensor or a tuple
    of tensors (one per input of a multi-input module). Passing a previous
    ``calibration`` accumulates into it.
    """
    cal = calibration or Calibration()

    def record(m, _inputs, output):
        peaks = [float(t.detach().abs().max()) for t in _tensors(output) if t.numel()]
        if peaks:
            cal.peaks[id(m)] = max(cal.peaks.get(id(m), 0.0), *peaks)

    def record_inputs(_m, inputs):
        peaks = [float(t.detach().abs().max()) if t.numel() else 0.0 for t in _tensors(inputs)]
        if not cal.input_peaks:
            cal.input_peaks = peaks
        else:
            cal.input_peaks = [max(a, b) for a, b in zip(cal.input_peaks, peaks)]

    handles = [m.register_forward_hook(record) for m in module.modules()]
    handles.append(module.register_forward_pre_hook(record_inputs))
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        with torch.no_grad():
            for batch in _batches(batches):
                module(tuple(batch) if isinstance(batch, list) else batch)  # Parallel takes a tuple
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.train(mode)
    return cal


# -- conversion ----------------------------------------------------------------------------------


def _preserves_fraction(m: nn.Module) -> bool:
    if isinstance(m, nn.Sequential):
        return all(_preserves_fraction(c) for c in m)
    return isinstance(m, _PASS_THROUGH)


@dataclass
class _Converter:
    calibration: Calibration
    fractions: Mapping[int, int]
    weight_limit: int
    limit: int

    def natural(self, m: nn.Module) -> int:
        if id(m) in self.fractions:
            return self.fractions[id(m)]
        return fraction_bits_for(self.calibration.peak(m), self.limit)

    def choose(self, m: nn.Module, target: int | None) -> int:
        if id(m) in self.fractions:
            return self.fractions[id(m)]
        return target if target is not None else self.natural(m)

    def convert(self, m: nn.Module, f_in, target: int | None) -> IntNode:
        if isinstance(m, nn.Sequential):
            return self.sequential(m, f_in, target)
        if isinstance(m, Parallel):
            if not isinstance(f_in, (tuple, list)) or len(f_in) != len(m.branches):
                raise ValueError(f"Parallel with {len(m.branches)} branches needs as many input fraction bits")
            return self.fan(m, list(f_in), target, IntParallel)
        if isinstance(f_in, (tuple, list)):
            raise ValueError(f"{type(m).__name__} takes one input; only Parallel takes several")
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)):
            return quantize_layer(m, f_in, self.choose(m, target), weight_limit=self.weight_limit)
        if isinstance(m, Residual):
            body = self.convert(m.body, f_in, None)
            shortcut = None if m.shortcut is None else self.convert(m.shortcut, f_in, None)
            return IntResidual(body, shortcut, self.choose(m, target), f_in)
        if isinstance(m, Concat):
            return self.fan(m, [f_in] * len(m.branches), target, IntConcat)
        return self.leaf(m, f_in)

    def sequential(self, m: nn.Sequential, f_in, target):
        children = list(m.named_children())
        if not children:
            return IntIdentity(f_in)
        # The last child that sets fraction bits produces `target` itself when nothing after it rescales.
        last = max((i for i, (_, c) in enumerate(children) if not _preserves_fraction(c)), default=-1)
        nodes, f = [], f_in
        for i, (_, child) in enumerate(children):
            node = self.convert(child, f, target if i == last else None)
            nodes.append(node)
            f = node.f_out
        names = [name for name, _ in children]
        if target is not None and f != target:
            nodes.append(IntRescale(f, target))
            names.append(f"rescale{len(names)}")
        return IntSequential(nodes, names)

    def fan(self, m, f_ins: list, target, node_cls):
        add = node_cls is IntParallel and m.merge == "add"
        branches = [self.convert(b, f, None) for b, f in zip(m.branches, f_ins)]
        if add:
            return IntParallel(branches, self.choose(m, target), "add", m.dim)
        f_out = self.choose(m, target if target is not None else min(b.f_out for b in branches))
        # Let every branch that can produce f_out directly do so (one rounding instead of two).
        branches = [b if b.f_out == f_out else self.convert(mb, f, f_out)
                    for b, mb, f in zip(branches, m.branches, f_ins)]
        if node_cls is IntParallel:
            return IntParallel(branches, f_out, "concat", m.dim)
        return IntConcat(branches, f_out, m.dim, f_ins[0])

    def leaf(self, m: nn.Module, f: int) -> IntNode:
        if isinstance(m, nn.ReLU):
            return IntReLU(f)
        if isinstance(m, nn.LeakyReLU):
            return IntLeakyReLU(f, *IF.leaky_slope(float(m.negative_slope)))
        if isinstance(m, nn.PixelShuffle):
            return IntPixelShuffle(f, m.upscale_factor)
        if isinstance(m, nn.PixelUnshuffle):
            return IntPixelUnshuffle(f, m.downscale_factor)
        if isinstance(m, (nn.Identity, nn.Dropout)):
            return IntIdentity(f)
        if isinstance(m, nn.Flatten):
            return IntFlatten(f, m.start_dim, m.end_dim)
        if isinstance(m, (nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d)):
            if float(m.value) != 0.0:
                raise TypeError("only zero padding is supported")
            flat = list(m.padding)
            return IntPad(f, [(flat[2 * i], flat[2 * i + 1]) for i in range(len(flat) // 2)][::-1])
        raise TypeError(f"no integer version of {type(m).__name__}; supported: convolutions, Linear, ReLU, "
                        "LeakyReLU, PixelShuffle/Unshuffle, zero pads, Sequential, Residual, Concat, Parallel")


def convert(module: nn.Module, batches=None, *, calibration: Calibration | None = None,
            f_in: int | Iterable[int] | None = None, f_out: int | None = None,
            fractions: Mapping[nn.Module, int] | None = None, weight_bits: int = 12,
            limit: int = (1 << 15) - 1) -> "IntegerModule":
    """The integer twin of float ``module``, calibrated on ``batches`` (see :func:`calibrate`).

    ``f_in``: the input's fraction bits (a list for a :class:`Parallel` root);
    by default chosen from the calibration inputs' peaks. ``f_out``: force the
    output's fraction bits. ``fractions``: force the output fraction bits of
    given submodules (e.g. so two graphs' outputs share a fraction).
    ``weight_bits``: signed weight integers within ``+-(2^(weight_bits-1) - 1)``.
    ``limit``: activations are planned to peak below ``limit / 2`` (saturation
    is at ``ACT_LIMIT``, which leaves further headroom).
    """
    if calibration is None:
        if batches is None:
            raise ValueError("convert needs calibration batches or a Calibration")
        calibration = calibrate(module, batches)
    elif batches is not None:
        calibration = calibrate(module, batches, calibration)
    if not 2 <= weight_bits <= 32:
        raise ValueError("weight_bits must be in [2, 32]")
    if f_in is None:
        fs = [fraction_bits_for(p, limit) for p in calibration.input_peaks]
        if not fs:
            raise ValueError("no calibration inputs recorded; pass f_in")
        f_in = fs[0] if len(fs) == 1 else fs
    elif not isinstance(f_in, int):
        f_in = [int(f) for f in f_in]
    converter = _Converter(calibration, {id(m): int(f) for m, f in (fractions or {}).items()},
                           (1 << (weight_bits - 1)) - 1, limit)
    root = converter.convert(module, f_in, f_out)
    return IntegerModule(root)


# -- the integer module --------------------------------------------------------------------------


class IntegerModule:
    """An exact integer graph: call it on int64 activations, serialize it as integers plus a JSON spec."""

    def __init__(self, root: IntNode) -> None:
        self.root = root

    @property
    def f_in(self):
        return self.root.f_in

    @property
    def f_out(self) -> int:
        return self.root.f_out

    def __call__(self, *xs: torch.Tensor) -> torch.Tensor:
        """Integer inputs (int64, ``f_in`` fraction bits) -> integer output (``f_out`` fraction bits)."""
        if isinstance(self.f_in, list):  # a Parallel node takes the inputs
            if len(xs) == 1 and isinstance(xs[0], (tuple, list)):
                xs = tuple(xs[0])
            return self.root(xs)
        if len(xs) != 1:
            raise ValueError("this integer module takes one input")
        return self.root(xs[0])

    def quantize_inputs(self, *xs: torch.Tensor):
        """Float inputs to activations with the graph's input fraction bits (:func:`to_fixed`)."""
        fs = self.f_in if isinstance(self.f_in, list) else [self.f_in]
        out = [to_fixed(x, f) for x, f in zip(xs, fs)]
        return out[0] if len(out) == 1 else tuple(out)

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        """Convenience: quantize float inputs, run the integer graph, return the output's float value."""
        q = self.quantize_inputs(*xs)
        y = self(*q) if isinstance(q, tuple) else self(q)
        return from_fixed(y, self.f_out)

    def named_nodes(self):
        return self.root.named_nodes()

    def node(self, path: str) -> IntNode:
        for name, node in self.root.named_nodes():
            if name == path:
                return node
        raise KeyError(path)

    def accumulator_bound(self) -> int:
        """The largest accumulator bound of any weighted layer (always below 2^53)."""
        return max((n.accumulator_bound() for _, n in self.named_nodes() if hasattr(n, "accumulator_bound")),
                   default=0)

    # serialization
    def spec(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "act_limit": ACT_LIMIT, "root": self.root.spec()}

    def state(self, compact: bool = True) -> tuple[dict[str, torch.Tensor], dict]:
        """``(tensors, spec)``: integer tensors keyed by node path (``"2.body.0.weight"``) and the JSON-able spec.

        ``compact`` stores each tensor in the narrowest integer type holding its
        values (weights usually int16 or int8, shifts int8); loading widens them
        to int64.
        """
        tensors = {}
        for path, node in self.named_nodes():
            for name, t in node.tensors().items():
                key = f"{path}.{name}" if path else name
                tensors[key] = (narrowest_int(t) if compact else t.to(torch.int64)).contiguous()
        return tensors, self.spec()

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], spec: dict) -> "IntegerModule":
        """Rebuild and validate (raises ``ValueError`` on any inconsistency, including accumulator bounds)."""
        if not isinstance(spec, dict) or spec.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} spec")
        if spec.get("version") != VERSION:
            raise ValueError(f"unsupported {FORMAT} version {spec.get('version')!r}")
        if spec.get("act_limit", ACT_LIMIT) != ACT_LIMIT:
            raise ValueError("spec was made for another activation limit")
        ints = {}
        for k, t in tensors.items():
            if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
                raise ValueError(f"tensor {k} is not an integer tensor")
            ints[k] = t.to(torch.int64)
        module = cls(node_from_spec(spec["root"], ints))
        used = {f"{p}.{n}" if p else n for p, node in module.named_nodes() for n in node.tensors()}
        extra = set(ints) - used
        if extra:
            raise ValueError(f"tensors not used by the spec: {sorted(extra)[:3]}")
        return module

    def to_bytes(self) -> bytes:
        """A safetensors file: the compact integer tensors, the spec as JSON in its metadata."""
        from safetensors.torch import save

        tensors, spec = self.state()
        return save(tensors, metadata={FORMAT: json.dumps(spec, separators=(",", ":"))})

    @classmethod
    def from_bytes(cls, data: bytes) -> "IntegerModule":
        import struct

        from safetensors.torch import load

        try:
            (n,) = struct.unpack_from("<Q", data)
            spec = json.loads(json.loads(data[8:8 + n])["__metadata__"][FORMAT])
        except (struct.error, ValueError, KeyError, TypeError):
            raise ValueError(f"not an {FORMAT} safetensors file") from None
        return cls.from_state(load(data), spec)

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> "IntegerModule":
        return cls.from_bytes(Path(path).read_bytes())

    def __repr__(self) -> str:
        lines = [f"IntegerModule(f_in={self.f_in}, f_out={self.f_out})"]
        for path, node in self.named_nodes():
            if path:
                lines.append(f"  {path}: {node!r}")
        return "\n".join(lines)


def dequantize_into(module: nn.Module, integer: IntegerModule) -> None:
    """Copy the float values of ``integer``'s weights into the matching layers of float ``module``.

    Why: training (or an encoder's rate-distortion search) can continue from
    the exact weights a file or model ships, which exist only as integers.
    """
    nodes = dict(integer.named_nodes())
    with torch.no_grad():
        for path, m in module.named_modules():
            node = nodes.get(path)
            if isinstance(node, (IntConv, IntLinear)):
                w, b = node.to_float()
                if w.shape != m.weight.shape:
                    raise ValueError(f"{path}: integer weight {tuple(w.shape)} does not fit {tuple(m.weight.shape)}")
                m.weight.copy_(w.to(m.weight.dtype))
                if m.bias is not None:
                    m.bias.copy_(b.to(m.bias.dtype))

