"""Differentiable augmentation of everything the critic sees (Zhao et al., "Differentiable
Augmentation for Data-Efficient GAN Training", NeurIPS 2020; Karras et al., "Training Generative
Adversarial Networks with Limited Data" (ADA), NeurIPS 2020), an option of the Kinetic-GAN and CSGN
losses (config ``critic_augment``, off by default: not in the four papers).

The critic scores T(x) instead of x, for real clips and generated ones alike, in the critic's phase
and in the generator's (whose gradient flows back through T, hence "differentiable"); the gradient
penalty is taken between augmented real and augmented generated clips, the only clips the critic
ever sees. Why: on ``../shared/data/cmu`` (about 1000 windows) the critic's Wasserstein gap grows
for as long as the runs go, the mark of a critic that learns the training windows by heart rather
than what motion looks like (benchmarks/RESULTS.md, issue 3). Both papers show that augmenting
only the real data teaches the generator the augmentation, while augmenting both sides with
transformations the critic cannot undo keeps it from memorising.

Transformations, on features ``[B, C, T, V]`` (time on axis 2), each drawn per clip and applied
with probability ``critic_augment_probability`` (ADA's p, 1 = always, DiffAugment's choice):

- ``shift``: the clip moves in time by up to ±T/8 frames, the frames moved in repeating its first
  or last frame (DiffAugment's translation; a repeated frame, not zeros, because a motion clip has
  no background to show);
- ``cutout``: a span of T/4 frames is set to 0, the middle of the normalised range
  (DiffAugment's cutout, along time).

Both are a gather or a product, so they cost one pass over the batch and keep the gradient exact;
they are drawn from the global RNG, which a checkpoint saves, so a resumed run draws the same.
"""

from __future__ import annotations

import math

import torch

from motiongen.errors import ConfigError

__all__ = ["CRITIC_AUGMENTS", "augment_for_critic", "critic_augment_names", "critic_augment_problem"]

CRITIC_AUGMENTS = ("shift", "cutout")
SHIFT_FRACTION = 1 / 8  # largest shift, as a share of the window
CUTOUT_FRACTION = 1 / 4  # length of the zeroed span, as a share of the window


def critic_augment_names(value) -> tuple[str, ...]:
    """``critic_augment`` as given (a list of names, or one comma-separated string; empty = off)
    → a tuple of known names; a ConfigError names the problem."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        names = [name.strip() for name in value]
    else:
        raise ConfigError(f"critic_augment must list names from {', '.join(CRITIC_AUGMENTS)}, got {value!r}")
    unknown = [name for name in names if name not in CRITIC_AUGMENTS]
    if unknown:
        raise ConfigError(f"critic_augment: unknown {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(CRITIC_AUGMENTS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"critic_augment names one transformation twice: {names}")
    return tuple(names)


def critic_augment_problem(probability) -> str | None:
    """Why ``probability`` is not a usable ``critic_augment_probability``, or None."""
    if (isinstance(probability, bool) or not isinstance(probability, (int, float))
            or not math.isfinite(probability) or not 0.0 < probability <= 1.0):
        return f"critic_augment_probability must be in (0, 1], got {probability!r}"
    return None


def augment_for_critic(x: torch.Tensor, names: tuple[str, ...], probability: float = 1.0) -> torch.Tensor:
    """``x [B, C, T, V]`` with each transformation in ``names`` applied, in order, to each clip
    with probability ``probability``; ``x`` itself when ``names`` is empty."""
    for name in names:
        applied = torch.rand(x.shape[0], device=x.device) < probability
        x = _TRANSFORMS[name](x, applied)
    return x


def _shift(x: torch.Tensor, applied: torch.Tensor) -> torch.Tensor:
    batch, channels, frames, joints = x.shape
    largest = max(1, round(frames * SHIFT_FRACTION))
    offset = torch.randint(-largest, largest + 1, (batch,), device=x.device) * applied
    source = (torch.arange(frames, device=x.device) - offset[:, None]).clamp(0, frames - 1)  # [B, T]
    return x.gather(2, source[:, None, :, None].expand(batch, channels, frames, joints))


def _cutout(x: torch.Tensor, applied: torch.Tensor) -> torch.Tensor:
    batch, frames = x.shape[0], x.shape[2]
    length = max(1, round(frames * CUTOUT_FRACTION))
    start = torch.randint(0, frames - length + 1, (batch,), device=x.device)
    time = torch.arange(frames, device=x.device)
    inside = (time >= start[:, None]) & (time < start[:, None] + length) & applied[:, None]  # [B, T]
    return x * (~inside).to(x.dtype)[:, None, :, None]


_TRANSFORMS = {"shift": _shift, "cutout": _cutout}
