"""From the float model's top-down path to :class:`IntegerTopDown`: calibration and the one float-to-integer step.

Calibration runs the float model as the coder does (rounded symbols) on
training crops at the lowest and the highest level, where activations peak,
recording every module's output peak; then each group's ``entry``, ``prior``
and ``merge`` is converted with :func:`codec.nn.integer.convert`, in file
order, each taking the fraction bits the previous one produces. The prior
heads are forced to produce ``FRACTION`` fraction bits, the format of means,
log-scales and decoded latents.
"""

from __future__ import annotations

import torch
from torch import nn

from codec.models.image.hvae.integer_path import FRACTION, IntegerTopDown
from codec.models.image.hvae.network import HvaeModel
from codec.models.image.hvae.tables import scale_grid
from codec.nn.integer import Calibration, attach_fake_quant, calibrate, convert, fraction_bits_for, to_fixed


class _CodingPass(nn.Module):
    """The float model's coding pass as a one-input module, so :func:`calibrate` can hook it."""

    def __init__(self, model: HvaeModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, level = inputs
        return self.model(x, level, coding=True)["x_hat"]


def calibration_of(model: HvaeModel, images: torch.Tensor) -> Calibration:
    """Peaks of every module's output over ``images`` coded at the lowest and the highest level."""
    levels = model.config.levels
    batches = [[images, torch.zeros(len(images))], [images, torch.full((len(images),), float(levels - 1))]]
    return calibrate(_CodingPass(model), batches)


def scale_thresholds(grid: torch.Tensor) -> torch.Tensor:
    """Log-scale thresholds (FRACTION bits) between the tables' scales: at their geometric midpoints."""
    logs = torch.log(grid.double())
    mids = (logs[:-1] + logs[1:]) / 2
    return torch.ceil(mids * (1 << FRACTION)).to(torch.int64)


def to_integer(model: HvaeModel, images: torch.Tensor, grid: torch.Tensor) -> IntegerTopDown:
    """The exact top-down path of ``model``, calibrated on ``images`` (B, 3, H, W in [0, 1], multiples of 64)."""
    model = model.eval()
    cal = calibration_of(model, images)
    constant = model.constant.detach().view(-1)
    f = fraction_bits_for(float(constant.abs().max()))
    constant_int = to_fixed(constant, f)
    constant_fraction = f
    entries, priors, merges = [], [], []
    for group in model.groups:
        if group.entry is not None:
            entry = convert(group.entry, calibration=cal, f_in=f)
            f = entry.f_out
        else:
            entry = None
        entries.append(entry)
        priors.append(convert(group.prior, calibration=cal, f_in=f, f_out=FRACTION))
        merge = convert(group.merge, calibration=cal, f_in=[f, FRACTION])
        merges.append(merge)
        f = merge.f_out
    steps, log_steps = [], []
    for table in model.log_steps:
        t = table.detach().double()
        steps.append(torch.round(torch.exp(t) * (1 << FRACTION)).clamp_min(1).to(torch.int64))
        log_steps.append(torch.round(t * (1 << FRACTION)).to(torch.int64))
    return IntegerTopDown(constant_int, constant_fraction, entries, priors, merges, steps, log_steps,
                          scale_thresholds(grid))


def attach_integer_rounding(model: HvaeModel, images: torch.Tensor) -> list:
    """Quantization-aware training: round the outputs of every ``entry``, ``prior`` and ``merge`` (and their
    inner layers) to the fraction bits their integer twins use. Returns the hook handles."""
    was_training = model.training
    path = to_integer(model, images.float(), scale_grid())
    model.train(was_training)
    handles = []
    for group, entry, prior, merge in zip(model.groups, path.entries, path.priors, path.merges):
        if entry is not None:
            handles += attach_fake_quant(group.entry, entry)
        handles += attach_fake_quant(group.prior, prior)
        handles += attach_fake_quant(group.merge, merge)
    return handles
