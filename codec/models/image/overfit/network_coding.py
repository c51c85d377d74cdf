"""Quantizing the fitted networks and coding them into the file.

Every parameter is sent as an integer ``n`` standing for ``n * 2^-e``, with
one exponent ``e`` per group (a network's weights, or its biases) chosen by
the encoder for rate-distortion (:mod:`~codec.models.image.overfit.quantize`)
and written in ``codec_params``. A group's integers are coded with the
zero-mean Laplace table of the family whose scale index is also in
``codec_params`` (the encoder picks the cheapest), all groups in one rANS
block, in the order of :func:`group_shapes` (bitstream/models/overfit.md,
section 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codec.entropy import decode as rans_decode
from codec.entropy import encode as rans_encode
from codec.errors import CorruptStreamError
from codec.models.image.overfit.architecture import (
    ARM_WEIGHT_LIMIT, MEAN_PHASES, PARAMETER_LIMIT, SCALE_COUNT, Architecture,
)
from codec.models.image.overfit.integer_context import IntegerContext, arm_layer_shapes
from codec.models.image.overfit.network import Decoder
from codec.models.image.overfit.params import GROUPS
from codec.models.image.overfit.tables import LatentTables


def group_shapes(arch: Architecture) -> dict[str, list[tuple[int, ...]]]:
    """Shapes of the tensors of each group, in coding order."""
    g, s, levels = arch.grids, arch.synthesis_hidden, max(arch.grids - 1, 0)
    return {
        "arm.weight": arm_layer_shapes(arch),
        "arm.bias": [(arch.arm_hidden,)] * arch.arm_layers + [(2,)],
        "upsampling.weight": [(levels, 4), (levels, 4)],
        "synthesis.weight": [(s, g), (3, s), (3, 3, 3, 3), (3, 3, 3, 3), (3, g)],
        "synthesis.bias": [(s,), (3,), (3,), (3,)],
    }


def float_groups(decoder: Decoder) -> dict[str, list[np.ndarray]]:
    """The decoder's float parameters, grouped and ordered as :func:`group_shapes` says."""
    arm, ups, syn = decoder.arm, decoder.upsampling, decoder.synthesis

    def a(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().double().numpy()

    arm_w = [a(l.weight) for l in arm.hidden] + ([a(arm.out.weight)] if len(arm.hidden) else []) + \
            [a(arm.stabiliser.weight)]
    arm_b = [a(l.bias) for l in arm.hidden] + [a(arm.out.bias)]
    return {
        "arm.weight": arm_w,
        "arm.bias": arm_b,
        "upsampling.weight": [a(ups.up), a(ups.pre)],
        "synthesis.weight": [a(syn.expand.weight)[:, :, 0, 0], a(syn.project.weight)[:, :, 0, 0],
                             a(syn.refine1.weight), a(syn.refine2.weight), a(syn.stabiliser.weight)[:, :, 0, 0]],
        "synthesis.bias": [a(syn.expand.bias), a(syn.project.bias), a(syn.refine1.bias), a(syn.refine2.bias)],
    }


def limit_of(group: str) -> int:
    return ARM_WEIGHT_LIMIT if group == "arm.weight" else PARAMETER_LIMIT


def quantize(values: list[np.ndarray], exponent: int, limit: int) -> list[np.ndarray] | None:
    """``round(v * 2^e)`` per tensor, or None when some integer would exceed ``limit``."""
    out = [np.rint(np.asarray(v, dtype=np.float64) * 2.0 ** exponent).astype(np.int64) for v in values]
    if any(q.size and int(np.abs(q).max()) > limit for q in out):
        return None
    return out


def dequantize(values: list[np.ndarray], exponent: int) -> list[np.ndarray]:
    return [q.astype(np.float64) * 2.0 ** -exponent for q in values]


@dataclass
class CodedNetworks:
    """The networks as the file carries them: integers, their exponents and their tables."""

    arch: Architecture
    ints: dict[str, list[np.ndarray]]
    exponents: dict[str, int]
    table_scales: dict[str, int]

    def integer_context(self) -> IntegerContext:
        return IntegerContext.from_coded(self.arch, self.ints["arm.weight"], self.ints["arm.bias"],
                                         self.exponents["arm.weight"], self.exponents["arm.bias"])

    def float_decoder(self, device: str | torch.device = "cpu") -> Decoder:
        """A float :class:`Decoder` holding the dequantized parameters (what decoding uses)."""
        decoder = Decoder(self.arch)
        values = {g: dequantize(self.ints[g], self.exponents[g]) for g in GROUPS}
        load_groups(decoder, values)
        return decoder.to(device)

    def flat_symbols(self) -> tuple[np.ndarray, np.ndarray]:
        """(integers, table index per integer) of every group, in coding order."""
        return flat_symbols(self.ints, self.table_scales)


def flat_symbols(ints: dict[str, list[np.ndarray]], scales: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    values, indexes = [], []
    for g in GROUPS:
        flat = np.concatenate([q.ravel() for q in ints[g]]) if ints[g] else np.zeros(0, np.int64)
        values.append(flat)
        indexes.append(np.full(flat.size, scales[g] * MEAN_PHASES, dtype=np.int32))
    return np.concatenate(values).astype(np.int32), np.concatenate(indexes)


def load_groups(decoder: Decoder, values: dict[str, list[np.ndarray]]) -> None:
    """Copy grouped float values (as :func:`float_groups` orders them) into ``decoder``."""
    arm, ups, syn = decoder.arm, decoder.upsampling, decoder.synthesis

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.asarray(value)).reshape(param.shape).to(param.dtype))

    weights = values["arm.weight"]
    n = len(arm.hidden)
    for layer, w in zip(arm.hidden, weights[:n]):
        put(layer.weight, w)
    if n:
        put(arm.out.weight, weights[n])
    put(arm.stabiliser.weight, weights[-1])
    for layer, b in zip(arm.hidden, values["arm.bias"][:n]):
        put(layer.bias, b)
    put(arm.out.bias, values["arm.bias"][n])
    put(ups.up, values["upsampling.weight"][0])
    put(ups.pre, values["upsampling.weight"][1])
    sw, sb = values["synthesis.weight"], values["synthesis.bias"]
    for conv, w in zip((syn.expand, syn.project, syn.refine1, syn.refine2, syn.stabiliser), sw):
        put(conv.weight, w)
    for conv, b in zip((syn.expand, syn.project, syn.refine1, syn.refine2), sb):
        put(conv.bias, b)


