"""Mode-seeking regulariser for conditional GANs (Mao et al., "Mode Seeking Generative Adversarial
Networks for Diverse Image Synthesis", CVPR 2019, eq. 3): for two latents z₁, z₂ of one class,

    L_ms = 1 / (mean|G(z₁, c) − G(z₂, c)| / mean|z₁ − z₂| + ε),

added to the generator's loss with a weight (config ``mode_seeking_weight``, 0 = off; not in the
four papers). Why: with the auxiliary action classifier a conditional generator finds one safe clip
per action and stops listening to its latent; CSGN's motion inside a window comes only from its
latent sequence, so that collapse also freezes it (benchmarks/RESULTS.md, issue 3). This term
makes ignoring the latent expensive.

The pairs come from one batch: the second half of the batch takes the first half's labels
(`pair_labels`), so sample i and sample i + B/2 share a class and differ only in their latents.
"""

from __future__ import annotations

import math

import torch

EPSILON = 1e-5  # keeps the loss finite when a pair's outputs coincide


def mode_seeking_problem(weight: float) -> str | None:
    """Why ``weight`` is not a usable ``mode_seeking_weight``, or None."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        return f"mode_seeking_weight must be a number ≥ 0 (0 = off), got {weight!r}"
    return None


def pair_labels(labels: torch.Tensor) -> torch.Tensor:
    """Labels ``[B]`` with the second half ``[h:2h]`` (h = B // 2) replaced by the first half's; an odd
    last sample keeps its own label and is left out of the pairs."""
    half = labels.shape[0] // 2
    paired = labels.clone()
    paired[half:2 * half] = labels[:half]
    return paired


def mode_seeking_loss(fake: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """L_ms over the pairs (i, i + B/2) of a batch made with `pair_labels`: fakes ``[B, ...]`` and the
    latents ``[B, ...]`` they came from. As in the paper, the distances are means over the pairs."""
    half = fake.shape[0] // 2
    if half == 0:
        return fake.new_zeros((), dtype=torch.float32)
    output_distance = (fake[:half].float() - fake[half:2 * half].float()).abs().mean()
    latent_distance = (latent[:half].float() - latent[half:2 * half].float()).abs().mean()
    return 1.0 / (output_distance / latent_distance.clamp_min(EPSILON) + EPSILON)
