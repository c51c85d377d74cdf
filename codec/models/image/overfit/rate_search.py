"""``--bpp``: finding the rate level whose whole file fits a target size.

Every try is a real fit, so tries are few. The first fit uses a level
predicted from the target (:func:`predicted_level`, a log-linear law measured
on Kodak); each later one moves the level along the secant of log(file
size) against level through the two nearest tries (a prior slope when there
is one try), aiming 3 % under the budget, and resumes from the nearest
earlier fit with a shorter schedule (:data:`RESUME_FRACTION` of the preset's
steps) rather than starting from zero.

Guarantee: after at most :data:`MAX_FITS` fits the encoder codes the largest
file found that does not exceed the budget; when none does (a budget below
what level 0 gives), it codes the smallest file found, with a note. With a
time limit, the first fit gets 60 % of it and each later fit an equal share
of the rest.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from codec.models.base import Progress
from codec.models.image.overfit import coder
from codec.models.image.overfit.fit import PRESETS
from codec.models.image.overfit.params import LEVELS

MAX_FITS = 3
RESUME_FRACTION = 0.4
AIM = 0.97
#: d log(bytes) / d level when only one try is known (measured on Kodak at the medium preset).
PRIOR_SLOPE = 0.45
#: log-linear law level -> bits per pixel: bpp(level) ~= PRIOR_BPP_0 * exp(PRIOR_SLOPE * level).
PRIOR_BPP_0 = 0.1


def predicted_level(bpp: float) -> float:
    return min(max(math.log(bpp / PRIOR_BPP_0) / PRIOR_SLOPE, 0.0), LEVELS - 1.0)


def fit_target(rgb: np.ndarray, budget: float, size_of: Callable[[bytes, list[bytes]], int], *, preset: str,
               device: str = "cpu", time_limit: float | None = None,
               progress: Progress | None = None) -> coder.Encoded:
    progress = progress or Progress()
    pixels = rgb.shape[0] * rgb.shape[1]
    tries: list[tuple[float, int, coder.Encoded]] = []
    level = predicted_level(budget * 8 / pixels)
    base = PRESETS[preset]
    short = dataclasses.replace(base, iterations=max(1, int(base.iterations * RESUME_FRACTION)),
                                final_iterations=int(base.final_iterations * RESUME_FRACTION))
    for n in range(MAX_FITS):
        limit = None
        if time_limit is not None:
            limit = time_limit * 0.6 if n == 0 else time_limit * 0.4 / (MAX_FITS - 1)
        resume = min(tries, key=lambda t: abs(t[0] - level))[2].fitted if tries else None
        encoded = coder.encode(rgb, level, schedule=short if resume else base, device=device, time_limit=limit,
                               progress=progress, resume=resume)
        size = size_of(encoded.params, encoded.segments)
        tries.append((level, size, encoded))
        progress.note(f"target {budget:.0f} bytes: level {level:.3f} gives {size} bytes")
        if AIM * 0.95 * budget <= size <= budget:
            break
        level = _next_level(tries, budget)
        if any(abs(level - t[0]) < 1 / 256 for t in tries):
            break
    fitting = [t for t in tries if t[1] <= budget]
    if fitting:
        return max(fitting, key=lambda t: t[1])[2]
    progress.note("no level reached the target; coding the smallest file found")
    return min(tries, key=lambda t: t[1])[2]


def _next_level(tries: list[tuple[float, int, coder.Encoded]], budget: float) -> float:
    goal = math.log(budget * AIM)
    by_level = sorted(tries, key=lambda t: t[0])
    below = [t for t in by_level if t[1] <= budget * AIM]
    above = [t for t in by_level if t[1] > budget * AIM]
    if below and above:
        (l0, s0, _), (l1, s1, _) = below[-1], above[0]
        slope = (math.log(s1) - math.log(s0)) / (l1 - l0) if l1 != l0 else PRIOR_SLOPE
        anchor = (l0, s0)
    else:
        anchor = (tries[-1][0], tries[-1][1])
        slope = PRIOR_SLOPE
        if len(by_level) >= 2 and by_level[-1][0] != by_level[0][0]:
            slope = (math.log(by_level[-1][1]) - math.log(by_level[0][1])) / (by_level[-1][0] - by_level[0][0])
    slope = min(max(slope, 0.15), 1.0)
    level = anchor[0] + (goal - math.log(anchor[1])) / slope
    return min(max(level, 0.0), LEVELS - 1.0)
