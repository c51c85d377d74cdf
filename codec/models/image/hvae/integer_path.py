"""The exact top-down path of the hierarchical VAE: from decoded symbols to every probability of the file.

Everything here is integer arithmetic (``codec.nn.integer``), so the encoder
and every decoder derive the same means, table indexes and features from the
same symbols, whatever the machine or thread count
(``bitstream/models/hvae.md`` is the normative description). Fixed-point
formats (value = integer / 2^bits):

- the top-down feature: the fraction bits each integer module produces;
- prior means, log-scales, quantization steps and decoded latents:
  ``FRACTION`` fraction bits;
- a decoded latent is ``z = symbol * step + mean``;
- the table index of an element is the number of ``thresholds`` (in the
  log-scale domain) that its symbol-domain log-scale ``log_scale - log_step``
  reaches.

The level (in 1/256 steps) selects each group's steps and log-steps by
integer linear interpolation between the levels' stored tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codec.nn.integer import ACT_LIMIT, IntegerModule, table_index

FRACTION = 10        # fraction bits of means, log-scales, steps and decoded latents
LEVEL_STEPS = 256


def interpolate_table(table: torch.Tensor, level_steps: int) -> torch.Tensor:
    """Row ``level`` of an integer table (L, C) at a level given in 1/256 steps, exactly.

    ``lo = min(level_steps // 256, L - 2)``, ``t = level_steps - 256 * lo``,
    ``value = floor((table[lo] * (256 - t) + table[lo + 1] * t + 128) / 256)``.
    """
    levels = table.shape[0]
    lo = min(level_steps // LEVEL_STEPS, levels - 2)
    t = level_steps - LEVEL_STEPS * lo
    mixed = table[lo] * (LEVEL_STEPS - t) + table[lo + 1] * t + LEVEL_STEPS // 2
    return torch.div(mixed, LEVEL_STEPS, rounding_mode="floor")


@dataclass
class GroupParameters:
    """What the integer path says about one latent group: per element mean and table index; per channel step."""

    means: torch.Tensor    # int64 (1, C, h, w), FRACTION bits
    indexes: torch.Tensor  # int32 (1, C, h, w)
    steps: torch.Tensor    # int64 (C,), FRACTION bits, >= 1

    def latent(self, symbols: torch.Tensor) -> torch.Tensor:
        """Decoded latent ``symbol * step + mean`` (int64, FRACTION bits), saturated to the activation range."""
        return (symbols * self.steps.view(1, -1, 1, 1) + self.means).clamp(-ACT_LIMIT, ACT_LIMIT)


@dataclass
class IntegerTopDown:
    constant: torch.Tensor                 # int64 (C,), constant_fraction bits
    constant_fraction: int
    entries: list[IntegerModule | None]    # per group: patch upsampling + block when the stride halves
    priors: list[IntegerModule]            # per group: feature -> (means, log-scales), FRACTION bits
    merges: list[IntegerModule]            # per group: (feature, latent) -> feature
    steps: list[torch.Tensor]              # per group: int64 (L, C), FRACTION bits
    log_steps: list[torch.Tensor]          # per group: int64 (L, C), FRACTION bits
    thresholds: torch.Tensor               # int64 (T - 1,), FRACTION bits, ascending

    @property
    def groups(self) -> int:
        return len(self.priors)

    def start(self, height: int, width: int) -> torch.Tensor:
        """The top feature for a padded image of ``height`` x ``width`` (multiples of 64)."""
        return self.constant.view(1, -1, 1, 1).expand(1, -1, height // 64, width // 64).contiguous()

    def enter(self, g: int, feature: torch.Tensor) -> torch.Tensor:
        entry = self.entries[g]
        return feature if entry is None else entry(feature)

    def feature_fraction(self, g: int) -> int:
        """Fraction bits of the feature group ``g``'s prior and posterior read (after its entry)."""
        entry = self.entries[g]
        if entry is not None:
            return entry.f_out
        return self.constant_fraction if g == 0 else self.merges[g - 1].f_out

    def parameters(self, g: int, feature: torch.Tensor, level_steps: int) -> GroupParameters:
        out = self.priors[g](feature)
        channels = out.shape[1] // 2
        means, log_scales = out[:, :channels], out[:, channels:]
        steps = interpolate_table(self.steps[g], level_steps).clamp_min(1)
        log_steps = interpolate_table(self.log_steps[g], level_steps)
        indexes = table_index(log_scales - log_steps.view(1, -1, 1, 1), self.thresholds).to(torch.int32)
        return GroupParameters(means.contiguous(), indexes, steps)

    def merge(self, g: int, feature: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        return self.merges[g]((feature, latent))

    def final_fraction(self) -> int:
        return self.merges[-1].f_out
