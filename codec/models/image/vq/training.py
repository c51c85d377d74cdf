"""``codec train vq``: training bursts and the export of the shipped weights file."""

from __future__ import annotations

from codec.models.base import TrainRequest

DEFAULT_ID = "vq-small"


def train(request: TrainRequest) -> None:
    from codec.models.image.vq.export import export_checkpoint
    from codec.models.image.vq.train_config import VqTrainConfig
    from codec.models.image.vq.trainer import VqTrainer
    from codec.train.bursts import train_on_crops

    train_on_crops(request, VqTrainConfig.load(request.config), VqTrainer, export_checkpoint, DEFAULT_ID)
