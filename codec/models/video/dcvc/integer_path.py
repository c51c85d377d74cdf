"""The exact part of coding a frame: from the previous feature and the decoded symbols to the new feature.

Everything that decides probabilities or feeds the next frame runs here in
exact integer arithmetic (``codec.nn.integer``), so the encoder and every
decoder compute the same contexts, means, table indexes and propagated
feature on any machine, thread count or device, and never drift apart.
Fixed-point formats (value = integer / 2^f):

- the propagated feature: ``fractions["feature"]`` bits;
- decoded hyper-latent ``z_hat = z_symbol * 2^Z_FRACTION + z_loc[qp]``;
- decoded latent ``y_hat = y_symbol * 2^Y_FRACTION + mean``; means and
  scales come out of ``fusion_head`` / ``spatial_prior`` with ``Y_FRACTION``;
- a table index is the number of ``scale_thresholds`` a scale reaches.

A quality vector ``q`` (per channel, per quality index) multiplies an
activation exactly: ``requantize(x * mult[qp][c], exponent[qp] + f_in - f_out)``
with ``q ~= mult / 2^exponent``.

``from_float`` is the one place where floats become integers: it records
the inputs of each exact module while the float model codes calibration
clips, converts each module with :func:`codec.nn.integer.convert`, and
quantizes the quality vectors, ``z``'s locations and its table indexes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codec.nn import integer as I
from codec.nn.integer import functional as IF
from codec.nn.integer.arith import fraction_bits_for, requantize, saturate

Y_FRACTION = 8
Z_FRACTION = 8
MULT_BITS = 12                   # quality multipliers: integers below 2^12
#: the exact modules, in coding order
MODULES = ("extract1", "extract2", "temporal_prior", "hyper_synthesis", "fusion", "fusion_head", "spatial_prior",
           "decoder")
#: the exact quality scalings: name -> (float vector, input fraction key, output fraction key)
SCALINGS = {"q_ctx": ("log_q_ctx", "x1", "ctx_t"), "inverse_gain": ("log_inverse_gain", "y", "y_in"),
            "q_feature": ("log_q_feature", "decoded", "feature"), "feature_skip": ("feature_skip", "feature", "feature")}


@dataclass
class ChannelScale:
    """``x * q[qp]`` per channel, exactly: int ``mult`` (qps, C), int ``exponent`` (qps,)."""

    mult: torch.Tensor
    exponent: torch.Tensor
    f_in: int
    f_out: int

    def __call__(self, x: torch.Tensor, qp: int) -> torch.Tensor:
        m = self.mult[qp].to(device=x.device, dtype=torch.int64).view(1, -1, 1, 1)
        return requantize(x * m, int(self.exponent[qp]) + self.f_in - self.f_out)

    @classmethod
    def quantize(cls, q: torch.Tensor, f_in: int, f_out: int) -> "ChannelScale":
        """From float vectors ``q`` (rows, C): per row the largest exponent keeping |mult| < 2^12."""
        q = q.detach().double()
        peak = q.abs().amax(dim=1).clamp_min(1e-30)
        exponent = torch.floor(torch.log2(((1 << MULT_BITS) - 1) / peak)).to(torch.int64).clamp(-20, 40)
        mult = torch.round(q * torch.pow(2.0, exponent.double())[:, None]).to(torch.int64)
        return cls(mult, exponent, f_in, f_out)


@dataclass
class ExactPath:
    modules: dict[str, I.IntegerModule]
    scales: dict[str, ChannelScale]
    fractions: dict[str, int]
    z_loc: torch.Tensor            # int64 (qps, Z), Z_FRACTION fraction bits
    z_index: torch.Tensor          # int32 (qps, Z): table of each z channel at each quality index
    scale_thresholds: torch.Tensor  # int64 (T-1,), Y_FRACTION fraction bits, ascending

    # -- the steps of one frame ----------------------------------------------------------------
    def contexts(self, reference: torch.Tensor, qp: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(ctx, ctx_t) from the previous feature (int64, ``feature`` fraction bits)."""
        x1 = self.modules["extract1"](reference)
        return self.modules["extract2"](x1), self.scales["q_ctx"](x1, qp)

    def z_hat(self, z_symbols: torch.Tensor, qp: int) -> torch.Tensor:
        loc = self.z_loc[qp].to(z_symbols.device).view(1, -1, 1, 1)
        return saturate(z_symbols.to(torch.int64) * (1 << Z_FRACTION) + loc)

    def priors(self, z_hat: torch.Tensor, ctx_t: torch.Tensor) -> torch.Tensor:
        hier = self.modules["hyper_synthesis"](z_hat)
        temporal = self.modules["temporal_prior"](ctx_t)
        f = self.fractions
        return self.modules["fusion"](IF.concat([hier, temporal], [f["hier"], f["temporal"]], f["fusion_in"]))

    def anchor_parameters(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means (Y_FRACTION) and table indexes of every position from the hyper and temporal priors."""
        return self._split(self.modules["fusion_head"](h))

    def nonanchor_parameters(self, y_hat_anchors: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``y_hat_anchors``: the decoded anchors, zero at the other positions."""
        f = self.fractions
        x = IF.concat([saturate(y_hat_anchors), h], [Y_FRACTION, f["h"]], f["spatial_in"])
        return self._split(self.modules["spatial_prior"](x))

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = params.chunk(2, dim=1)
        return means, self.table_index(scales)

    def table_index(self, scales: torch.Tensor) -> torch.Tensor:
        return IF.table_index(scales, self.scale_thresholds).to(torch.int32)

    def synthesise(self, y_hat: torch.Tensor, ctx: torch.Tensor, reference: torch.Tensor, qp: int) -> torch.Tensor:
        """The new feature (propagated to the next frame and reconstructed into pixels)."""
        y_in = self.scales["inverse_gain"](saturate(y_hat), qp)
        decoded = self.modules["decoder"]((y_in, ctx))
        f = self.fractions["feature"]
        return IF.add([self.scales["q_feature"](decoded, qp), self.scales["feature_skip"](reference, 0)], [f, f], f)

    # -- serialization -------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors, specs = {}, {}
        for name, module in self.modules.items():
            t, spec = module.state()
            tensors.update({f"int.{name}.{k}": v for k, v in t.items()})
            specs[name] = spec
        for name, s in self.scales.items():
            tensors[f"int.{name}.mult"] = s.mult.to(torch.int32).contiguous()
            tensors[f"int.{name}.exponent"] = s.exponent.to(torch.int32).contiguous()
        tensors["int.z_loc"] = self.z_loc.to(torch.int32).contiguous()
        tensors["int.z_index"] = self.z_index.to(torch.int32).contiguous()
        tensors["int.scale_thresholds"] = self.scale_thresholds.to(torch.int64).contiguous()
        return tensors, {"modules": specs, "fractions": self.fractions}

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], meta: dict) -> "ExactPath":
        fractions = {k: int(v) for k, v in meta["fractions"].items()}
        modules = {}
        for name in MODULES:
            prefix = f"int.{name}."
            own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            modules[name] = I.IntegerModule.from_state(own, meta["modules"][name])
        scales = {name: ChannelScale(tensors[f"int.{name}.mult"].to(torch.int64),
                                     tensors[f"int.{name}.exponent"].to(torch.int64), fractions[f_in],
                                     fractions[f_out])
                  for name, (_, f_in, f_out) in SCALINGS.items()}
        return cls(modules, scales, fractions, tensors["int.z_loc"].to(torch.int64),
                   tensors["int.z_index"].to(torch.int32), tensors["int.scale_thresholds"].to(torch.int64))

    # -- conversion ----------------------------------------------------------------------------
    @classmethod
    def from_float(cls, model, calibration: list[dict[str, torch.Tensor]], scale_grid: torch.Tensor) -> "ExactPath":
        """Quantize ``model``'s exact path; ``calibration`` holds the recorded inputs of every module
        (see :func:`record_inputs`)."""
        cfg = model.config

        def peak(key: str) -> float:
            return max(float(batch[key].abs().max()) for batch in calibration)

        def inputs(key: str) -> list:
            return [batch[key] for batch in calibration]

        f = {"feature": fraction_bits_for(peak("reference")), "y": Y_FRACTION, "z": Z_FRACTION,
             "ctx_t": fraction_bits_for(peak("ctx_t")), "y_in": fraction_bits_for(peak("y_in")),
             "decoded": fraction_bits_for(peak("decoded"))}
        mods = {}
        mods["extract1"] = I.convert(model.extract1, inputs("reference"), f_in=f["feature"])
        f["x1"] = mods["extract1"].f_out
        mods["extract2"] = I.convert(model.extract2, inputs("x1"), f_in=f["x1"])
        f["ctx"] = mods["extract2"].f_out
        mods["temporal_prior"] = I.convert(model.temporal_prior, inputs("ctx_t"), f_in=f["ctx_t"])
        f["temporal"] = mods["temporal_prior"].f_out
        mods["hyper_synthesis"] = I.convert(model.hyper_synthesis, inputs("z_hat"), f_in=Z_FRACTION)
        f["hier"] = mods["hyper_synthesis"].f_out
        f["fusion_in"] = min(f["hier"], f["temporal"])
        mods["fusion"] = I.convert(model.fusion, inputs("fusion_in"), f_in=f["fusion_in"])
        f["h"] = mods["fusion"].f_out
        mods["fusion_head"] = I.convert(model.fusion_head, inputs("h"), f_in=f["h"], f_out=Y_FRACTION)
        f["spatial_in"] = min(Y_FRACTION, f["h"])
        mods["spatial_prior"] = I.convert(model.spatial_prior, inputs("spatial_in"), f_in=f["spatial_in"],
                                          f_out=Y_FRACTION)
        mods["decoder"] = I.convert(model.decoder, [(b["y_in"], b["ctx"]) for b in calibration],
                                    f_in=[f["y_in"], f["ctx"]], f_out=f["decoded"])
        qps = torch.arange(cfg.qps, dtype=torch.float32)
        vectors = model.vectors(qps)
        vectors["feature_skip"] = model.feature_skip.detach()[None, :, None, None]  # one row: no quality index
        scales = {name: ChannelScale.quantize(vectors[name][:, :, 0, 0], f[f_in], f[f_out])
                  for name, (_, f_in, f_out) in SCALINGS.items()}
        z_loc = torch.round(vectors["z_loc"][:, :, 0, 0].double() * (1 << Z_FRACTION)).to(torch.int64)
        mids = torch.sqrt(scale_grid[:-1].double() * scale_grid[1:].double())
        thresholds = torch.ceil(mids * (1 << Y_FRACTION)).to(torch.int64)
        z_scale = torch.round(vectors["z_scale"][:, :, 0, 0].double() * (1 << Y_FRACTION)).to(torch.int64)
        z_index = IF.table_index(z_scale, thresholds).to(torch.int32)
        return cls(mods, scales, f, z_loc, z_index, thresholds)


