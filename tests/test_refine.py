"""Encode-time refinement (presets medium and slow): same format and decoder, lower rate-distortion cost."""

from __future__ import annotations


import numpy as np
import pytest
import torch

import codec
from codec.container import MediaType, parse_container
from codec.models.image.hyperprior.refine import Budget, Refiner
from codec.models.image.hyperprior.refine_hyper import HyperRefiner
from codec.zoo import model_for


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return data.astronaut()[64:192, 160:288].copy()  # 128 x 128


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()  # 512 x 512


def test_adam_matches_torch():
    from codec.models.image.hyperprior.annealing import Adam

    torch.manual_seed(0)
    ours = torch.randn(64, requires_grad=True)
    theirs = ours.detach().clone().requires_grad_(True)
    optimisers = Adam(ours, 0.05), torch.optim.Adam([theirs], lr=0.05)
    for _ in range(20):
        for value, optimiser in zip((ours, theirs), optimisers):
            optimiser.zero_grad()
            ((value - 1) ** 4).sum().backward()
            optimiser.step()
    assert torch.allclose(ours, theirs, atol=1e-5)


def _cost(photo, data, level):
    """The measured cost the refinement lowers: lambda * 255^2 * MSE + bits per pixel of the payload."""
    pixels = codec.decode_image(data).astype(np.float64) / 255
    mse = np.mean((pixels - photo / 255) ** 2)
    lam = float(model_for(None, MediaType.IMAGE).coder.net.level_lambdas(torch.tensor([level]))[0])
    bits = 8 * parse_container(data).packets[0].size
    return lam * 255 ** 2 * mse + bits / (photo.shape[0] * photo.shape[1])


def test_medium_lowers_the_cost_with_the_same_format(astronaut):
    # A 128 x 128 crop has 4 z positions: medium's search of the hyper-latent rarely finds better ones
    # there, and then keeps the one-pass symbols. The whole photo has 64.
    fast = codec.encode_image(astronaut, quality=2)
    medium = codec.encode_image(astronaut, quality=2, preset="medium")
    assert parse_container(medium).header == parse_container(fast).header
    assert len(parse_container(medium).packets[0].segments) == 3
    assert _cost(astronaut, medium, 1.0) < _cost(astronaut, fast, 1.0)


def test_sga_phase_runs_and_never_returns_worse_than_its_start(photo):
    coder = model_for(None, MediaType.IMAGE).coder
    y = coder.analyse(photo)
    base = coder.compress_latent(y, 2.0)
    refined = coder.encode_symbols(Refiner(coder, photo, 2.0, Budget(sga_steps=6, greedy_passes=0,
                                                                     refresh_every=3)).run(y))
    h, w = photo.shape[:2]
    got = coder.decompress(refined, h, w, 2.0)
    ref = coder.decompress(base, h, w, 2.0)
    lam = float(coder.net.level_lambdas(torch.tensor([2.0]))[0])

    def cost(segments, pixels):
        mse = np.mean((pixels / 255 - photo / 255) ** 2)
        return lam * 255 ** 2 * mse + 8 * sum(map(len, segments)) / (h * w)

    assert cost(refined, got) <= cost(base, ref) * 1.01  # the best iterate is kept (estimates are not exact)


def test_hyper_latent_search_sends_a_cheaper_z(astronaut):
    """The z search ends on other symbols that the exact tables charge fewer bits (at a low rate, where
    the one-pass z is poorest), and the coder still round-trips them."""
    photo = astronaut
    coder = model_for(None, MediaType.IMAGE).coder
    y = coder.analyse(photo)
    u = y * coder.gains(1.0)[0]
    z = coder.hyper_symbols(u)
    search = HyperRefiner(coder, 12, 0.1, (0.5, 0.05), torch.Generator().manual_seed(0))
    start = coder.symbols(u, z)
    refined = search.run(u, start)
    assert not torch.equal(refined.z, z)
    assert search.rate(refined) < search.rate(start)
    segments = coder.encode_symbols(refined)
    assert torch.equal(coder.decode_latent(segments, *photo.shape[:2]), refined.latent())


def test_hyper_latent_search_needs_the_z_distribution(photo):
    """Revision 1 files lack z's float distribution: their medium preset codes the one-pass symbols."""
    r1 = model_for("hyperprior-vr-small@1", MediaType.IMAGE).coder
    assert not HyperRefiner.available(r1)
    assert HyperRefiner.available(model_for(None, MediaType.IMAGE).coder)
    medium = codec.encode_image(photo, quality=3, preset="medium", model="hyperprior-vr-small@1")
    assert medium == codec.encode_image(photo, quality=3, model="hyperprior-vr-small@1")
    assert codec.decode_image(medium).shape == photo.shape


def test_time_limit_codes_the_best_so_far(photo):
    import time

    start = time.monotonic()
    data = codec.encode_image(photo, quality=3, preset="slow", time_limit=0.01)
    assert codec.decode_image(data).shape == photo.shape
    assert time.monotonic() - start < 120  # not a timing test: only that the limit stops the 40-step phase


def test_target_rate_still_fits_with_refinement(photo):
    budget_bpp = 0.6
    data = codec.encode_image(photo, bpp=budget_bpp, preset="medium")
    assert 8 * len(data) / (photo.shape[0] * photo.shape[1]) <= budget_bpp


def test_target_rate_with_refinement_spends_what_it_saves(astronaut):
    """Refinement makes the file smaller at the one-pass level; under a target rate that saving buys a
    higher level instead of an undershoot, and the file still fits."""
    target = 8 * len(codec.encode_image(astronaut, quality=2)) / (512 * 512)
    medium = codec.encode_image(astronaut, bpp=target, preset="medium")
    assert 0.9 * target < 8 * len(medium) / (512 * 512) <= target


def test_unknown_preset_is_a_usage_error(photo):
    with pytest.raises(codec.errors.UsageError, match="preset"):
        codec.encode_image(photo, preset="turbo")


def test_levels_interpolate_geometrically():
    from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel

    net = HyperpriorImageModel(HyperpriorConfig(lambdas=(0.01, 0.04, 0.16)))
    got = net.level_lambdas(torch.tensor([0.5, 2.0, 1.0]))
    assert torch.allclose(got, torch.tensor([0.02, 0.16, 0.04]))


def test_evaluator_measures_a_retuned_preset_again(monkeypatch):
    """The evaluator's cache keys on a codec's settings: a preset's budget is one of them, so changing it
    cannot silently reuse measurements of the old budget."""
    from codec.eval.codecs.nmc import codecs
    from codec.models.image.hyperprior import refine

    def medium_settings() -> dict:
        return next(c for c in codecs() if c.name == "nmc-hyperprior-vr-small:medium").settings()

    before = medium_settings()
    monkeypatch.setitem(refine.BUDGETS, "medium", refine.Budget(sga_steps=0, greedy_passes=2))
    assert medium_settings() != before
