"""Start a new training schedule from a trained image model with more latent channels or other levels.

Why: training compute is the scarce resource, and a trained model's
transforms are worth keeping when the architecture outgrows it. The
number of latent channels ``M`` caps the quality a model can reach at high
rates (with 128 channels per 16x16x3 block, even a PCA of Kodak's own
blocks stops near 33 dB), so growing ``M`` lifts that cap without throwing
the trained analysis and synthesis transforms away. Likewise the quality
levels can be re-placed on the lambda axis without losing the learned gains.

How the old model is embedded in the new one:

- every old weight keeps its place; the channel blocks that are laid out
  by ``M`` (the hyper features, the context features, the entropy
  parameters' scale and mean halves) are re-laid out block by block;
- in the entropy path, every new weight that would *feed* an old unit is
  zero (new latent channels into ``h_a`` and the context; new features into
  the entropy parameters), so the old channels keep their exact means and
  scales; new channels start with a zero mean and a wide scale;
- new channels must not die at birth. Rounding makes a small latent exactly
  zero, which gives its synthesis weights no gradient, while the rate term
  shrinks it from the first step: with zero synthesis weights, a first
  attempt lost every new channel within 2,250 steps. So new analysis
  filters start larger than the default initialisation and the synthesis
  reads them with small random weights: the reconstruction starts slightly
  perturbed, and the distortion term reaches the new channels at once;
- other new units keep the new model's random initialisation;
- gains are interpolated (and extrapolated) in ``log(lambda)`` from the old
  levels to the new ones; new channels start with the mean gain of their level.

``N`` (transform channels) and the hyper-latent channels must match.
"""

from __future__ import annotations

import math

import torch

from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel

NEW_SCALE = 2.0             # initial predicted scale of a new latent channel (its mean starts at 0)
NEW_ANALYSIS_GAIN = 3.0     # new analysis filters: the default initialisation, this much larger
NEW_SYNTHESIS_FRACTION = 0.25  # new synthesis weights: random, this fraction of the old weights' spread
# Names (prefixes) of the tensors with a dimension laid out by M; every other tensor is copied as it is.
SIZED_BY_LATENT = ("g_a.6.", "g_s.0.weight", "h_a.0.weight", "h_s.4.", "context.", "entropy_parameters.",
                   "log_gain", "log_inverse_gain")


def _blocks(total_old: int, total_new: int, block_old: int, block_new: int) -> list[tuple[slice, slice]]:
    """Old->new index ranges for a dimension made of equal blocks of size M (old) or M' (new)."""
    count = total_old // block_old
    assert count * block_old == total_old and count * block_new == total_new
    return [(slice(i * block_old, i * block_old + block_old), slice(i * block_new, i * block_new + block_old))
            for i in range(count)]


def _prefix(old: int) -> list[tuple[slice, slice]]:
    return [(slice(0, old), slice(0, old))]


def _copy(new: torch.Tensor, old: torch.Tensor, rows: list, cols: list | None = None) -> None:
    for ro, rn in rows:
        if cols is None:
            new[rn] = old[ro]
        else:
            for co, cn in cols:
                new[rn, cn] = old[ro, co]


def _gain_rows(old_log_gain: torch.Tensor, old_lambdas: tuple, new_lambdas: tuple) -> torch.Tensor:
    """Log-gains at new lambdas: piecewise linear in log(lambda) through the old levels, extended at both ends."""
    x_old = torch.log(torch.tensor(old_lambdas, dtype=torch.float64))
    rows = []
    for lam in new_lambdas:
        x = math.log(lam)
        i = int(torch.searchsorted(x_old, torch.tensor(x, dtype=torch.float64)).clamp(1, len(x_old) - 1))
        t = (x - x_old[i - 1]) / (x_old[i] - x_old[i - 1])
        rows.append(old_log_gain[i - 1].double() * (1 - t) + old_log_gain[i].double() * t)
    return torch.stack(rows).to(old_log_gain.dtype)


def grow_state_dict(old: dict[str, torch.Tensor], old_config: HyperpriorConfig,
                    new_config: HyperpriorConfig, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights for ``new_config`` that embed the trained ``old`` weights (see the module docstring)."""
    if (old_config.channels, old_config.hyper_channels) != (new_config.channels, new_config.hyper_channels):
        raise ValueError("growing changes only the latent channels and the levels; "
                         f"transform/hyper channels differ: {old_config} -> {new_config}")
    mo, mn = old_config.latent_channels, new_config.latent_channels
    if mn < mo:
        raise ValueError(f"cannot shrink the latent from {mo} to {mn} channels")
    torch.manual_seed(seed)
    new = HyperpriorImageModel(new_config).state_dict()
    for key, tensor in old.items():
        if not key.startswith(SIZED_BY_LATENT):
            new[key] = tensor.clone()
    y, hyper = _prefix(mo), _prefix(2 * mo)
    with torch.no_grad():
        # Analysis: new latent channels get random filters, large enough to survive the first steps.
        new["g_a.6.weight"] *= NEW_ANALYSIS_GAIN
        _copy(new["g_a.6.weight"], old["g_a.6.weight"], y)
        _copy(new["g_a.6.bias"], old["g_a.6.bias"], y)
        # Synthesis reads the new channels a little from the start, so the distortion reaches them.
        spread = old["g_s.0.weight"].std()
        new["g_s.0.weight"].normal_(0.0, NEW_SYNTHESIS_FRACTION * float(spread))
        _copy(new["g_s.0.weight"], old["g_s.0.weight"], y)
        # The entropy path: zero weights from the new channels into old units.
        new["h_a.0.weight"].zero_()
        _copy(new["h_a.0.weight"], old["h_a.0.weight"], _prefix(old["h_a.0.weight"].shape[0]), y)
        # Hyper features (2M) and context features (2M) keep their old indexes.
        _copy(new["h_s.4.weight"], old["h_s.4.weight"], hyper)
        _copy(new["h_s.4.bias"], old["h_s.4.bias"], hyper)
        new["context.weight"][:, mo:] = 0
        _copy(new["context.weight"], old["context.weight"], hyper, y)
        _copy(new["context.bias"], old["context.bias"], hyper)
        # Entropy parameters: input [hyper | context], hidden units, output [scales | means].
        inputs = _blocks(4 * mo, 4 * mn, 2 * mo, 2 * mn)
        for layer in (0, 2, 4):
            w_new, w_old = new[f"entropy_parameters.{layer}.weight"], old[f"entropy_parameters.{layer}.weight"]
            b_new, b_old = new[f"entropy_parameters.{layer}.bias"], old[f"entropy_parameters.{layer}.bias"]
            if layer == 4:
                rows = _blocks(2 * mo, 2 * mn, mo, mn)
                w_new.zero_()
                b_new.zero_()
                b_new[mo:mn] = NEW_SCALE
            else:
                # Old units read only old inputs; new units keep random weights on every input.
                rows = _prefix(w_old.shape[0])
                w_new[: w_old.shape[0]] = 0
            _copy(w_new, w_old, rows, inputs)
            _copy(b_new, b_old, rows)
            inputs = _prefix(w_old.shape[0])
        # Gains at the new levels; new channels start with their level's mean gain.
        for key in ("log_gain", "log_inverse_gain"):
            rows = _gain_rows(old[key], old_config.lambdas, new_config.lambdas)
            grown = rows.mean(dim=1, keepdim=True).repeat(1, mn)
            grown[:, :mo] = rows
            new[key] = grown
    return new
