"""The shipped weights file: the network in float16, the prior's tables, the configuration.

One safetensors file; its SHA-256 is the model digest in every coded file.
The prior is stored as integers (16-bit frequencies) and never recomputed
from floating point at decode time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load, save_file

from codec.models.audio.rvq.family import FORMAT
from codec.models.audio.rvq.network import AudioCodecNetwork, NetworkConfig
from codec.models.audio.rvq.prior import Prior
from codec.zoo import weights_metadata


@dataclass
class LoadedModel:
    model_id: str
    digest: bytes
    config: NetworkConfig
    network: AudioCodecNetwork
    prior: Prior
    info: dict


def save_model_file(path: str | Path, model_id: str, network: AudioCodecNetwork, prior: Prior, info: dict) -> None:
    tensors = {f"net.{k}": v.detach().to(torch.float16).contiguous() for k, v in network.state_dict().items()}
    tensors["prior.freqs"] = torch.from_numpy(np.ascontiguousarray(prior.freqs, dtype=np.uint16))
    metadata = {"format": FORMAT, "model_id": model_id, "config": json.dumps(network.cfg.to_dict()),
                "info": json.dumps(info)}
    save_file(tensors, str(path), metadata=metadata)


def load_model_bytes(data: bytes, name: str = "weights file") -> LoadedModel:
    """Build a model from the bytes of a weights file; its digest is their SHA-256."""
    metadata = weights_metadata(data)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{name} is not a {FORMAT} model file")
    tensors = load(data)
    config = NetworkConfig.from_dict(json.loads(metadata["config"]))
    network = AudioCodecNetwork(config)
    state = {k[4:]: v.to(torch.float32) for k, v in tensors.items() if k.startswith("net.")}
    network.load_state_dict(state)
    network.eval().requires_grad_(False)
    prior = Prior(tensors["prior.freqs"].numpy().astype(np.uint16))
    if prior.levels != config.codebooks or prior.size != config.codebook_size:
        raise ValueError(f"{name}: prior tables do not match the codebooks")
    return LoadedModel(metadata["model_id"], hashlib.sha256(data).digest(), config, network, prior,
                       json.loads(metadata.get("info", "{}")))


def load_model_file(path: str | Path) -> LoadedModel:
    return load_model_bytes(Path(path).read_bytes(), str(path))
