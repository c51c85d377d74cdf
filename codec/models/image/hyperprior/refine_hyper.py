"""Encode-time refinement of the hyper-latent ``z`` (presets ``medium`` and ``slow``).

The one-pass encoder sends ``z = round(h_a(y))``: the hyper-analysis was
trained to predict a good ``z`` for any image, not the best one for this
image. Refinement searches ``z`` so that the table scales and means it
implies for the latent ``y`` cost the fewest bits, counting ``z``'s own bits
(Yang, Bamler and Mandt 2020 refine ``y`` and ``z``). On Kodak this is most
of what refinement gains at low rates, where the hyper-latent is a large
share of the file and the amortised guess is poorest.

The search is stochastic Gumbel annealing on ``z`` with Adam, through a
float copy of the integer entropy path (its layers dequantized): it only
steers the search. The ``z`` symbols it ends on are kept only if the exact
integer path says they cost fewer bits than the one-pass ones. The
synthesis is not involved: what ``z`` changes is the rate of ``y``; the
later phases then choose ``y`` for the new means and scales.

The 1x1 entropy-parameter layers run as matrix products on the columns of
one checkerboard colour at a time, in bands of columns whose gradients are
accumulated, so the memory stays bounded for large photos. The context of
the non-anchor positions is taken from the one-pass anchors and held fixed:
through rounding it has no gradient with respect to ``z`` anyway.
"""

from __future__ import annotations

import math

import torch

from codec.models.image.hyperprior.annealing import Adam, Stop, annealed_temperature, bin_bits, fast_bfloat16, sga_round
from codec.models.image.hyperprior.coder import HyperpriorCoder, LatentSymbols
from codec.models.image.hyperprior.integer_path import Y_FRACTION
from codec.models.image.hyperprior.model_file import float_state_dict
from codec.models.image.hyperprior.network import HyperpriorImageModel
from codec.nn.checkerboard import anchor_mask

BAND_COLUMNS = 8192      # latent positions per band of the entropy-parameter products (memory only)


class HyperRefiner:
    """Refines the hyper-latent symbols of one gained latent."""

    def __init__(self, coder: HyperpriorCoder, steps: int, learning_rate: float,
                 temperature: tuple[float, float], generator: torch.Generator) -> None:
        self.coder, self.steps, self.learning_rate = coder, steps, learning_rate
        self.temperature, self.generator = temperature, generator
        self.model = entropy_model(coder)
        self.stopped = False

    @staticmethod
    def available(coder: HyperpriorCoder) -> bool:
        """Whether the model file holds the hyper-latent's distribution (revision 1 files do not)."""
        return {"z_loc", "z_log_scale"} <= coder.model.float_keys

    def run(self, u: torch.Tensor, start: LatentSymbols, tick=lambda: None) -> LatentSymbols:
        """The symbols of the gained latent ``u`` with a refined ``z``, searched from ``start`` (the one-pass
        symbols of ``u``); ``start`` itself where the refined ones do not cost fewer bits.

        ``tick`` is called after each step; if it raises ``Stop`` (time limit),
        the search ends there and its current symbols are judged as usual.
        """
        m = self.model.to(u.device)
        u = u.float()
        loc = m.z_loc.view(1, -1, 1, 1)
        columns = _Columns(m, u, start, table_scales(self.coder))
        with torch.no_grad():
            z = self.coder.module_on("h_a", u.device)(u) - loc
        z = z.requires_grad_(True)
        optimiser = Adam(z, self.learning_rate)
        try:
            for step in range(self.steps):
                tau = annealed_temperature(step, self.steps, self.temperature)
                relaxed = sga_round(z, tau, self.generator)
                with torch.autocast(u.device.type, dtype=torch.bfloat16, enabled=fast_bfloat16(u.device)):
                    hyper = m.h_s(relaxed + loc).float()
                z_bits = bin_bits(relaxed, torch.exp(m.z_log_scale).view(1, -1, 1, 1)).sum()
                optimiser.zero_grad()
                columns.backward(hyper, z_bits)
                optimiser.step()
                tick()
        except Stop:
            self.stopped = True
        refined = self.coder.symbols(u, torch.round(z.detach().double()).to(torch.int64))
        return refined if self.rate(refined) < self.rate(start) else start

    def rate(self, s: LatentSymbols) -> float:
        """Bits of the symbols ``z`` and ``y`` (estimated from the exact path's table scales)."""
        grid = table_scales(self.coder).to(s.y.device)
        y_bits = bin_bits(s.y.double(), grid[s.index.long()]).sum()
        scale = torch.exp(self.model.z_log_scale.double()).view(1, -1, 1, 1).to(s.z.device)
        return float(y_bits + bin_bits(s.z.double(), scale).sum())


