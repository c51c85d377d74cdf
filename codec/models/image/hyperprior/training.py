"""``codec train hyperprior``: the image trainer (``codec.train``) behind the family's train request."""

from __future__ import annotations

from codec.models.base import TrainRequest

DEFAULT_ID = "hyperprior-vr-small"


def train(request: TrainRequest) -> None:
    from codec.models.image.hyperprior.export import export_checkpoint
    from codec.train.bursts import train_on_crops
    from codec.train.config import TrainConfig
    from codec.train.image_trainer import ImageTrainer

    train_on_crops(request, TrainConfig.load(request.config), ImageTrainer, export_checkpoint, DEFAULT_ID)
