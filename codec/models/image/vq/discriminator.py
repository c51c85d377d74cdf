"""The patch discriminator of the adversarial loss, and the source of the perceptual features.

Four spectrally normalised convolutions from pixels to a grid of real/fake
scores (one per ~30x30 patch). Its hidden activations are the perceptual
features of the feature-matching loss: no pretrained network (VGG, LPIPS) is
downloaded or shipped; the features are learned here, during training. It is
never shipped: decoding needs only the synthesis.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.layers = nn.ModuleList([
            spectral_norm(nn.Conv2d(3, w, 4, stride=2, padding=1)),
            spectral_norm(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)),
            spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1)),
            spectral_norm(nn.Conv2d(4 * w, 1, 3, padding=1)),
        ])
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(patch scores, hidden features) of images in [0, 1]."""
        h = x * 2 - 1
        feats = []
        for layer in self.layers[:-1]:
            h = self.act(layer(h))
            feats.append(h)
        return self.layers[-1](h), feats
