"""The integer entropy path of the hyperprior image model: from decoded symbols to CDF table indexes.

Everything here is exact integer arithmetic (``codec.nn.integer``), so the
encoder and every decoder derive the same means and table indexes from the
same symbols. Fixed-point formats (value = integer / 2^bits):

- decoded hyper-latent ``z_hat = z_symbol * 2^Z_FRACTION + z_loc``;
- decoded latent ``y_hat = y_symbol * 2^Y_FRACTION + mean`` (``mean`` from this path);
- means and scales come out of the last layer with ``Y_FRACTION`` fraction bits;
- the table index of a scale is the number of ``scale_thresholds`` it reaches.

``from_float`` is the one place where floats become integers: it quantizes a
trained model's ``h_s``, ``context`` and ``entropy_parameters`` after choosing
each activation's fraction bits from calibration data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codec.nn.checkerboard import anchor_mask
from codec.nn.integer import ACT_LIMIT, IntegerConv, fraction_bits_for, quantize_conv

Z_FRACTION = 8
Y_FRACTION = 8
BAND_ROWS = 16  # latent rows per pass of the entropy-parameter layers (memory only; results do not depend on it)


@dataclass
class IntegerEntropyPath:
    hyper_synthesis: list[IntegerConv]
    context: IntegerConv
    entropy_parameters: list[IntegerConv]
    z_loc: torch.Tensor            # int64 (Z,), Z_FRACTION fraction bits
    scale_thresholds: torch.Tensor  # int64 (T-1,), Y_FRACTION fraction bits, ascending

    # Between layers the integers travel as float64 (exact below 2^53; see IntegerConv.exact_float):
    # only the means and table indexes leave as integer tensors.

    def hyper(self, z_symbols: torch.Tensor) -> torch.Tensor:
        """Hyper features (float64 integers) from decoded z symbols (int64, N x Z x h x w)."""
        x = (z_symbols * (1 << Z_FRACTION) + self.z_loc.to(z_symbols.device).view(1, -1, 1, 1))
        x = x.clamp(-ACT_LIMIT, ACT_LIMIT).to(torch.float64)
        for layer in self.hyper_synthesis:
            x = layer.exact_float(x)
        return x

    def anchor_parameters(self, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means (Y_FRACTION fixed point) and table indexes of y at anchor positions (0 elsewhere),
        from the hyperprior alone."""
        return self._banded(hyper, None, anchors=True)

    def nonanchor_parameters(self, hyper: torch.Tensor, y_hat_anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and table indexes at non-anchor positions (0 elsewhere); ``y_hat_anchors``: fixed-point
        y_hat, already zero at non-anchor positions."""
        anchors = y_hat_anchors.clamp(-ACT_LIMIT, ACT_LIMIT).to(torch.float64)
        rows, halo = anchors.shape[2], self.context.kernel // 2

        def context(top: int, bottom: int, where: torch.Tensor) -> torch.Tensor:
            # The band's rows plus `halo` rows each side (or the latent's edge) hold exactly the
            # inputs (and zero padding) that the whole-latent convolution sees at these positions.
            lo, hi = max(0, top - halo), min(rows, bottom + halo)
            r, c = where.nonzero(as_tuple=True)
            return self.context.exact_float_at(anchors[:, :, lo:hi], r + (top - lo), c)

        return self._banded(hyper, context, anchors=False)

    def _banded(self, hyper: torch.Tensor, context, *, anchors: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Entropy parameters over bands of rows, at the positions of one checkerboard colour only.

        The context is a 5x5 convolution and the entropy-parameter layers are
        1x1, so each band of rows needs only a small halo of anchors: the
        results are the same integers, and the widest activations (4M
        channels, in float64 for the exact accumulation) never exist for the
        whole latent at once, which bounds memory for large photos. The 1x1
        layers run only at the positions the pass codes (half of them), and
        the anchor pass, whose context is zero, skips the context's half of
        the first layer's products.
        """
        n, channels, rows, cols = hyper.shape
        latent = self.entropy_parameters[-1].weight.shape[0] // 2
        means = torch.zeros(n, latent, rows, cols, dtype=torch.int64, device=hyper.device)
        indexes = torch.zeros(n, latent, rows, cols, dtype=torch.int32, device=hyper.device)
        colour = anchor_mask(rows, cols, device=hyper.device)[0, 0].bool()
        if not anchors:
            colour = ~colour
        for top in range(0, rows, BAND_ROWS):
            bottom = min(rows, top + BAND_ROWS)
            where = colour[top:bottom]
            band_context = None if anchors else context(top, bottom, where)
            for i in range(n):
                columns = hyper[i, :, top:bottom][:, where]
                if anchors:
                    x = self.entropy_parameters[0].exact_float_columns(columns, inputs=slice(0, channels))
                else:
                    ctx = band_context[i]
                    x = self.entropy_parameters[0].exact_float_columns(torch.cat([columns, ctx]))
                for layer in self.entropy_parameters[1:]:
                    x = layer.exact_float_columns(x)
                scales, band_means = x.chunk(2, dim=0)
                means[i, :, top:bottom][:, where] = band_means.to(torch.int64)
                indexes[i, :, top:bottom][:, where] = self.table_index(scales)
        return means, indexes

    def table_index(self, scales: torch.Tensor) -> torch.Tensor:
        """How many thresholds each scale reaches (scales as int64 or float64 integers: the same count)."""
        thresholds = self.scale_thresholds.to(device=scales.device, dtype=scales.dtype)
        return torch.bucketize(scales, thresholds, right=True).to(torch.int32)

    # -- conversion ----------------------------------------------------------------------------
    @classmethod
    def from_float(cls, model, calibration: torch.Tensor, levels: torch.Tensor,
                   scale_grid: torch.Tensor) -> "IntegerEntropyPath":
        """Quantize ``model``'s entropy-parameter path, calibrating fraction bits on ``calibration`` images."""
        with torch.no_grad():
            gain, _ = model.gains(levels)
            y = model.g_a(calibration) * gain
            z = model.h_a(y)
            loc = model.z_loc.view(1, -1, 1, 1)
            z_hat = torch.round(z - loc) + loc

            def peaks(modules, x):
                out = []
                for m in modules:
                    x = m(x)
                    if not isinstance(m, torch.nn.ReLU):
                        out.append(x.abs().max().item())
                return out, x

            hs_convs = [m for m in model.h_s if not isinstance(m, torch.nn.ReLU)]
            hs_peaks, hyper = peaks(model.h_s, z_hat)
            mask = anchor_mask(*y.shape[2:])
            scales_a, means_a = model.split_parameters(hyper, torch.zeros_like(hyper))
            y_hat_a = (torch.round(y - means_a) + means_a) * mask
            ctx = model.context(y_hat_a) * (1 - mask)
            ep_convs = [m for m in model.entropy_parameters if not isinstance(m, torch.nn.ReLU)]
            ep_peaks, _ = peaks(model.entropy_parameters, torch.cat([hyper, ctx], 1))

        shared = min(fraction_bits_for(hs_peaks[-1]), fraction_bits_for(ctx.abs().max().item()))
        hs_bits = [fraction_bits_for(p) for p in hs_peaks[:-1]] + [shared]
        hs_layers, f_in = [], Z_FRACTION
        for i, (conv, f_out) in enumerate(zip(hs_convs, hs_bits)):
            hs_layers.append(quantize_conv(conv, f_in, f_out, relu=i < len(hs_convs) - 1))
            f_in = f_out
        context = quantize_conv(model.context, Y_FRACTION, shared, relu=False,
                                weight_mask=model.context.kernel_mask)
        ep_bits = [fraction_bits_for(p) for p in ep_peaks[:-1]] + [Y_FRACTION]
        ep_layers, f_in = [], shared
        for i, (conv, f_out) in enumerate(zip(ep_convs, ep_bits)):
            ep_layers.append(quantize_conv(conv, f_in, f_out, relu=i < len(ep_convs) - 1))
            f_in = f_out
        z_loc = torch.round(model.z_loc.detach().double() * (1 << Z_FRACTION)).to(torch.int64)
        # A scale selects the grid entry nearest in the log domain: thresholds at geometric midpoints.
        mids = torch.sqrt(scale_grid[:-1].double() * scale_grid[1:].double())
        thresholds = torch.ceil(mids * (1 << Y_FRACTION)).to(torch.int64)
        return cls(hs_layers, context, ep_layers, z_loc, thresholds)
