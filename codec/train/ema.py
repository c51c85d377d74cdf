"""The exponential moving average of a network's weights that the image and video trainers export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, step: int, max_decay: float) -> None:
    """Move ``ema`` towards ``model`` after training step ``step``. The decay starts near 0.1 and grows
    to ``max_decay``, so the average forgets the random initialisation within the first hundred steps."""
    decay = min(max_decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - decay)


def load_ema(checkpoint: str | Path, build: Callable[[dict], torch.nn.Module], *,
             config_key: str = "model_config") -> tuple[torch.nn.Module, dict]:
    """The averaged weights of a training checkpoint, in a network built by ``build`` from the
    checkpoint's stored configuration (a dict), in eval mode; with the checkpoint's whole state.

    Every family's export starts here: what ships is the average, never the raw weights.
    """
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = build(state[config_key])
    model.load_state_dict(state["ema"])
    return model.eval(), state
