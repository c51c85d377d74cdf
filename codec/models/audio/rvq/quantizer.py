"""Residual vector quantisation with factorised, L2-normalised codes and quantiser dropout.

Each stage projects the residual to a small code space (``codebook_dim``,
8 by default), picks the nearest codebook entry by cosine similarity, and
projects the entry back (the factorised codes of Kumar et al. 2023, DAC:
low-dimensional normalised lookups keep all codebook entries in use). The
code is ours; the technique is theirs. Quantiser dropout trains every
prefix of stages at once, so one set of weights serves every bitrate:
decoding with the first ``n`` codebooks is the model at ``n`` codebooks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CodebookStage(nn.Module):
    def __init__(self, dim: int, size: int, code_dim: int) -> None:
        super().__init__()
        self.proj_in = nn.Linear(dim, code_dim)
        self.proj_out = nn.Linear(code_dim, dim)
        self.codebook = nn.Parameter(torch.randn(size, code_dim))
        self.register_buffer("usage", torch.ones(size), persistent=False)

    def nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        """Indices (B, T) of the entries closest in angle to z_e (B, T, d)."""
        z = F.normalize(z_e, dim=-1)
        book = F.normalize(self.codebook, dim=-1)
        return (z @ book.t()).argmax(dim=-1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T) indices -> (B, T, dim) contribution to the latent."""
        return self.proj_out(F.embedding(codes, self.codebook))

    def forward(self, residual: torch.Tensor):
        z_e = self.proj_in(residual)
        codes = self.nearest(z_e)
        z_q = F.embedding(codes, self.codebook)
        commitment = (z_e - z_q.detach()).square().mean(dim=(1, 2))
        codebook = (z_q - z_e.detach()).square().mean(dim=(1, 2))
        z_q = z_e + (z_q - z_e).detach()
        return self.proj_out(z_q), codes, commitment, codebook, z_e


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, stages: int, size: int, code_dim: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList(CodebookStage(dim, size, code_dim) for _ in range(stages))

    def forward(self, latent: torch.Tensor, n_q: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Quantise with the first ``n_q[b]`` stages for item b (training; straight-through gradients)."""
        residual = latent
        out = torch.zeros_like(latent)
        commit = latent.new_zeros(latent.shape[0])
        book = latent.new_zeros(latent.shape[0])
        for i, stage in enumerate(self.stages):
            active = (n_q > i).to(latent.dtype)
            if not bool(active.any()):
                break
            z, codes, c_loss, b_loss, z_e = stage(residual)
            out = out + z * active[:, None, None]
            residual = residual - z
            commit = commit + c_loss * active
            book = book + b_loss * active
            if self.training:
                self._track_usage(stage, codes, active, z_e)
        return out, {"commitment": commit.mean(), "codebook": book.mean()}

    @torch.no_grad()
    def _track_usage(self, stage: CodebookStage, codes: torch.Tensor, active: torch.Tensor,
                     z_e: torch.Tensor) -> None:
        used = codes[active.bool()].flatten()
        if used.numel():
            counts = torch.bincount(used, minlength=stage.usage.numel()).to(stage.usage.dtype)
            stage.usage.mul_(0.99).add_(counts, alpha=0.01)

    @torch.no_grad()
    def restart_dead_codes(self, latent: torch.Tensor, threshold: float = 0.03) -> int:
        """Re-seed entries used rarely of late (an EMA of hits per step below ``threshold``, about a tenth of
        a uniform share at batch 4) with projections of current residuals; returns how many."""
        residual = latent
        restarted = 0
        for stage in self.stages:
            z_e = stage.proj_in(residual)
            dead = (stage.usage < threshold).nonzero().flatten()
            if dead.numel():
                pool = z_e.reshape(-1, z_e.shape[-1])
                pick = torch.randint(0, pool.shape[0], (dead.numel(),), device=pool.device)
                stage.codebook.data[dead] = pool[pick] + 1e-3 * torch.randn_like(pool[pick])
                stage.usage[dead] = 1.0
                restarted += dead.numel()
            residual = residual - stage.lookup(stage.nearest(z_e))
        return restarted

    # -- inference -------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, latent: torch.Tensor, n_q: int) -> torch.Tensor:
        """Codes (B, n_q, T) of the first n_q stages of a latent (B, T, dim)."""
        residual = latent
        codes = []
        for stage in self.stages[:n_q]:
            c = stage.nearest(stage.proj_in(residual))
            residual = residual - stage.lookup(c)
            codes.append(c)
        if not codes:
            return torch.zeros(latent.shape[0], 0, latent.shape[1], dtype=torch.long)
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def partial_sums(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, n, T) codes -> (n + 1, B, T, dim): the latent decoded with 0..n stages."""
        b, n, t = codes.shape
        dim = self.stages[0].proj_out.out_features
        sums = [torch.zeros(b, t, dim)]
        for i in range(n):
            sums.append(sums[-1] + self.stages[i].lookup(codes[:, i]))
        return torch.stack(sums)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, n, T) codes -> (B, T, dim) latent."""
        return self.partial_sums(codes)[-1]
