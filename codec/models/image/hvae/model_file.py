"""The shipped weights file of the hierarchical VAE: one safetensors file holding everything a coder needs.

Contents: the float parts (encoder, posteriors, synthesis, level embeddings)
in float16; the exact top-down path (integer modules of every group, the
constant, the step and log-step tables, the scale thresholds) as integers
with their JSON specs in the metadata; the CDF tables. Tables are stored,
never recomputed, so no platform's libm can change them; the file's SHA-256
is the model digest written into every coded file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch
from safetensors.torch import load, save

from codec.entropy import CdfTables
from codec.models.image.hvae.family import FORMAT
from codec.models.image.hvae.integer_path import FRACTION, IntegerTopDown
from codec.models.image.hvae.network import HvaeConfig, HvaeModel
from codec.nn.integer import IntegerModule
from codec.zoo import weights_metadata

# Float tensors a coder needs (the rest of the float model is the integer path's float origin).
FLOAT_PREFIXES = ("encoder.", "synthesis.", "synthesis_embedding.", "log_steps.")
POSTERIOR = ".posterior."
FULL_PRECISION = ("log_steps.",)   # kept in float32: the level's gains


def _is_float_part(name: str) -> bool:
    return name.startswith(FLOAT_PREFIXES) or (name.startswith("groups.") and POSTERIOR in name)


@dataclass
class LoadedHvae:
    model_id: str
    digest: bytes
    config: HvaeConfig
    float_model: HvaeModel      # only the encoder, posteriors, synthesis and embeddings are meaningful
    path: IntegerTopDown
    tables: CdfTables
    info: dict


def _module_tensors(prefix: str, module: IntegerModule | None, tensors: dict) -> dict | None:
    if module is None:
        return None
    state, spec = module.state()
    for key, value in state.items():
        tensors[f"{prefix}.{key}"] = value
    return spec


def model_file_bytes(model_id: str, model: HvaeModel, path: IntegerTopDown, tables: tuple, info: dict) -> bytes:
    """The weights file for a float model (its float parts) and its integer path."""
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if _is_float_part(name):
            dtype = torch.float32 if name.startswith(FULL_PRECISION) else torch.float16
            tensors[f"float.{name}"] = value.detach().to(dtype).contiguous()
    specs = {"entries": [], "priors": [], "merges": []}
    for g in range(path.groups):
        specs["entries"].append(_module_tensors(f"int.entry.{g}", path.entries[g], tensors))
        specs["priors"].append(_module_tensors(f"int.prior.{g}", path.priors[g], tensors))
        specs["merges"].append(_module_tensors(f"int.merge.{g}", path.merges[g], tensors))
        tensors[f"int.steps.{g}"] = path.steps[g].to(torch.int32).contiguous()
        tensors[f"int.log_steps.{g}"] = path.log_steps[g].to(torch.int32).contiguous()
    tensors["int.constant"] = path.constant.to(torch.int32).contiguous()
    tensors["int.thresholds"] = path.thresholds.to(torch.int32).contiguous()
    cdfs, lengths, offsets = tables
    tensors["tables.cdfs"] = torch.as_tensor(cdfs, dtype=torch.int32).contiguous()
    tensors["tables.lengths"] = torch.as_tensor(lengths, dtype=torch.int32).contiguous()
    tensors["tables.offsets"] = torch.as_tensor(offsets, dtype=torch.int32).contiguous()
    integer = {"fraction": FRACTION, "constant_fraction": path.constant_fraction, **specs}
    metadata = {"format": FORMAT, "model_id": model_id, "config": json.dumps(model.config.to_dict()),
                "integer": json.dumps(integer, separators=(",", ":")), "info": json.dumps(info)}
    return save(tensors, metadata=metadata)


def _module(tensors: dict, prefix: str, spec: dict | None) -> IntegerModule | None:
    if spec is None:
        return None
    own = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    return IntegerModule.from_state(own, spec)


def load_model_bytes(data: bytes, name: str = "weights file", *, digest: bytes | None = None) -> LoadedHvae:
    """Build a coder's model from the bytes of a weights file (ValueError if it is not a valid one)."""
    meta = weights_metadata(data)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{name} is not a {FORMAT} model file")
    digest = digest if digest is not None else hashlib.sha256(data).digest()
    tensors = load(data)
    config = HvaeConfig.from_dict(json.loads(meta["config"]))
    integer = json.loads(meta["integer"])
    if integer.get("fraction") != FRACTION:
        raise ValueError(f"{name}: integer path with {integer.get('fraction')} fraction bits, expected {FRACTION}")
    model = HvaeModel(config)
    float_state = {k[len("float."):]: v.to(torch.float32) for k, v in tensors.items() if k.startswith("float.")}
    missing = [k for k in model.state_dict() if _is_float_part(k) and k not in float_state]
    if missing:
        raise ValueError(f"{name} lacks tensors {missing[:3]}")
    model.load_state_dict(float_state, strict=False)
    model.eval().requires_grad_(False)
    groups = len(config.groups)
    path = IntegerTopDown(
        tensors["int.constant"].to(torch.int64), int(integer["constant_fraction"]),
        [_module(tensors, f"int.entry.{g}", integer["entries"][g]) for g in range(groups)],
        [_module(tensors, f"int.prior.{g}", integer["priors"][g]) for g in range(groups)],
        [_module(tensors, f"int.merge.{g}", integer["merges"][g]) for g in range(groups)],
        [tensors[f"int.steps.{g}"].to(torch.int64) for g in range(groups)],
        [tensors[f"int.log_steps.{g}"].to(torch.int64) for g in range(groups)],
        tensors["int.thresholds"].to(torch.int64))
    tables = CdfTables(tensors["tables.cdfs"].numpy(), tensors["tables.lengths"].numpy(),
                       tensors["tables.offsets"].numpy())
    if len(path.thresholds) + 1 != tables.num_tables:
        raise ValueError(f"{name}: {len(path.thresholds)} scale thresholds for {tables.num_tables} tables")
    return LoadedHvae(meta.get("model_id", ""), digest, config, model, path, tables, json.loads(meta.get("info", "{}")))