@torch.no_grad()
def record_inputs(model, packed: torch.Tensor, reference: torch.Tensor | None, qp: torch.Tensor) -> dict:
    """Code one frame with the float model (rounding as at coding time) and keep every exact module's input."""
    from codec.nn.checkerboard import anchor_mask

    cfg = model.config
    if reference is None:
        reference = packed.new_zeros(packed.shape[0], cfg.channels, *packed.shape[2:])
    v = model.vectors(qp)
    x1 = model.extract1(reference)
    ctx, ctx_t = model.extract2(x1), x1 * v["q_ctx"]
    y = model.analyse(packed, ctx, v)
    z = model.hyper_analysis(y)
    z_hat = torch.round(z - v["z_loc"]) + v["z_loc"]
    hier, temporal = model.hyper_synthesis(z_hat), model.temporal_prior(ctx_t)
    fusion_in = torch.cat([hier, temporal], dim=1)
    h = model.fusion(fusion_in)
    scales_a, means_a = model.fusion_head(h).chunk(2, dim=1)
    mask = anchor_mask(*y.shape[2:], device=y.device)
    y_hat_a = (torch.round(y - means_a) + means_a) * mask
    spatial_in = torch.cat([y_hat_a, h], dim=1)
    _, means_n = model.spatial_prior(spatial_in).chunk(2, dim=1)
    means = means_a * mask + means_n * (1 - mask)
    y_hat = torch.round(y - means) + means
    y_in = y_hat * v["inverse_gain"]
    decoded = model.decoder((y_in, ctx))
    feature = decoded * v["q_feature"] + reference * model.feature_skip[None, :, None, None]
    return {"reference": reference, "x1": x1, "ctx": ctx, "ctx_t": ctx_t, "z_hat": z_hat, "fusion_in": fusion_in,
            "h": h, "spatial_in": spatial_in, "y_in": y_in, "decoded": decoded, "feature": feature}


__all__ = ["ChannelScale", "ExactPath", "MODULES", "Y_FRACTION", "Z_FRACTION", "record_inputs"]
