"""The shipped model file: one safetensors file holding everything a coder needs.

Contents: the float transforms (``g_a``, ``h_a``, ``g_s``, gains) in float16,
the integer entropy path (weights, biases, shifts as integers), ``z_loc``
and the scale thresholds, and the exact CDF tables for ``z`` and ``y``. The
tables are stored, not recomputed, so no platform's libm can change them;
the file's SHA-256 is the model digest written into every coded file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load, save_file

from codec.entropy import CdfTables
from codec.models.image.hyperprior.family import FORMAT
from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel
from codec.models.image.hyperprior.integer_path import IntegerEntropyPath
from codec.nn.integer import IntegerConv
from codec.zoo import weights_metadata

# Stored in floating point; z_loc and z_log_scale only to continue training (coding uses int.z_loc and the tables).
FLOAT_PREFIXES = ("g_a.", "h_a.", "g_s.", "log_gain", "log_inverse_gain", "z_loc", "z_log_scale")


@dataclass
class LoadedModel:
    model_id: str
    digest: bytes
    config: HyperpriorConfig
    float_model: HyperpriorImageModel   # only g_a, h_a, g_s and the gains are meaningful
    integer_path: IntegerEntropyPath
    z_tables: CdfTables
    y_tables: CdfTables
    metadata: dict
    float_keys: frozenset[str] = frozenset()  # float tensors the file holds (the rest of float_model is untrained)


def _conv_tensors(prefix: str, conv: IntegerConv) -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {f"{prefix}.weight": conv.weight.to(torch.int16).contiguous(),
               f"{prefix}.bias": conv.bias.to(torch.int64).contiguous(),
               f"{prefix}.shift": conv.shift.to(torch.int64).contiguous()}
    return tensors, {"stride": conv.stride, "transposed": conv.transposed, "relu": conv.relu,
                     "f_in": conv.f_in, "f_out": conv.f_out}


def save_model_file(path: str | Path, model_id: str, model: HyperpriorImageModel, path_int: IntegerEntropyPath,
                    z_tables: tuple[np.ndarray, ...], y_tables: tuple[np.ndarray, ...], info: dict) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if name.startswith(FLOAT_PREFIXES):
            dtype = torch.float32 if name.startswith(("log_", "z_")) else torch.float16
            tensors[name] = value.detach().to(dtype).contiguous()
    layers = {}
    for i, conv in enumerate(path_int.hyper_synthesis):
        t, meta = _conv_tensors(f"int.h_s.{i}", conv)
        tensors.update(t)
        layers[f"int.h_s.{i}"] = meta
    t, meta = _conv_tensors("int.context", path_int.context)
    tensors.update(t)
    layers["int.context"] = meta
    for i, conv in enumerate(path_int.entropy_parameters):
        t, meta = _conv_tensors(f"int.ep.{i}", conv)
        tensors.update(t)
        layers[f"int.ep.{i}"] = meta
    tensors["int.z_loc"] = path_int.z_loc.to(torch.int64)
    tensors["int.scale_thresholds"] = path_int.scale_thresholds.to(torch.int64)
    for name, (cdfs, lengths, offsets) in (("z", z_tables), ("y", y_tables)):
        tensors[f"tables.{name}.cdfs"] = torch.from_numpy(np.ascontiguousarray(cdfs, dtype=np.int32))
        tensors[f"tables.{name}.lengths"] = torch.from_numpy(np.ascontiguousarray(lengths, dtype=np.int32))
        tensors[f"tables.{name}.offsets"] = torch.from_numpy(np.ascontiguousarray(offsets, dtype=np.int32))
    metadata = {"format": FORMAT, "model_id": model_id, "config": json.dumps(model.config.to_dict()),
                "layers": json.dumps(layers), "info": json.dumps(info)}
    save_file(tensors, str(path), metadata=metadata)


def _conv(tensors: dict[str, torch.Tensor], name: str, meta: dict) -> IntegerConv:
    return IntegerConv(tensors[f"{name}.weight"].to(torch.int64), tensors[f"{name}.bias"],
                       tensors[f"{name}.shift"], meta["stride"], meta["transposed"], meta["relu"],
                       meta.get("f_in"), meta.get("f_out"))  # absent in revision 1: only training needs them


def load_model_file(path: str | Path) -> LoadedModel:
    """Load a weights file from disk (read once: the digest is of exactly these bytes)."""
    return load_model_bytes(Path(path).read_bytes(), str(path))


def load_model_bytes(data: bytes, name: str = "weights file", *, digest: bytes | None = None) -> LoadedModel:
    """Build a :class:`LoadedModel` from the bytes of a weights file; its digest is their SHA-256
    (pass it when the caller has just computed it)."""
    path = name
    digest = digest if digest is not None else hashlib.sha256(data).digest()
    metadata = weights_metadata(data)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} model file")
    tensors = load(data)
    config = HyperpriorConfig.from_dict(json.loads(metadata["config"]))
    model = HyperpriorImageModel(config)
    float_state = {k: v.to(torch.float32) for k, v in tensors.items() if k.startswith(FLOAT_PREFIXES)}
    # z_loc and z_log_scale serve training only (revision 1 files lack them); the rest is needed to code.
    missing = [k for k in model.state_dict() if k.startswith(FLOAT_PREFIXES) and not k.startswith("z_")
               and k not in float_state]
    if missing:
        raise ValueError(f"{path} lacks tensors {missing[:3]}...")
    model.load_state_dict(float_state, strict=False)
    model.eval().requires_grad_(False)
    float_keys = frozenset(float_state)
    layers = json.loads(metadata["layers"])
    hs = [_conv(tensors, n, layers[n]) for n in sorted(k for k in layers if k.startswith("int.h_s."))]
    ep = [_conv(tensors, n, layers[n]) for n in sorted(k for k in layers if k.startswith("int.ep."))]
    path_int = IntegerEntropyPath(hs, _conv(tensors, "int.context", layers["int.context"]), ep,
                                  tensors["int.z_loc"], tensors["int.scale_thresholds"])

    def tables(name: str) -> CdfTables:
        return CdfTables(tensors[f"tables.{name}.cdfs"].numpy(), tensors[f"tables.{name}.lengths"].numpy(),
                         tensors[f"tables.{name}.offsets"].numpy())

    return LoadedModel(metadata["model_id"], digest, config, model, path_int, tables("z"), tables("y"),
                       json.loads(metadata.get("info", "{}")), float_keys)


def float_state_dict(loaded: LoadedModel) -> dict[str, torch.Tensor]:
    """Float weights of the whole model, rebuilt from a model file: the start of a further training run.

    The transforms, gains and the hyper-latent's distribution are stored in
    floating point; the entropy path is dequantized from its integer layers.
    """
    state = {k: v.clone() for k, v in loaded.float_model.state_dict().items()
             if k.startswith(FLOAT_PREFIXES) and k in loaded.float_keys}
    if not {"z_loc", "z_log_scale"} <= set(state):
        raise ValueError("this weights file lacks z_loc and z_log_scale (revision 1): it cannot seed training")
    path = loaded.integer_path
    hs_names = [f"h_s.{i}" for i, m in enumerate(loaded.float_model.h_s) if not isinstance(m, torch.nn.ReLU)]
    ep_names = [f"entropy_parameters.{i}" for i, m in enumerate(loaded.float_model.entropy_parameters)
                if not isinstance(m, torch.nn.ReLU)]
    for name, conv in [*zip(hs_names, path.hyper_synthesis), ("context", path.context),
                       *zip(ep_names, path.entropy_parameters)]:
        state[f"{name}.weight"], state[f"{name}.bias"] = conv.to_float()
    return state
