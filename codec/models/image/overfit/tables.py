"""The CDF tables and scale thresholds of the overfitted family, built from its definition.

No weights file carries them: they are computed once per process from the
constants of :mod:`~codec.models.image.overfit.architecture` with the
project's deterministic table procedure (:func:`codec.entropy.cdf.quantize_pmf`;
probabilities from the C library's ``exp``), and their SHA-256 must equal
:data:`TABLES_SHA256`, which the family's digest covers. A platform whose
``exp`` rounds differently enough to change a table is refused rather than
left to decode garbage.

Table ``s * MEAN_PHASES + k`` is the Laplace law of scale ``b_s`` centred at
``k / MEAN_PHASES``, binned to the integers; the coded symbol is the latent
minus the base ``floor(mean)`` (both rounded to ``1 / MEAN_PHASES``). Scale
``s`` is chosen with integer thresholds on the context model's log-scale
output (``ARM_FRACTION`` fraction bits): the number of thresholds at or
below it.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from codec.entropy.cdf import quantize_pmf
from codec.entropy.rans import CdfTables
from codec.errors import ModelMismatchError
from codec.models.image.overfit.architecture import (
    ARM_FRACTION, LOG_SCALE_OFFSET, MEAN_PHASES, SCALE_COUNT, SCALE_MAX, SCALE_MIN, TABLE_PRECISION, TAIL_MASS,
)

#: SHA-256 of the tables' arrays (cdfs, lengths, offsets, thresholds; little-endian int32/int64), as built on
#: the platform that released the revision.
TABLES_SHA256 = "7fa807e266bd44338cbc568e09d6715fa98c9db11c580d4db97ab88d37c8c4fb"


def scales() -> np.ndarray:
    """The ``SCALE_COUNT`` Laplace scales, evenly spaced in log."""
    lo, hi = math.log(SCALE_MIN), math.log(SCALE_MAX)
    return np.array([math.exp(lo + (hi - lo) * i / (SCALE_COUNT - 1)) for i in range(SCALE_COUNT)])


def thresholds() -> np.ndarray:
    """``SCALE_COUNT - 1`` ascending int64 thresholds on the log-scale output ``r`` (``ARM_FRACTION`` bits).

    Scale ``s`` serves ``log b`` between the midpoints of its neighbours in
    log: threshold ``s`` is ``ceil((m_s - LOG_SCALE_OFFSET) * 2^ARM_FRACTION)``
    with ``m_s`` the midpoint of ``log b_s`` and ``log b_{s+1}``.
    """
    lo, hi = math.log(SCALE_MIN), math.log(SCALE_MAX)
    step = (hi - lo) / (SCALE_COUNT - 1)
    return np.array([math.ceil((lo + step * (i + 0.5) - LOG_SCALE_OFFSET) * (1 << ARM_FRACTION))
                     for i in range(SCALE_COUNT - 1)], dtype=np.int64)


def laplace_bins(scale: float, centre: float) -> tuple[np.ndarray, int, float]:
    """(pmf over ``lo..hi``, ``lo``, mass outside) of Laplace(``centre``, ``scale``) binned to integers.

    Bins wholly above the centre have masses ``A r^k (1 - r)`` with
    ``r = exp(-1/scale)`` and ``A`` the mass above the first such bin's lower
    edge; those below mirror them; the bin holding the centre (if any) takes
    what is left. Powers of ``r`` are running products (IEEE multiplications,
    the same on every machine), so only four ``exp`` calls per table depend on
    the C library. The support is the smallest whose outside mass on each side
    is at most ``TAIL_MASS / 2``.
    """
    r = math.exp(-1.0 / scale)
    reach = scale * math.log(1.0 / TAIL_MASS)
    lo = -max(0, math.ceil(reach - 0.5 - centre))
    hi = max(0, math.ceil(reach - 0.5 + centre))
    first_above = math.ceil(centre + 0.5)        # lowest bin with v - 1/2 >= centre
    last_below = math.floor(centre - 0.5)        # highest bin with v + 1/2 <= centre
    above0 = 0.5 * math.exp(-(first_above - 0.5 - centre) / scale)   # P(X >= first_above - 1/2)
    below0 = 0.5 * math.exp((last_below + 0.5 - centre) / scale)     # P(X < last_below + 1/2)
    # tails P(X >= v - 1/2) for v = first_above .. hi + 1, and P(X < v + 1/2) for v = last_below .. lo - 1
    tails_above = np.cumprod(np.concatenate([[above0], np.full(hi - first_above + 1, r)]))
    tails_below = np.cumprod(np.concatenate([[below0], np.full(last_below - lo + 1, r)]))
    pmf = np.empty(hi - lo + 1)
    pmf[first_above - lo:] = tails_above[:-1] - tails_above[1:]
    pmf[: last_below - lo + 1] = (tails_below[:-1] - tails_below[1:])[::-1]
    if first_above - last_below == 2:            # the bin holding the centre takes the rest
        pmf[last_below + 1 - lo] = 1.0 - below0 - above0
    outside = tails_above[-1] + tails_below[-1]
    return pmf, lo, outside


@dataclass(frozen=True)
class LatentTables:
    """Everything that turns the context model's outputs into probabilities."""

    cdfs: np.ndarray        # int32 [SCALE_COUNT * MEAN_PHASES, width]
    lengths: np.ndarray     # int32
    offsets: np.ndarray     # int32
    thresholds: np.ndarray  # int64 [SCALE_COUNT - 1]
    coder: CdfTables

    def digest(self) -> str:
        h = hashlib.sha256()
        for a, dtype in ((self.cdfs, "<i4"), (self.lengths, "<i4"), (self.offsets, "<i4"), (self.thresholds, "<i8")):
            h.update(np.ascontiguousarray(a, dtype=dtype).tobytes())
        return h.hexdigest()

    def zero_mean_table(self, scale_index: int) -> int:
        """The table of scale ``scale_index`` centred at 0 (network parameters use these)."""
        return scale_index * MEAN_PHASES


def build() -> LatentTables:
    rows, offsets = [], []
    for b in scales():
        for k in range(MEAN_PHASES):
            pmf, lo, outside = laplace_bins(float(b), k / MEAN_PHASES)
            rows.append(quantize_pmf(pmf, outside, TABLE_PRECISION))
            offsets.append(lo)
    width = max(r.size for r in rows)
    cdfs = np.full((len(rows), width), 1 << TABLE_PRECISION, dtype=np.int32)
    for t, row in enumerate(rows):
        cdfs[t, : row.size] = row
    lengths = np.array([r.size for r in rows], dtype=np.int32)
    offsets_arr = np.array(offsets, dtype=np.int32)
    coder = CdfTables(cdfs, lengths, offsets_arr, precision=TABLE_PRECISION)
    return LatentTables(cdfs, lengths, offsets_arr, thresholds(), coder)


@functools.lru_cache(maxsize=1)
def latent_tables() -> LatentTables:
    """The tables, built once per process and checked against the released digest."""
    tables = build()
    if tables.digest() != TABLES_SHA256:
        raise ModelMismatchError("this platform builds the overfitted family's CDF tables differently from the "
                                 "release (its exp() rounds differently): files of this model cannot be coded "
                                 "here exactly")
    return tables
