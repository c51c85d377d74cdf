"""The integer softmax: exact integer logits -> rANS frequency tables, identical on every machine.

Logits come from the integer context models with ``LOGIT_FRACTION`` (4)
fraction bits, i.e. in steps of 1/16 nat. For each token position, with
``d_i = min(max_j l_j - l_i, 255)``, the unnormalised probability of symbol i
is ``EXP_TABLE[d_i]`` = round(65536 * exp(-d_i / 16)) -- a fixed table of 256
integers (bitstream/models/vq.md, annex A; its SHA-256 is ``EXP_TABLE_SHA256``),
written out here rather than computed, so no platform's ``exp`` is involved.
Frequencies at 16-bit precision, with ``K`` symbols and one escape symbol:

    R = 2^16 - (K + 1);  S = sum_i E_i;  f_i = 1 + floor(E_i * R / S)
    the first symbol with d_i = 0 also takes the remainder R - sum_i floor(E_i * R / S)
    the escape symbol (never used: tokens are always in range) has frequency 1

Every step is an integer operation on int64 (E_i * R < 2^33, S < 2^31).
"""

from __future__ import annotations

import numpy as np

from codec.entropy import CdfTables

LOGIT_FRACTION = 4
PRECISION = 16
EXP_TABLE = np.array([
    65536, 61565, 57835, 54331, 51039, 47947, 45042, 42313, 39750, 37341, 35079, 32954, 30957, 29081, 27319, 25664,
    24109, 22649, 21276, 19987, 18776, 17639, 16570, 15566, 14623, 13737, 12905, 12123, 11388, 10698, 10050, 9441,
    8869, 8332, 7827, 7353, 6907, 6489, 6096, 5726, 5380, 5054, 4747, 4460, 4190, 3936, 3697, 3473,
    3263, 3065, 2879, 2705, 2541, 2387, 2243, 2107, 1979, 1859, 1746, 1641, 1541, 1448, 1360, 1278,
    1200, 1128, 1059, 995, 935, 878, 825, 775, 728, 684, 642, 604, 567, 533, 500, 470,
    442, 415, 390, 366, 344, 323, 303, 285, 268, 252, 236, 222, 209, 196, 184, 173,
    162, 153, 143, 135, 127, 119, 112, 105, 99, 93, 87, 82, 77, 72, 68, 64,
    60, 56, 53, 50, 47, 44, 41, 39, 36, 34, 32, 30, 28, 27, 25, 23,
    22, 21, 19, 18, 17, 16, 15, 14, 13, 13, 12, 11, 10, 10, 9, 9,
    8, 8, 7, 7, 6, 6, 6, 5, 5, 5, 4, 4, 4, 4, 3, 3,
    3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
], dtype=np.int64)
EXP_TABLE_SHA256 = "68da4e2f235861a3a7bce9501ab772e973e5ace277b4c814bc85db44fef87000"  # of 256 little-endian u32


def frequencies(logits: np.ndarray) -> np.ndarray:
    """(N, K) integer logits (1/16 nat) -> (N, K + 1) int64 frequencies summing to 2^16 (escape last)."""
    logits = np.asarray(logits, dtype=np.int64)
    n, k = logits.shape
    top = logits.max(axis=1, keepdims=True)
    d = np.minimum(top - logits, len(EXP_TABLE) - 1)
    e = EXP_TABLE[d]
    r = (1 << PRECISION) - (k + 1)
    share = (e * r) // e.sum(axis=1, keepdims=True)
    freq = np.ones((n, k + 1), dtype=np.int64)
    freq[:, :k] += share
    first_top = np.argmax(d == 0, axis=1)
    freq[np.arange(n), first_top] += r - share.sum(axis=1)
    return freq


def tables(logits: np.ndarray) -> CdfTables:
    """One CDF table per row of ``logits`` (symbol i of row t codes the value i)."""
    freq = frequencies(logits)
    n, length = freq.shape[0], freq.shape[1] + 1
    cdfs = np.zeros((n, length), dtype=np.int64)
    np.cumsum(freq, axis=1, out=cdfs[:, 1:])
    return CdfTables(cdfs.astype(np.int32), np.full(n, length, dtype=np.int32), np.zeros(n, dtype=np.int32),
                     precision=PRECISION)


def ideal_bits(logits: np.ndarray, symbols: np.ndarray) -> float:
    """Code length in bits of ``symbols`` under the tables of ``logits`` (before the coder's overhead)."""
    freq = frequencies(logits)
    chosen = freq[np.arange(len(symbols)), np.asarray(symbols, dtype=np.int64)]
    return float(PRECISION * len(symbols) - np.log2(chosen).sum())