def cheapest_table(ints: list[np.ndarray], tables: LatentTables) -> tuple[int, float]:
    """(scale index, bits) of the zero-mean table that codes these integers in the fewest bits (all tried:
    the bits are not unimodal in the scale, since a table too narrow for the largest integers escapes them)."""
    flat = np.concatenate([q.ravel() for q in ints]).astype(np.int32) if ints else np.zeros(0, np.int32)
    if flat.size == 0:
        return 0, 0.0
    bits = [tables.coder.information_bits(flat, np.full(flat.size, tables.zero_mean_table(s), np.int32))
            for s in range(SCALE_COUNT)]
    best = int(np.argmin(bits))
    return best, bits[best]


def encode_networks(coded: CodedNetworks, tables: LatentTables) -> bytes:
    values, indexes = coded.flat_symbols()
    return rans_encode(values, indexes, tables.coder, lanes=1, substream_size=max(values.size, 1))


def decode_networks(data: bytes, arch: Architecture, exponents: dict[str, int], scales: dict[str, int],
                    tables: LatentTables) -> CodedNetworks:
    """The integers of every group from the network segment; CorruptStreamError when they cannot be right."""
    shapes = group_shapes(arch)
    dummy = {g: [np.zeros(s, np.int64) for s in shapes[g]] for g in GROUPS}
    _, indexes = flat_symbols(dummy, scales)
    flat = rans_decode(data, indexes, tables.coder).astype(np.int64)
    ints: dict[str, list[np.ndarray]] = {}
    pos = 0
    for g in GROUPS:
        ints[g] = []
        for shape in shapes[g]:
            size = int(np.prod(shape))
            q = flat[pos: pos + size].reshape(shape)
            pos += size
            if q.size and int(np.abs(q).max()) > limit_of(g):
                raise CorruptStreamError(f"overfit parameters: a {g} integer is out of range")
            ints[g].append(q)
    return CodedNetworks(arch, ints, dict(exponents), dict(scales))

