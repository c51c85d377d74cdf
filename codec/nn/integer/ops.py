"""Integer graph nodes: exact layers with their parameters, fraction bits and serialization.

Each node maps int64 activations with ``f_in`` fraction bits to int64
activations with ``f_out`` fraction bits; its docstring gives the exact
integer result (notation of :mod:`codec.nn.integer.arith`). Containers
(:class:`IntSequential`, :class:`IntResidual`, :class:`IntConcat`,
:class:`IntParallel`) hold child nodes. A node serializes as a JSON-able
``spec()`` (its kind, hyper-parameters, fraction bits and its children's
specs) plus ``tensors()`` (its own integer tensors, named ``weight``,
``bias``, ``shift``); :func:`node_from_spec` rebuilds and validates it.

Exactness of the accumulation: convolutions and linear layers multiply
integers held in float64. Every product and every partial sum, in any order,
is bounded by ``accumulator_bound() < 2^53`` (checked when a node is built or
loaded), so float64 holds each exactly and every BLAS, thread count or GPU
gives the same sums. cuDNN is bypassed on CUDA (``_exact_mode``): some of its
algorithms (FFT, Winograd) transform the operands and are not exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from codec.nn.integer import functional as IF
from codec.nn.integer.arith import _EXACT_LIMIT, ACT_LIMIT, _exact_mode, requantize

_KINDS: dict[str, type["IntNode"]] = {}


def _register(cls):
    _KINDS[cls.kind] = cls
    return cls


def _ints(values, n: int | None = None, name: str = "value") -> tuple[int, ...]:
    if isinstance(values, int):
        values = (values,) * (n or 1)
    out = tuple(int(v) for v in values)
    if n is not None and len(out) != n:
        raise ValueError(f"{name} needs {n} entries, got {out}")
    return out


class IntNode:
    """Base of the integer graph nodes."""

    kind = ""
    f_in: int
    f_out: int

    def __call__(self, x):
        raise NotImplementedError

    def spec(self) -> dict:
        return {"kind": self.kind, "f_in": self.f_in, "f_out": self.f_out}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def children(self) -> list[tuple[str, "IntNode"]]:
        return []

    def named_nodes(self, prefix: str = "") -> Iterator[tuple[str, "IntNode"]]:
        """This node and all nodes below it, with dotted paths that mirror the float module's."""
        yield prefix, self
        for name, child in self.children():
            if child is not None:
                yield from child.named_nodes(f"{prefix}.{name}" if prefix else name)

    @classmethod
    def from_spec(cls, spec: dict, tensors: dict[str, torch.Tensor], prefix: str) -> "IntNode":
        raise NotImplementedError

    def validate(self) -> None:
        """Raise ``ValueError`` unless the node's parameters are consistent and its arithmetic exact."""

    def __repr__(self) -> str:
        shape = f", weight={tuple(self.weight.shape)}" if hasattr(self, "weight") else ""
        return f"{type(self).__name__}(f_in={self.f_in}, f_out={self.f_out}{shape})"


# -- weighted layers ---------------------------------------------------------------------------


