"""The shipped weights file of the token codec: one safetensors file holding everything a coder needs.

Contents: the encoder and the synthesis in float16 (the float parts); the
three context models of the prior as integer tensors with their JSON specs
in the metadata (exact; ``prior.py``); the architecture and the training
facts. The discriminator is not shipped. The file's SHA-256 is the model
digest written into every coded file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch
from safetensors.torch import load, save

from codec.models.image.vq.family import FORMAT
from codec.models.image.vq.network import VqConfig, VqModel
from codec.models.image.vq.prior import GRIDS, IntegerPrior
from codec.models.image.vq.softmax import EXP_TABLE_SHA256, LOGIT_FRACTION
from codec.nn.integer import IntegerModule
from codec.zoo import weights_metadata

FLOAT_PREFIXES = ("encoder.", "synthesis.")


@dataclass
class LoadedVq:
    model_id: str
    digest: bytes
    config: VqConfig
    float_model: VqModel       # only the encoder and the synthesis are meaningful
    prior: IntegerPrior
    info: dict


def model_file_bytes(model_id: str, model: VqModel, prior: IntegerPrior, info: dict) -> bytes:
    """The weights file of a float model (its float parts) and its integer prior."""
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if name.startswith(FLOAT_PREFIXES):
            tensors[f"float.{name}"] = value.detach().to(torch.float16).contiguous()
    specs = []
    for s, net in enumerate(prior.nets):
        state, spec = net.state()
        for key, value in state.items():
            tensors[f"int.prior.{s}.{key}"] = value.contiguous()
        specs.append(spec)
    integer = {"logit_fraction": LOGIT_FRACTION, "exp_table_sha256": EXP_TABLE_SHA256, "priors": specs}
    metadata = {"format": FORMAT, "model_id": model_id, "config": json.dumps(model.config.to_dict()),
                "integer": json.dumps(integer, separators=(",", ":")), "info": json.dumps(info)}
    return save(tensors, metadata=metadata)


def load_model_bytes(data: bytes, name: str = "weights file", *, digest: bytes | None = None) -> LoadedVq:
    """Build a coder's model from the bytes of a weights file (ValueError if it is not a valid one)."""
    meta = weights_metadata(data)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{name} is not a {FORMAT} model file")
    digest = digest if digest is not None else hashlib.sha256(data).digest()
    tensors = load(data)
    config = VqConfig.from_dict(json.loads(meta["config"]))
    integer = json.loads(meta["integer"])
    if integer.get("logit_fraction") != LOGIT_FRACTION or integer.get("exp_table_sha256") != EXP_TABLE_SHA256:
        raise ValueError(f"{name}: its prior was exported for another integer softmax")
    model = VqModel(config)
    float_state = {k[len("float."):]: v.to(torch.float32) for k, v in tensors.items() if k.startswith("float.")}
    missing = [k for k in model.state_dict() if k.startswith(FLOAT_PREFIXES) and k not in float_state]
    if missing:
        raise ValueError(f"{name} lacks tensors {missing[:3]}")
    model.load_state_dict(float_state, strict=False)
    model.eval().requires_grad_(False)
    nets = []
    for s in range(GRIDS):
        prefix = f"int.prior.{s}."
        own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        nets.append(IntegerModule.from_state(own, integer["priors"][s]))
    return LoadedVq(meta.get("model_id", ""), digest, config, model, IntegerPrior(nets, config.bits),
                    json.loads(meta.get("info", "{}")))