class _Columns:
    """The entropy-parameter layers as matrix products over the latent positions of each colour."""

    def __init__(self, m: HyperpriorImageModel, u: torch.Tensor, start: LatentSymbols, grid: torch.Tensor):
        rows, cols = u.shape[2:]
        mask = anchor_mask(rows, cols, device=u.device)[0, 0].bool().flatten()
        self.where = (mask.nonzero().squeeze(1), (~mask).nonzero().squeeze(1))
        layers = [l for l in m.entropy_parameters if isinstance(l, torch.nn.Conv2d)]
        # bfloat16 products where the CPU has them (three times faster; the search only steers).
        dtype = torch.bfloat16 if fast_bfloat16(u.device) else torch.float32
        self.weights = [l.weight[:, :, 0, 0].to(dtype) for l in layers]
        self.biases = [l.bias.to(dtype) for l in layers]
        channels = m.h_s[-1].out_channels
        flat = u.flatten(2)[0]
        self.targets = tuple(flat[:, w] for w in self.where)
        # The non-anchors' context, from the one-pass anchors (and the same weights' context half).
        with torch.no_grad():
            y_hat = start.latent().float() / (1 << Y_FRACTION)
            anchors = (y_hat * mask.view(1, 1, rows, cols)).float()
            context = m.context(anchors).flatten(2)[0][:, self.where[1]]
            bias = layers[0].bias[:, None]
            self.fixed = (bias.to(dtype), (bias + layers[0].weight[:, channels:, 0, 0] @ context).to(dtype))
        self.w0 = self.weights[0][:, :channels]
        # The exact path's thresholds clamp every scale to the table grid's range.
        self.scale_range = (float(grid[0]), float(grid[-1]))

    def backward(self, hyper: torch.Tensor, z_bits: torch.Tensor) -> None:
        """Accumulate the gradient of (bits of y + ``z_bits``) into the graph of ``hyper``."""
        detached = hyper.detach().flatten(2)[0].requires_grad_(True)
        for colour in (0, 1):
            where, target, fixed = self.where[colour], self.targets[colour], self.fixed[colour]
            for start in range(0, where.numel(), BAND_COLUMNS):
                band = slice(start, start + BAND_COLUMNS)
                x = torch.relu(self.w0 @ detached[:, where[band]].to(self.w0.dtype) + fixed[:, band])
                x = torch.relu(self.weights[1] @ x + self.biases[1][:, None])
                x = self.weights[2] @ x + self.biases[2][:, None]
                scales, means = x.float().chunk(2, dim=0)
                bin_bits(target[:, band] - means, scales.clamp(*self.scale_range)).sum().backward()
        torch.autograd.backward([hyper, z_bits], [detached.grad.view_as(hyper), torch.ones_like(z_bits)])


def entropy_model(coder: HyperpriorCoder) -> HyperpriorImageModel:
    """A float model whose entropy path is the dequantized integer one (built once per coder)."""
    cache = coder.__dict__.setdefault("_modules", {})
    if "entropy_model" not in cache:
        model = HyperpriorImageModel(coder.model.config)
        model.load_state_dict(float_state_dict(coder.model), strict=False)
        cache["entropy_model"] = model.eval().requires_grad_(False)
    return cache["entropy_model"]


def table_scales(coder: HyperpriorCoder) -> torch.Tensor:
    """The scale of each y table (float64), from the grid the model file records."""
    grid = coder.model.metadata.get("scale_grid", [0.11, 256.0, 64])
    return torch.exp(torch.linspace(math.log(grid[0]), math.log(grid[1]), int(grid[2]), dtype=torch.float64))
