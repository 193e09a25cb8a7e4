"""Exponential moving average of the generator's weights, for sampling (Karras et al.,
StyleGAN2-ADA, NeurIPS 2020, ``training_loop.py``: ``ema_beta = 0.5 ** (batch / ema_nimg)``).

Here the half-life is counted in generator steps: after ``halflife_steps`` steps the old average
weighs one half, so ``beta = 0.5 ** (1 / halflife_steps)``. A ramp-up caps the half-life at
``rampup × step`` early on, so a short run's average is not dominated by the random
initialisation. Buffers (batch-norm statistics, truncation centres) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(generator: nn.Module) -> nn.Module:
    """A frozen copy of ``generator`` in eval mode, to be updated by `update_ema`."""
    ema = copy.deepcopy(generator).eval()
    ema.requires_grad_(False)
    return ema


def ema_beta(step: int, halflife_steps: float, rampup: float | None = 0.05) -> float:
    """The weight of the old average at generator step ``step`` (1-based)."""
    halflife = float(halflife_steps)
    if rampup is not None and rampup > 0:
        halflife = min(halflife, step * rampup)
    if halflife <= 0:
        return 0.0
    return 0.5 ** (1.0 / halflife)


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, beta: float) -> None:
    """``ema ← beta·ema + (1 − beta)·generator`` for parameters; buffers copied."""
    ema_params = [p for p in ema.parameters()]
    params = [p.detach() for p in generator.parameters()]
    if ema_params:
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for ema_buffer, buffer in zip(ema.buffers(), generator.buffers()):
        ema_buffer.copy_(buffer)
