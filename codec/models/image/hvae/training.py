"""``codec train hvae``: training bursts and the export of the shipped weights file."""

from __future__ import annotations

from codec.models.base import TrainRequest

DEFAULT_ID = "hvae-small"


def train(request: TrainRequest) -> None:
    from codec.models.image.hvae.export import export_checkpoint
    from codec.models.image.hvae.train_config import HvaeTrainConfig
    from codec.models.image.hvae.trainer import HvaeTrainer
    from codec.train.bursts import train_on_crops

    train_on_crops(request, HvaeTrainConfig.load(request.config), HvaeTrainer, export_checkpoint, DEFAULT_ID)
