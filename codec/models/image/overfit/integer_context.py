"""The context model in exact integer arithmetic: what decides every latent's table, on every machine.

Quantized weights ``w = n * 2^-e_w`` (one step per network) and biases
``b = m * 2^-e_b`` become the integer layers of ``bitstream/SPEC.md`` section
7.2 with every activation at ``ARM_FRACTION`` fraction bits: inputs are
``latent * 2^ARM_FRACTION``, each layer's shift is ``e_w`` and its bias
``m * 2^(ARM_FRACTION + e_w - e_b)`` sits at the accumulator's scale
(bitstream/models/overfit.md, section 4).

:class:`IntegerContext` holds the layers as integers; :meth:`kernel` hands
them to the C++ kernel that runs the model over grids (encoder) or while
decoding (decoder); :meth:`reference` builds the same model from
:mod:`codec.nn.integer` nodes, the package's reference arithmetic, which the
tests hold the kernel to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codec.errors import CorruptStreamError
from codec.models.image.overfit.architecture import (
    ARM_FRACTION, ARM_WEIGHT_LIMIT, COARSE_OFFSETS, CONTEXT_OFFSETS, LATENT_LIMIT, MEAN_PHASES, Architecture,
)
from codec.models.image.overfit.tables import LatentTables

PHASE_BITS = MEAN_PHASES.bit_length() - 1
#: Biases at the accumulator's scale stay below this (so every sum stays exact in int64 and float64).
BIAS_LIMIT = 1 << 50


@dataclass(frozen=True)
class IntLayer:
    weight: np.ndarray   # int64 [out, in]
    bias: np.ndarray     # int64 [out], at the accumulator's scale
    shift: int


@dataclass(frozen=True)
class IntegerContext:
    """Integer layers: ``hidden`` (first relu, then residual relu), ``out`` and ``stabiliser``."""

    arch: Architecture
    hidden: tuple[IntLayer, ...]
    out: IntLayer | None
    stabiliser: IntLayer

    @classmethod
    def from_coded(cls, arch: Architecture, weights: list[np.ndarray], biases: list[np.ndarray], e_w: int,
                   e_b: int) -> "IntegerContext":
        """From the coded integers: ``weights`` in the order of :func:`arm_layer_shapes`, ``biases`` those of
        the hidden layers then the output's (which the stabiliser carries when there is no hidden layer).

        Raises CorruptStreamError for integers a released encoder cannot produce.
        """
        if e_b > ARM_FRACTION + e_w:
            raise CorruptStreamError("overfit parameters: context-model bias step finer than its accumulator")
        for w in weights:
            if w.size and int(np.abs(w).max()) > ARM_WEIGHT_LIMIT:
                raise CorruptStreamError("overfit parameters: a context-model weight exceeds 2^11 - 1")
        acc = []
        for b in biases:
            b = np.asarray(b, dtype=np.int64)
            if b.size and int(np.abs(b).max()) >= BIAS_LIMIT >> (ARM_FRACTION + e_w - e_b):
                raise CorruptStreamError("overfit parameters: a context-model bias is out of range")
            acc.append(b << (ARM_FRACTION + e_w - e_b))
        n = arch.arm_layers
        layers = [IntLayer(np.asarray(w, dtype=np.int64), acc[i] if i < n else np.zeros(w.shape[0], np.int64), e_w)
                  for i, w in enumerate(weights)]
        if n:
            out = IntLayer(layers[n].weight, acc[n], e_w)
            return cls(arch, tuple(layers[:n]), out, layers[n + 1])
        return cls(arch, (), None, IntLayer(layers[0].weight, acc[0], e_w))

    def kernel(self, tables: LatentTables):
        """The C++ kernel running this model with the family's layout and ``tables``."""
        from codec.models.image.overfit import _overfit

        def spec(layer: IntLayer):
            return (layer.weight, layer.bias, int(layer.shift))

        out = self.out if self.out is not None else IntLayer(np.zeros((2, 1), np.int64), np.zeros(2, np.int64), 0)
        return _overfit.Kernel(
            [spec(l) for l in self.hidden], spec(out), spec(self.stabiliser), ARM_FRACTION,
            np.array(CONTEXT_OFFSETS[: self.arch.arm_context], dtype=np.int32),
            np.array(COARSE_OFFSETS, dtype=np.int32), tables.thresholds, PHASE_BITS, LATENT_LIMIT,
            tables.cdfs, tables.lengths, tables.offsets, tables.coder.precision)

    def reference(self):
        """The same model as :mod:`codec.nn.integer` nodes: ``f(context int64 [N, n_in]) -> int64 [N, 2]``."""
        from codec.nn.integer import IntLinear, add, relu

        def node(layer: IntLayer) -> IntLinear:
            return IntLinear(torch.from_numpy(layer.weight), torch.from_numpy(layer.bias),
                             torch.full((layer.weight.shape[0],), layer.shift, dtype=torch.int64),
                             f_in=ARM_FRACTION, f_out=ARM_FRACTION)

        hidden = [node(l) for l in self.hidden]
        out = node(self.out) if self.out is not None else None
        stab = node(self.stabiliser)
        f = ARM_FRACTION

        def run(c: torch.Tensor) -> torch.Tensor:
            x = c.to(torch.int64) << f
            s = stab(x)
            if not hidden:
                return s
            h = relu(hidden[0](x))
            for layer in hidden[1:]:
                h = relu(add([layer(h), h], [f, f], f))
            return add([out(h), s], [f, f], f)

        return run


def arm_layer_shapes(arch: Architecture) -> list[tuple[int, int]]:
    """(out, in) of each coded context-model layer: hidden layers, then output (if any), then stabiliser."""
    n_in, width = arch.arm_inputs, arch.arm_hidden
    shapes = [(width, n_in if i == 0 else width) for i in range(arch.arm_layers)]
    if arch.arm_layers:
        shapes.append((2, width))
    shapes.append((2, n_in))
    return shapes


def table_choice(outputs: np.ndarray, tables: LatentTables) -> tuple[np.ndarray, np.ndarray]:
    """(table index, base) from integer model outputs ``[N, 2]``: the rule the kernel applies (for tests)."""
    drop = ARM_FRACTION - PHASE_BITS
    q = (outputs[:, 0] + (1 << (drop - 1))) >> drop
    base = q >> PHASE_BITS
    phase = q & (MEAN_PHASES - 1)
    scale = np.searchsorted(tables.thresholds, outputs[:, 1], side="right")
    return (scale * MEAN_PHASES + phase).astype(np.int32), base.astype(np.int32)
