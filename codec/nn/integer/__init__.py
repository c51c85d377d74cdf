"""Exact integer inference: the arithmetic of everything that decides probabilities or feeds the next frame.

A learned codec decodes only if the decoder computes exactly the entropy
parameters the encoder used. These layers compute on integers with one
rounding rule, so the result is identical on every CPU, GPU, BLAS and thread
count (``bitstream/SPEC.md`` section 7.2 is the normative description):

- Activations are signed integers with a per-tensor number of fraction bits
  ``f`` (value = integer / 2^f), saturated to ``[-ACT_LIMIT, ACT_LIMIT]``.
- Weights are integers with a per-output-channel exponent ``e_c``
  (value = integer / 2^e_c), at most ``WEIGHT_LIMIT`` in magnitude; biases are
  integers at the accumulator's scale ``2^-(f_in + e_c)``.
- A layer accumulates exactly, then rescales to ``f_out`` with
  ``round_shift(a, s) = floor((a + 2^(s-1)) / 2^s)`` for ``s > 0`` (round half
  up) and ``a * 2^-s`` for ``s <= 0``, then applies ReLU where the layer has one.

The accumulation runs as a float64 convolution: every product and partial
sum is an integer below 2^53 in magnitude (checked by ``accumulator_bound``),
so float64 represents each exactly and any summation order gives the same
value. cuDNN is bypassed on GPUs because some of its algorithms (FFT,
Winograd) are not exact.

Layout of the package:

- :mod:`.arith`: limits, ``round_shift`` / ``requantize`` (the rounding rule),
  ``fraction_bits_for``, ``to_fixed`` / ``from_fixed``;
- :mod:`.legacy`: ``IntegerConv`` and ``quantize_conv``, the layers of the
  shipped image model (SPEC 7.2), unchanged;
- :mod:`.functional`: the integer ops as functions (``add``, ``concat``,
  ``leaky_relu``, ``pixel_shuffle``, ``table_index``...), each with its exact semantics;
- :mod:`.ops`: graph nodes (``IntConv`` for 1-D/2-D, strided, dilated,
  grouped/depthwise, transposed and causal convolutions, ``IntLinear``,
  activations, rearrangements, ``IntResidual``, ``IntConcat``, ``IntParallel``)
  with JSON spec + integer tensor serialization;
- :mod:`.layers`: float blocks the converter understands (``Residual``,
  ``Concat``, ``Parallel``, ``CausalConv1d``, ``MaskedConv2d``);
- :mod:`.graph`: ``calibrate`` / ``convert`` (float module -> ``IntegerModule``),
  ``IntegerModule`` (call, ``state`` / ``from_state``, ``to_bytes`` / ``from_bytes``);
- :mod:`.qat`: fake quantization with straight-through gradients for fine-tuning.

Typical use (training stays float; ``convert`` is the single float-to-integer step)::

    from codec.nn import integer as I
    net = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.LeakyReLU(0.1), I.ResidualBlock(64),
                        nn.PixelShuffle(2), nn.Conv2d(16, 32, 1))
    exact = I.convert(net, calibration_batches, f_in=8, f_out=8)   # an IntegerModule
    y = exact(x_int)                       # int64 in (8 fraction bits), int64 out (8 fraction bits)
    tensors, spec = exact.state()          # integer tensors + JSON-able spec; or exact.to_bytes()
    same = I.IntegerModule.from_state(tensors, spec)

Every new node computes with float64 accumulation (exact below 2^53) and
rescales per :func:`requantize`; results are identical for any thread count
and device. Nodes are immutable once built (they cache float64 copies of
their weights per device).
"""

from codec.nn.integer.arith import (_EXACT_LIMIT, ACT_LIMIT, WEIGHT_LIMIT, _exact_mode, align, fraction_bits_for,
                                    from_fixed, narrowest_int, requantize, round_shift, saturate, to_fixed)
from codec.nn.integer.functional import (add, concat, leaky_relu, leaky_slope, pixel_shuffle, pixel_unshuffle, relu,
                                         table_index, zero_insert, zero_pad)
from codec.nn.integer.graph import (Calibration, IntegerModule, calibrate, convert, dequantize_into, quantize_layer,
                                    quantize_weights)
from codec.nn.integer.layers import (CausalConv1d, Concat, MaskedConv2d, Parallel, Residual, ResidualBlock,
                                     causal_mask)
from codec.nn.integer.legacy import IntegerConv, quantize_conv
from codec.nn.integer.ops import (IntConcat, IntConv, IntFlatten, IntIdentity, IntLeakyReLU, IntLinear, IntNode,
                                  IntPad, IntParallel, IntPixelShuffle, IntPixelUnshuffle, IntReLU, IntRescale,
                                  IntResidual, IntSequential, from_legacy, node_from_spec)
from codec.nn.integer.qat import attach_fake_quant, fake_quantize, fake_quantize_weight

__all__ = [
    "ACT_LIMIT", "WEIGHT_LIMIT", "round_shift", "requantize", "saturate", "align", "fraction_bits_for", "to_fixed",
    "from_fixed", "narrowest_int",
    "add", "concat", "leaky_relu", "leaky_slope", "pixel_shuffle", "pixel_unshuffle", "relu", "table_index",
    "zero_insert", "zero_pad",
    "IntegerConv", "quantize_conv",
    "IntNode", "IntConv", "IntLinear", "IntReLU", "IntLeakyReLU", "IntPixelShuffle", "IntPixelUnshuffle", "IntPad",
    "IntFlatten", "IntIdentity", "IntRescale", "IntSequential", "IntResidual", "IntConcat", "IntParallel",
    "node_from_spec", "from_legacy",
    "Residual", "ResidualBlock", "Concat", "Parallel", "CausalConv1d", "MaskedConv2d", "causal_mask",
    "Calibration", "calibrate", "convert", "quantize_layer", "quantize_weights", "IntegerModule", "dequantize_into",
    "fake_quantize", "fake_quantize_weight", "attach_fake_quant",
]
