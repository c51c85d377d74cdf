"""Primitives shared by the refinement phases: the relaxed rounding, the rate they minimise, the stop signal,
the optimiser and where bfloat16 pays."""

from __future__ import annotations

import math

import torch


class Stop(Exception):
    """The time limit was reached: code the best symbols found so far."""


def bin_bits(offsets: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Bits of the unit bin around each offset from its mean under a Gaussian of the given scale.

    For integer offsets these are the bits the tables charge (up to their
    quantisation); for relaxed ones, the smooth rate the searches descend.
    """
    centred = offsets.abs()
    root2 = math.sqrt(2)
    upper = 0.5 * torch.erfc((centred - 0.5) / (scales * root2))
    lower = 0.5 * torch.erfc((centred + 0.5) / (scales * root2))
    return -torch.log2((upper - lower).clamp_min(1e-9))


def sga_round(r: torch.Tensor, tau: float, generator: torch.Generator) -> torch.Tensor:
    """Stochastic Gumbel annealing: a relaxed choice between floor(r) and ceil(r) (Yang et al. 2020).

    As ``tau`` falls the choice hardens towards rounding to the nearer integer.
    """
    floor = torch.floor(r).detach()
    d = r - floor
    eps = 1e-5
    logit_down = -torch.atanh(d.clamp(-1 + eps, 1 - eps)) / tau
    logit_up = -torch.atanh((1 - d).clamp(-1 + eps, 1 - eps)) / tau
    uniform = torch.rand((2, *r.shape), generator=generator, dtype=r.dtype).to(r.device)
    noise = -torch.log(-torch.log(uniform.clamp_min(1e-10)))
    weights = torch.softmax(torch.stack([logit_down + noise[0], logit_up + noise[1]]), dim=0)
    return floor + weights[1]


def fast_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 products are fast here (GPUs, and CPUs with native bfloat16): the searches'
    gradient steps then run in bfloat16; every cost that decides what is kept stays float32."""
    return device.type != "cpu" or torch.ops.mkldnn._is_mkldnn_bf16_supported()


def annealed_temperature(step: int, steps: int, temperature: tuple[float, float]) -> float:
    """The temperature at ``step``: geometric from the first value to the second over all the steps."""
    first, last = temperature
    return first * (last / first) ** (step / max(steps - 1, 1))


class Adam:
    """Adam (Kingma and Ba 2015) on one tensor, with the default betas.

    Why not ``torch.optim.Adam``: its first use imports ``torch._dynamo``,
    about 2 s of CPU, more than the whole hyper-latent search of ``medium``
    on a Kodak image; these searches need only the plain update.
    """

    def __init__(self, value: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.value, self.lr, self.betas, self.eps = value, lr, betas, eps
        self.mean = torch.zeros_like(value)
        self.square = torch.zeros_like(value)
        self.steps = 0

    def zero_grad(self) -> None:
        self.value.grad = None

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        grad = self.value.grad
        self.steps += 1
        self.mean.mul_(b1).add_(grad, alpha=1 - b1)
        self.square.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denominator = (self.square / (1 - b2 ** self.steps)).sqrt_().add_(self.eps)
        self.value.addcdiv_(self.mean, denominator, value=-self.lr / (1 - b1 ** self.steps))
