"""The shipped weights bundle: one safetensors file holding everything a video coder needs.

Contents: the float encoder and reconstruction (``encoder_in``, ``encoder``,
``hyper_analysis``, ``recon``, ``recon_head``) in float16 and the quality
vectors they use in float32; the exact path (integer modules, quality
multipliers, ``z`` locations and table indexes, scale thresholds) as
integers with its JSON spec in the metadata; and the CDF tables, stored so
no platform's libm can change them. The intra and the inter coder are one
network (an intra frame is coded against a zero feature), so this one file
is the whole model and its SHA-256 is the digest in every coded file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load, save

from codec.entropy import CdfTables
from codec.models.video.dcvc.family import FORMAT
from codec.models.video.dcvc.integer_path import ExactPath
from codec.models.video.dcvc.network import VideoConfig, VideoModel
from codec.zoo import weights_metadata

FLOAT_PREFIXES = ("encoder_in.", "encoder.", "hyper_analysis.", "recon.", "recon_head.")
VECTORS = ("log_gain", "log_q_recon")   # the float halves of the quality vectors (encoder, reconstruction)


@dataclass
class LoadedModel:
    model_id: str
    digest: bytes
    config: VideoConfig
    float_model: VideoModel      # only the float parts and their vectors are meaningful
    exact: ExactPath
    tables: CdfTables
    metadata: dict


def model_bytes(model_id: str, model: VideoModel, exact: ExactPath, tables: tuple[np.ndarray, ...],
                info: dict) -> bytes:
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if name.startswith(FLOAT_PREFIXES):
            tensors[name] = value.detach().to(torch.float16).contiguous()
        elif name in VECTORS:
            tensors[name] = value.detach().to(torch.float32).contiguous()
    int_tensors, exact_meta = exact.state()
    tensors.update(int_tensors)
    cdfs, lengths, offsets = tables
    tensors["tables.cdfs"] = torch.from_numpy(np.ascontiguousarray(cdfs, dtype=np.int32))
    tensors["tables.lengths"] = torch.from_numpy(np.ascontiguousarray(lengths, dtype=np.int32))
    tensors["tables.offsets"] = torch.from_numpy(np.ascontiguousarray(offsets, dtype=np.int32))
    metadata = {"format": FORMAT, "model_id": model_id, "config": json.dumps(model.config.to_dict()),
                "exact": json.dumps(exact_meta, separators=(",", ":")), "info": json.dumps(info)}
    return save(tensors, metadata=metadata)


def load_model_file(path: str | Path) -> LoadedModel:
    return load_model_bytes(Path(path).read_bytes(), str(path))


def load_model_bytes(data: bytes, name: str = "weights file") -> LoadedModel:
    """Build a :class:`LoadedModel` from the bytes of a weights file; its digest is their SHA-256."""
    digest = hashlib.sha256(data).digest()
    metadata = weights_metadata(data)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{name} is not a {FORMAT} model file")
    tensors = load(data)
    config = VideoConfig.from_dict(json.loads(metadata["config"]))
    model = VideoModel(config)
    float_state = {k: v.to(torch.float32) for k, v in tensors.items() if k.startswith(FLOAT_PREFIXES) or k in VECTORS}
    missing = [k for k in model.state_dict() if (k.startswith(FLOAT_PREFIXES) or k in VECTORS)
               and k not in float_state]
    if missing:
        raise ValueError(f"{name} lacks tensors {missing[:3]}...")
    model.load_state_dict(float_state, strict=False)
    model.eval().requires_grad_(False)
    try:
        exact = ExactPath.from_state({k: v for k, v in tensors.items() if k.startswith("int.")},
                                     json.loads(metadata["exact"]))
        tables = CdfTables(tensors["tables.cdfs"].numpy(), tensors["tables.lengths"].numpy(),
                           tensors["tables.offsets"].numpy())
    except KeyError as exc:
        raise ValueError(f"{name} lacks {exc.args[0]}") from None
    return LoadedModel(metadata["model_id"], digest, config, model, exact, tables,
                       json.loads(metadata.get("info", "{}")))
