"""The target-rate search on modelled file sizes: the largest level that fits, proven, in few probes."""

from __future__ import annotations

import math

import pytest

from codec.models.base import Progress
from codec.models.image.target_rate import LEVEL_STEPS, fit_rate, spend_saving

KODAK = (0.12, 0.17, 0.26, 0.40, 0.60, 0.85, 1.14, 1.48)
PIXELS = 768 * 512


def _search(size_of_step, budget: float, prior=KODAK):
    probes: list[int] = []

    def segments_at(level: float) -> list[bytes]:
        probes.append(round(level * LEVEL_STEPS))
        return [b""]

    level, _ = fit_rate(segments_at, lambda lv, seg: size_of_step(round(lv * LEVEL_STEPS)), budget, len(KODAK),
                        Progress(), prior, PIXELS)
    return round(level * LEVEL_STEPS), probes


def _image(scale: float, wobble: float = 0.0):
    """File sizes of an image ``scale`` times as costly as Kodak's average: geometric in the level, with
    jumps of up to 0.2 % either way (as the hyper-latent's changes make them)."""
    def size(step: int) -> int:
        level = step / LEVEL_STEPS
        i = min(int(level), len(KODAK) - 2)
        bpp = KODAK[i] * (KODAK[i + 1] / KODAK[i]) ** (level - i)
        return int(scale * bpp * PIXELS / 8 * (1 + wobble * (math.floor(step / 7) % 3) / 1000))
    return size


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.3])
@pytest.mark.parametrize("target_bpp", [0.15, 0.4, 1.0])
def test_the_answer_fits_and_the_next_step_does_not(scale, target_bpp):
    size = _image(scale, wobble=1.0)
    budget = target_bpp * PIXELS / 8
    step, probes = _search(size, budget)
    top = (len(KODAK) - 1) * LEVEL_STEPS
    assert size(step) <= budget or step == 0
    if 0 < step < top:
        assert size(step + 1) > budget
        assert {step, step + 1} <= set(probes)   # both measured: the proof, not a prediction
    assert len(probes) <= 8


def test_a_budget_below_the_smallest_file_gives_the_smallest_level():
    size = _image(1.0)
    step, probes = _search(size, size(0) - 1)
    assert step == 0 and 0 in probes


def test_a_budget_above_the_largest_file_gives_the_top_level():
    size = _image(1.0)
    top = (len(KODAK) - 1) * LEVEL_STEPS
    step, _ = _search(size, size(top) * 2)
    assert step == top


def test_the_model_curve_saves_probes_over_a_blind_start():
    size = _image(1.0)
    budget = 0.4 * PIXELS / 8
    _, with_curve = _search(size, budget)
    _, blind = _search(size, budget, prior=None)
    assert len(with_curve) <= len(blind)


@pytest.mark.parametrize("saving", [0.05, 0.2, 0.35])
def test_refinement_spends_its_saving_and_never_overshoots(saving):
    """Refined files are ``saving`` smaller at low levels, less at high ones (as the z search's are):
    the search refines again at higher levels and keeps the largest refined file that fits."""
    plain = _image(1.0)
    budget = plain(round(2.3 * LEVEL_STEPS))
    level = 2.3

    def refined_size(lv: float) -> int:
        return int(plain(round(lv * LEVEL_STEPS)) * (1 - saving * (1 - lv / len(KODAK))))

    calls: list[float] = []

    def refine_at(lv: float) -> list[bytes]:
        calls.append(lv)
        return [lv]

    chosen, segments = spend_saving(refine_at, lambda lv, seg: refined_size(lv), level, [level], budget,
                                    len(KODAK), KODAK)
    assert segments == [chosen] and len(calls) <= 2
    assert refined_size(chosen) <= budget
    if refined_size(level) < 0.97 * budget:
        assert chosen > level and refined_size(chosen) > 0.9 * budget
    else:
        assert chosen == level and not calls