class _Weighted(IntNode):
    weight: torch.Tensor
    bias: torch.Tensor
    shift: torch.Tensor

    def _init_weights(self, weight, bias, shift) -> None:
        self.weight = torch.as_tensor(weight).to(torch.int64)
        out_channels = self.weight.shape[0]
        self.bias = (torch.zeros(out_channels, dtype=torch.int64) if bias is None
                     else torch.as_tensor(bias).to(torch.int64).reshape(-1))
        self.shift = torch.as_tensor(shift).to(torch.int64).reshape(-1)
        if self.shift.numel() == 1 and out_channels != 1:
            self.shift = self.shift.expand(out_channels).clone()
        self._float_cache: dict = {}

    def _prepare_finish(self) -> None:
        """Decide whether the rescaling may run in float64 (see :meth:`_finish`)."""
        half = torch.where(self.shift > 0, torch.ones_like(self.shift) << (self.shift - 1).clamp(0, 51),
                           torch.zeros_like(self.shift))
        per_channel = self.weight.abs().flatten(1).sum(1) * ACT_LIMIT + self.bias.abs() + half
        self._float_finish = bool(self.shift.numel() == 0 or (int(self.shift.max()) <= 52
                                                              and int(per_channel.max()) < _EXACT_LIMIT))
        self._half = half

    def _finish_terms(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = ("finish", device)
        terms = self._float_cache.get(key)
        if terms is None:
            scale = torch.tensor([math.ldexp(1.0, -int(s)) for s in self.shift.tolist()], dtype=torch.float64)
            offset = (self.bias + self._half).to(torch.float64) * scale
            terms = (offset.to(device), scale.to(device))
            self._float_cache[key] = terms
        return terms

    def _finish(self, acc: torch.Tensor, channel_dim: int) -> torch.Tensor:
        """``requantize(acc + b, s)`` per output channel, from the exact float64 sums ``acc``.

        Where every ``|acc + b| + 2^(s-1)`` stays below 2^53 and ``s <= 52``,
        this runs in float64 without leaving it: ``(acc + b + 2^(s-1)) * 2^-s``
        is then exact (scaling by a power of two is exact), so ``floor`` of it
        is exactly ``round_shift``; clamping and converting an integer below
        2^21 are exact too. Otherwise it runs in int64. Both give the same integers.
        """
        shape = [1] * acc.dim()
        shape[channel_dim] = -1
        if self._float_finish:
            offset, scale = self._finish_terms(acc.device)
            y = torch.addcmul(offset.view(shape), acc, scale.view(shape))
            return y.floor_().clamp_(-ACT_LIMIT, ACT_LIMIT).to(torch.int64)
        total = acc.to(torch.int64) + self.bias.to(acc.device).view(shape)
        return requantize(total, self.shift, channel_dim)

    def accumulator_bound(self, input_limit: int = ACT_LIMIT) -> int:
        """Largest ``|acc|`` any input within ``+-input_limit`` can produce (partial sums included)."""
        per_channel = self.weight.abs().flatten(1).sum(1) * input_limit + self.bias.abs()
        return int(per_channel.max()) if per_channel.numel() else 0

    @property
    def exponent(self) -> torch.Tensor:
        """Per-output-channel weight exponent ``e_o = s_o - f_in + f_out`` (weight value = w / 2^e_o)."""
        return self.shift - self.f_in + self.f_out

    def _check_weights(self) -> None:
        c = self.weight.shape[0]
        if self.bias.shape != (c,) or self.shift.shape != (c,):
            raise ValueError(f"{self.kind}: bias and shift need {c} entries, got {tuple(self.bias.shape)} "
                             f"and {tuple(self.shift.shape)}")
        if self.weight.numel() and int(self.weight.abs().max()) >= 1 << 31:
            raise ValueError(f"{self.kind}: weights must be below 2^31 in magnitude")
        if self.bias.numel() and int(self.bias.abs().max()) >= _EXACT_LIMIT:
            raise ValueError(f"{self.kind}: biases must be below 2^53 in magnitude")
        if self.accumulator_bound() >= _EXACT_LIMIT:
            raise ValueError(f"{self.kind}: integer layer could exceed 2^53 in its accumulator")
        self._prepare_finish()

    def _weight_on(self, device: torch.device, key: str, make) -> torch.Tensor:
        cache_key = (key, device)
        cached = self._float_cache.get(cache_key)
        if cached is None:
            cached = make().to(device=device, dtype=torch.float64).contiguous()
            self._float_cache[cache_key] = cached
        return cached

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight, "bias": self.bias, "shift": self.shift}

    def float_bias(self) -> torch.Tensor:
        """The float bias this layer stands for: ``b / 2^(e_o + f_in)``."""
        e = (self.exponent + self.f_in).to(torch.float64)
        return (self.bias.to(torch.float64) * torch.pow(2.0, -e)).to(torch.float32)


