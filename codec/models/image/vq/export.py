"""Turning a training checkpoint into the shipped weights file.

This is where the context models' floats become integers: each is
calibrated on the contexts of real tokens (training crops coded at several
granularities) and converted with its logits at ``LOGIT_FRACTION`` fraction
bits, the unit of the integer softmax's exp table.
"""

from __future__ import annotations

from pathlib import Path

import torch

from codec.io.atomic import atomic_output
from codec.models.image.vq.granularity import block_information, levels_from_ranking, presence
from codec.models.image.vq.model_file import model_file_bytes
from codec.models.image.vq.network import VqConfig, VqModel, anchors, parameter_count, prior_inputs
from codec.models.image.vq.prior import IntegerPrior
from codec.models.image.vq.softmax import LOGIT_FRACTION
from codec.models.image.hyperprior.export import calibration_batch
from codec.nn.integer import convert
from codec.train.ema import load_ema


@torch.no_grad()
def prior_contexts(model: VqModel, images: torch.Tensor) -> list[list[torch.Tensor]]:
    """Per grid, the context tensors of both passes on ``images`` at fine fractions 0, 0.5 and 1."""
    bits = model.config.bits
    tokens = model.tokens(images)
    info = block_information(images)
    contexts: list[list[torch.Tensor]] = [[], [], []]
    for fine, finest in ((0.0, 0.0), (0.5, 0.25), (1.0, 1.0)):
        present = presence(levels_from_ranking(info, fine, finest))
        for s in range(3):
            b, _, h, w = tokens[s].shape
            coarser = None if s == 0 else tokens[s - 1]
            coarser_present = None if s == 0 else present[s - 1]
            a = anchors(h, w)
            contexts[s].append(prior_inputs(bits, coarser, coarser_present, None, None, h, w, b))
            contexts[s].append(prior_inputs(bits, coarser, coarser_present, tokens[s], a * present[s], h, w, b))
    return contexts


def to_integer(model: VqModel, images: torch.Tensor) -> IntegerPrior:
    contexts = prior_contexts(model, images)
    nets = [convert(model.priors[s].eval(), contexts[s], f_in=0, f_out=LOGIT_FRACTION) for s in range(3)]
    return IntegerPrior(nets, model.config.bits)


def export_model(model: VqModel, calibration: torch.Tensor, model_id: str, info: dict) -> bytes:
    """The weights file of a float model: its integer prior calibrated on ``calibration`` crops."""
    prior = to_integer(model, calibration)
    info = dict(info, parameters={"encoder": parameter_count(model.encoder),
                                  "synthesis": parameter_count(model.synthesis),
                                  "prior": parameter_count(model.priors)})
    return model_file_bytes(model_id, model, prior, info)


def export_checkpoint(checkpoint: str | Path, out: str | Path, model_id: str, calibration_folders: list[str],
                      info: dict, *, exclude: tuple[str, ...] = ("kodak",)) -> None:
    model, state = load_ema(checkpoint, lambda config: VqModel(VqConfig.from_dict(config)))
    images = calibration_batch(calibration_folders, exclude)
    info = dict(info, step=int(state["step"]), train_seconds=round(float(state.get("seconds", 0.0))))
    data = export_model(model, images, model_id, info)
    with atomic_output(Path(out), overwrite=True) as f:
        f.write(data)
