"""Multi-resolution complex-STFT discriminator for the GPU config's adversarial and feature-matching losses.

In the manner of EnCodec's MS-STFT discriminator (Défossez et al. 2022):
each resolution looks at the real and imaginary parts of one STFT with a
small stack of 2-D convolutions, strided in frequency and dilated in time,
and returns its logits and every layer's features (for feature matching).
Our code; the design is theirs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


class STFTScale(nn.Module):
    def __init__(self, n_fft: int, channels: int = 32) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        c = channels
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(2, c, (3, 9), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(1, 1), padding=(1, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(2, 1), padding=(2, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(4, 1), padding=(4, 4))),
            weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(x, self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        h = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)     # (B, 2, frames, bins)
        features = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
            features.append(h)
        return self.out(h), features


class STFTDiscriminator(nn.Module):
    def __init__(self, sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128)) -> None:
        super().__init__()
        self.scales = nn.ModuleList(STFTScale(n) for n in sizes)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        logits, features = [], []
        for scale in self.scales:
            lg, ft = scale(x)
            logits.append(lg)
            features.append(ft)
        return logits, features