@_register
class IntConv(_Weighted):
    """Exact integer 1-D or 2-D convolution: plain, strided, dilated, grouped/depthwise, transposed, causal.

    Parameters (``D`` = 1 or 2 spatial dimensions): ``weight`` int
    ``(C_out, C_in/G, k_1..k_D)`` in correlation form (a transposed
    convolution is stored with its kernel flipped and its in/out channels
    swapped within each group), ``bias`` and ``shift`` int ``(C_out,)``,
    ``groups`` ``G``, and per dimension ``upsample`` ``u``, ``pads``
    ``(before, after)``, ``stride`` ``t`` and ``dilation`` ``d``.

    For input ``x`` int ``(N, C_in, L_1..L_D)``:

    1. zero insertion: ``z[.., u*p] = x[.., p]``, other entries 0
       (length ``u*(L-1)+1``; ``u = 1`` leaves ``x`` as is);
    2. zero padding: ``before`` zeros in front of and ``after`` zeros behind ``z``;
    3. ``acc[n][o][r] = b[o] + sum_{i < C_in/G} sum_k w[o][i][k] * z[n][g*C_in/G + i][t*r + d*k]``
       with ``g = floor(o / (C_out/G))``, for ``r = 0 .. floor((len(z) - d*(k-1) - 1) / t)``
       (``r``, ``k`` multi-indices over the ``D`` dimensions);
    4. ``y[n][o][r] = requantize(acc[n][o][r], s[o])``.

    A float ``ConvTranspose(stride S, padding P, output_padding Q, dilation d)``
    is ``u = S``, ``t = 1``, ``before = d*(k-1) - P``, ``after = d*(k-1) - P + Q``;
    a causal 1-D convolution is ``pads = (d*(k-1), 0)``. ``transposed`` only
    records the float layer's weight layout (for :meth:`to_float`).
    """

    kind = "conv"

    def __init__(self, weight, bias, shift, *, f_in: int, f_out: int, stride=1, dilation=1, upsample=1,
                 pads=None, groups: int = 1, transposed: bool = False) -> None:
        self._init_weights(weight, bias, shift)
        self.dims = self.weight.dim() - 2
        if self.dims not in (1, 2):
            raise ValueError(f"conv weights need 3 or 4 dimensions, got {tuple(self.weight.shape)}")
        self.stride = _ints(stride, self.dims, "stride")
        self.dilation = _ints(dilation, self.dims, "dilation")
        self.upsample = _ints(upsample, self.dims, "upsample")
        kernel = self.weight.shape[2:]
        if pads is None:  # 'same' for odd kernels, like the legacy layers: k//2 before and after
            pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, self.dilation)]
        self.pads = tuple(_ints(p, 2, "pads") for p in pads)
        self.groups = int(groups)
        self.transposed = bool(transposed)
        self.f_in, self.f_out = int(f_in), int(f_out)
        self.validate()
        self._fast_transposed = self._transposed_parameters()

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(self.weight.shape[2:])

    @property
    def in_channels(self) -> int:
        return self.weight.shape[1] * self.groups

    def validate(self) -> None:
        if len(self.pads) != self.dims:
            raise ValueError(f"conv needs one (before, after) pad per dimension, got {self.pads}")
        if min(self.stride + self.dilation + self.upsample) < 1 or min(sum(self.pads, ())) < 0:
            raise ValueError("conv strides, dilations and upsampling factors must be >= 1 and pads >= 0")
        if self.groups < 1 or self.weight.shape[0] % self.groups:
            raise ValueError(f"conv with {self.weight.shape[0]} outputs cannot have {self.groups} groups")
        self._check_weights()

    def _transposed_parameters(self):
        """(padding, output_padding) for computing this layer with ``conv_transpose``, or None.

        ``conv_transpose`` skips the multiplications by inserted zeros; it sums
        exactly the same products, so the integers are the same.
        """
        if max(self.upsample) == 1 or max(self.stride) > 1:
            return None
        padding, output_padding = [], []
        for k, d, u, (lo, hi) in zip(self.kernel, self.dilation, self.upsample, self.pads):
            p, q = d * (k - 1) - lo, hi - lo
            if p < 0 or not 0 <= q < max(u, d):
                return None
            padding.append(p)
            output_padding.append(q)
        return tuple(padding), tuple(output_padding)

    def _transposed_weight(self) -> torch.Tensor:
        """The weight in ``conv_transpose`` layout (C_in, C_out/G, k..): per group, swap in/out and flip."""
        w = self.weight.flip(list(range(2, 2 + self.dims)))
        per_group = w.shape[0] // self.groups
        return torch.cat([w[g * per_group:(g + 1) * per_group].transpose(0, 1) for g in range(self.groups)], 0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: int64 (N, C_in, L..) -> int64 (N, C_out, L'..)."""
        conv = F.conv1d if self.dims == 1 else F.conv2d
        xf = x.to(torch.float64)
        with _exact_mode(x.device):
            if self._fast_transposed is not None:
                padding, output_padding = self._fast_transposed
                w = self._weight_on(x.device, "transposed", self._transposed_weight)
                deconv = F.conv_transpose1d if self.dims == 1 else F.conv_transpose2d
                acc = deconv(xf, w, stride=self.upsample, padding=padding, output_padding=output_padding,
                             groups=self.groups, dilation=self.dilation)
            else:
                w = self._weight_on(x.device, "weight", lambda: self.weight)
                xf = IF.zero_insert(xf, self.upsample)
                if all(lo == hi for lo, hi in self.pads):
                    padding = tuple(lo for lo, _ in self.pads)
                else:
                    xf, padding = IF.zero_pad(xf, self.pads), 0
                acc = conv(xf, w, stride=self.stride, padding=padding, dilation=self.dilation, groups=self.groups)
        return self._finish(acc, 1)

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """The same result by the definition's steps (zero insertion, padding, correlation), for tests."""
        xf = IF.zero_pad(IF.zero_insert(x.to(torch.float64), self.upsample), self.pads)
        conv = F.conv1d if self.dims == 1 else F.conv2d
        with _exact_mode(x.device):
            acc = conv(xf, self.weight.to(x.device, torch.float64), stride=self.stride, dilation=self.dilation,
                       groups=self.groups)
        acc = acc.to(torch.int64) + self.bias.to(x.device).view(1, -1, *([1] * self.dims))
        return requantize(acc, self.shift, channel_dim=1)

    def to_float(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The float weight (in the float layer's layout: transposed if ``transposed``) and bias."""
        scale = torch.pow(2.0, -self.exponent.to(torch.float64)).view(-1, *([1] * (self.dims + 1)))
        w = self.weight.to(torch.float64) * scale
        if self.transposed:
            w = w.flip(list(range(2, 2 + self.dims)))
            per_group = w.shape[0] // self.groups
            w = torch.cat([w[g * per_group:(g + 1) * per_group].transpose(0, 1) for g in range(self.groups)], 0)
        return w.to(torch.float32), self.float_bias()

    def spec(self) -> dict:
        return {**super().spec(), "stride": list(self.stride), "dilation": list(self.dilation),
                "upsample": list(self.upsample), "pads": [list(p) for p in self.pads], "groups": self.groups,
                "transposed": self.transposed}

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        return cls(tensors[f"{prefix}weight"], tensors[f"{prefix}bias"], tensors[f"{prefix}shift"],
                   f_in=spec["f_in"], f_out=spec["f_out"], stride=spec["stride"], dilation=spec["dilation"],
                   upsample=spec["upsample"], pads=spec["pads"], groups=spec["groups"],
                   transposed=spec.get("transposed", False))


@_register
class IntLinear(_Weighted):
    """Exact integer linear layer (matrix product) over the last dimension.

    ``weight`` int ``(C_out, C_in)``, ``bias``, ``shift`` int ``(C_out,)``. For
    ``x`` int ``(.., C_in)``: ``acc[.., o] = b[o] + sum_i w[o][i] * x[.., i]``,
    ``y[.., o] = requantize(acc[.., o], s[o])``. A 1x1 convolution is the same
    arithmetic over dimension 1.
    """

    kind = "linear"

    def __init__(self, weight, bias, shift, *, f_in: int, f_out: int) -> None:
        self._init_weights(weight, bias, shift)
        self.f_in, self.f_out = int(f_in), int(f_out)
        self.validate()

    def validate(self) -> None:
        if self.weight.dim() != 2:
            raise ValueError(f"linear weights need 2 dimensions, got {tuple(self.weight.shape)}")
        self._check_weights()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        w = self._weight_on(x.device, "weight", lambda: self.weight)
        return self._finish(F.linear(x.to(torch.float64), w), -1)

    def to_float(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = torch.pow(2.0, -self.exponent.to(torch.float64)).view(-1, 1)
        return (self.weight.to(torch.float64) * scale).to(torch.float32), self.float_bias()

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        return cls(tensors[f"{prefix}weight"], tensors[f"{prefix}bias"], tensors[f"{prefix}shift"],
                   f_in=spec["f_in"], f_out=spec["f_out"])


# -- elementwise and rearranging ops -------------------------------------------------------------


class _SameFraction(IntNode):
    def __init__(self, f: int) -> None:
        self.f_in = self.f_out = int(f)

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        if spec["f_in"] != spec["f_out"]:
            raise ValueError(f"{cls.kind} keeps fraction bits; got f_in {spec['f_in']}, f_out {spec['f_out']}")
        return cls(spec["f_in"], **{k: v for k, v in spec.items() if k not in ("kind", "f_in", "f_out")})


@_register
class IntIdentity(_SameFraction):
    """``y = x``."""

    kind = "identity"

    def __call__(self, x):
        return x


@_register
class IntReLU(_SameFraction):
    """``y = max(x, 0)``."""

    kind = "relu"

    def __call__(self, x):
        return IF.relu(x)


@_register
class IntLeakyReLU(_SameFraction):
    """``y = x`` if ``x >= 0`` else ``round_shift(x * num, shift)`` (see :func:`functional.leaky_relu`)."""

    kind = "leaky_relu"

    def __init__(self, f: int, num: int, shift: int) -> None:
        super().__init__(f)
        self.num, self.shift = int(num), int(shift)
        self.validate()

    def validate(self) -> None:
        if not (0 <= self.shift <= IF.LEAKY_MAX_SHIFT and 0 <= self.num <= (1 << self.shift)):
            raise ValueError(f"invalid integer LeakyReLU slope {self.num} / 2^{self.shift}")

    def __call__(self, x):
        return IF.leaky_relu(x, self.num, self.shift)

    def spec(self):
        return {**super().spec(), "num": self.num, "shift": self.shift}


@_register
class IntPixelShuffle(_SameFraction):
    """``(N, C*r*r, H, W) -> (N, C, H*r, W*r)`` with ``y[n][c][h*r+i][w*r+j] = x[n][c*r*r+i*r+j][h][w]``."""

    kind = "pixel_shuffle"

    def __init__(self, f: int, factor: int) -> None:
        super().__init__(f)
        self.factor = int(factor)
        if self.factor < 1:
            raise ValueError("pixel shuffle factor must be >= 1")

    def __call__(self, x):
        return IF.pixel_shuffle(x, self.factor)

    def spec(self):
        return {**super().spec(), "factor": self.factor}


@_register
class IntPixelUnshuffle(IntPixelShuffle):
    """``(N, C, H*r, W*r) -> (N, C*r*r, H, W)``, the inverse of :class:`IntPixelShuffle`."""

    kind = "pixel_unshuffle"

    def __call__(self, x):
        return IF.pixel_unshuffle(x, self.factor)


@_register
class IntPad(_SameFraction):
    """Zero padding of the last ``len(pads)`` dimensions, ``pads[d] = (before, after)`` in dimension order."""

    kind = "pad"

    def __init__(self, f: int, pads) -> None:
        super().__init__(f)
        self.pads = tuple(_ints(p, 2, "pads") for p in pads)
        if min(sum(self.pads, ()), default=0) < 0:
            raise ValueError("pads must be >= 0")

    def __call__(self, x):
        return IF.zero_pad(x, self.pads)

    def spec(self):
        return {**super().spec(), "pads": [list(p) for p in self.pads]}


@_register
class IntFlatten(_SameFraction):
    """Reshape dimensions ``start..end`` into one (row-major order), like ``torch.flatten``."""

    kind = "flatten"

    def __init__(self, f: int, start: int = 1, end: int = -1) -> None:
        super().__init__(f)
        self.start, self.end = int(start), int(end)

    def __call__(self, x):
        return x.flatten(self.start, self.end)

    def spec(self):
        return {**super().spec(), "start": self.start, "end": self.end}


@_register
class IntRescale(IntNode):
    """``y = requantize(x, f_in - f_out)``: change the fraction bits (exact if ``f_out >= f_in``)."""

    kind = "rescale"

    def __init__(self, f_in: int, f_out: int) -> None:
        self.f_in, self.f_out = int(f_in), int(f_out)

    def __call__(self, x):
        return requantize(x, self.f_in - self.f_out)

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        return cls(spec["f_in"], spec["f_out"])


# -- containers ------------------------------------------------------------------------------------


def _child_prefix(prefix: str, name: str) -> str:
    return f"{prefix}{name}."


@_register
class IntSequential(IntNode):
    """``y = layer_n(..layer_1(x))``; each layer's ``f_out`` is the next layer's ``f_in``."""

    kind = "sequential"

    def __init__(self, layers: Sequence[IntNode], names: Sequence[str] | None = None) -> None:
        if not layers:
            raise ValueError("a sequential node needs at least one layer")
        self.layers = list(layers)
        self.names = [str(n) for n in names] if names is not None else [str(i) for i in range(len(layers))]
        if len(self.names) != len(self.layers) or len(set(self.names)) != len(self.names):
            raise ValueError("sequential layer names must be unique, one per layer")
        self.validate()

    @property
    def f_in(self):
        return self.layers[0].f_in

    @property
    def f_out(self):
        return self.layers[-1].f_out

    def validate(self) -> None:
        for a, b in zip(self.layers, self.layers[1:]):
            if a.f_out != b.f_in:
                raise ValueError(f"sequential: a layer's output has {a.f_out} fraction bits, the next "
                                 f"layer expects {b.f_in}")

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def children(self):
        return list(zip(self.names, self.layers))

    def spec(self):
        return {**super().spec(), "names": self.names, "layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        names = spec.get("names") or [str(i) for i in range(len(spec["layers"]))]
        return cls([node_from_spec(s, tensors, _child_prefix(prefix, n)) for n, s in zip(names, spec["layers"])],
                   names)


@_register
class IntResidual(IntNode):
    """``y = add([shortcut(x), body(x)], [f_shortcut, f_body], f_out)`` (shortcut defaults to ``x``).

    See :func:`functional.add`: both terms aligned exactly to the finer
    fraction, summed, rounded once to ``f_out`` and saturated.
    """

    kind = "residual"

    def __init__(self, body: IntNode, shortcut: IntNode | None, f_out: int, f_in: int | None = None) -> None:
        self.body, self.shortcut = body, shortcut
        self.f_in = body.f_in if f_in is None else int(f_in)
        self.f_out = int(f_out)
        self.validate()

    @property
    def _fractions(self):
        return [self.f_in if self.shortcut is None else self.shortcut.f_out, self.body.f_out]

    def validate(self) -> None:
        if self.body.f_in != self.f_in or (self.shortcut is not None and self.shortcut.f_in != self.f_in):
            raise ValueError("residual: body and shortcut must take the block's input fraction bits")
        IF._check_gaps(self._fractions, self.f_out)

    def __call__(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return IF.add([skip, self.body(x)], self._fractions, self.f_out)

    def children(self):
        return [("body", self.body), ("shortcut", self.shortcut)]

    def spec(self):
        return {**super().spec(), "body": self.body.spec(),
                "shortcut": None if self.shortcut is None else self.shortcut.spec()}

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        body = node_from_spec(spec["body"], tensors, _child_prefix(prefix, "body"))
        shortcut = (None if spec.get("shortcut") is None
                    else node_from_spec(spec["shortcut"], tensors, _child_prefix(prefix, "shortcut")))
        return cls(body, shortcut, spec["f_out"], spec["f_in"])


@_register
class IntConcat(IntNode):
    """``y = concat([branch_j(x)], [f_j], f_out, dim)``: every branch sees the same input.

    See :func:`functional.concat`: each branch output aligned to ``f_out``, then concatenated.
    """

    kind = "concat"

    def __init__(self, branches: Sequence[IntNode], f_out: int, dim: int = 1, f_in: int | None = None) -> None:
        if not branches:
            raise ValueError("concat needs at least one branch")
        self.branches = list(branches)
        self.f_in = self.branches[0].f_in if f_in is None else int(f_in)
        self.f_out, self.dim = int(f_out), int(dim)
        self.validate()

    def validate(self) -> None:
        if any(b.f_in != self.f_in for b in self.branches):
            raise ValueError("concat: every branch must take the node's input fraction bits")
        IF._check_gaps([b.f_out for b in self.branches], self.f_out)

    def __call__(self, x):
        return IF.concat([b(x) for b in self.branches], [b.f_out for b in self.branches], self.f_out, self.dim)

    def children(self):
        return [(f"branches.{i}", b) for i, b in enumerate(self.branches)]

    def spec(self):
        return {**super().spec(), "dim": self.dim, "branches": [b.spec() for b in self.branches]}

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        branches = [node_from_spec(s, tensors, _child_prefix(prefix, f"branches.{i}"))
                    for i, s in enumerate(spec["branches"])]
        return cls(branches, spec["f_out"], spec.get("dim", 1), spec["f_in"])


@_register
class IntParallel(IntNode):
    """Several inputs: ``y = merge([branch_j(x_j)])`` with ``merge`` ``concat`` (along ``dim``) or ``add``.

    ``f_in`` is the list of the inputs' fraction bits; the merge is
    :func:`functional.concat` or :func:`functional.add` with ``f_out``.
    """

    kind = "parallel"

    def __init__(self, branches: Sequence[IntNode], f_out: int, merge: str = "concat", dim: int = 1) -> None:
        if not branches:
            raise ValueError("parallel needs at least one branch")
        if merge not in ("concat", "add"):
            raise ValueError(f"parallel merge must be 'concat' or 'add', got {merge!r}")
        self.branches = list(branches)
        self.f_out, self.merge, self.dim = int(f_out), merge, int(dim)
        self.validate()

    @property
    def f_in(self):
        return [b.f_in for b in self.branches]

    def validate(self) -> None:
        IF._check_gaps([b.f_out for b in self.branches], self.f_out)

    def __call__(self, xs):
        if isinstance(xs, torch.Tensor) or len(xs) != len(self.branches):
            raise ValueError(f"parallel node needs {len(self.branches)} inputs")
        outs = [b(x) for b, x in zip(self.branches, xs)]
        fractions = [b.f_out for b in self.branches]
        if self.merge == "add":
            return IF.add(outs, fractions, self.f_out)
        return IF.concat(outs, fractions, self.f_out, self.dim)

    def children(self):
        return [(f"branches.{i}", b) for i, b in enumerate(self.branches)]

    def spec(self):
        return {**super().spec(), "merge": self.merge, "dim": self.dim,
                "branches": [b.spec() for b in self.branches]}

    @classmethod
    def from_spec(cls, spec, tensors, prefix):
        branches = [node_from_spec(s, tensors, _child_prefix(prefix, f"branches.{i}"))
                    for i, s in enumerate(spec["branches"])]
        return cls(branches, spec["f_out"], spec.get("merge", "concat"), spec.get("dim", 1))


def node_from_spec(spec: dict, tensors: dict[str, torch.Tensor], prefix: str = "") -> IntNode:
    """Rebuild (and validate) a node from its ``spec()`` and the flat tensor dict (keys ``prefix + name``)."""
    try:
        cls = _KINDS[spec["kind"]]
    except (KeyError, TypeError):
        raise ValueError(f"unknown integer node {spec!r:.80}") from None
    try:
        return cls.from_spec(spec, tensors, prefix)
    except KeyError as e:
        raise ValueError(f"integer node {prefix or '<root>'} lacks {e}") from None


def from_legacy(conv) -> IntNode:
    """The general nodes computing exactly what a legacy :class:`~codec.nn.integer.IntegerConv` computes."""
    k = conv.kernel
    if conv.transposed:
        lo = k - 1 - k // 2
        node = IntConv(conv.weight, conv.bias, conv.shift, f_in=conv.f_in, f_out=conv.f_out, upsample=2,
                       pads=[(lo, lo + 1)] * 2, transposed=True)
    else:
        node = IntConv(conv.weight, conv.bias, conv.shift, f_in=conv.f_in, f_out=conv.f_out,
                       stride=conv.stride, pads=[(k // 2, k // 2)] * 2)
    return IntSequential([node, IntReLU(conv.f_out)]) if conv.relu else node
