"""Registry of the models shipped with the package, by stable string id.

A coded file names its model by id and pins it by digest; ``load_image_model``
is cached so a process (or a batch worker) loads each model once.
"""

from __future__ import annotations

import functools
from pathlib import Path

from codec.errors import BadInputError, ModelMismatchError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

IMAGE_MODELS: dict[str, str] = {
    "hyperprior-vr-small": "hyperprior-vr-small.safetensors",
}
DEFAULT_IMAGE_MODEL = "hyperprior-vr-small"


@functools.lru_cache(maxsize=None)
def load_image_model(model_id: str = DEFAULT_IMAGE_MODEL):
    """The :class:`~codec.models.image.coder.HyperpriorCoder` for a shipped model id."""
    from codec.models.image.coder import HyperpriorCoder
    from codec.models.image.model_file import load_model_file

    if model_id not in IMAGE_MODELS:
        raise BadInputError(f"unknown image model {model_id!r}; shipped models: {', '.join(IMAGE_MODELS)}")
    path = WEIGHTS_DIR / IMAGE_MODELS[model_id]
    try:
        model = load_model_file(path)
    except FileNotFoundError:
        raise BadInputError(f"model file {path} is missing from this installation") from None
    if model.model_id != model_id:
        raise ModelMismatchError(f"{path} holds model {model.model_id!r}, not {model_id!r}")
    return HyperpriorCoder(model)


def coder_for(model_id: str, digest: bytes):
    """The coder a file asks for, refusing a digest that does not match the shipped weights."""
    coder = load_image_model(model_id)
    if coder.model.digest != digest:
        raise ModelMismatchError(
            f"file was coded with other weights of model {model_id!r} (digest {digest.hex()[:16]}..., "
            f"installed {coder.model.digest.hex()[:16]}...); decode it with the release that wrote it")
    return coder
