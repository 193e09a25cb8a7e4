"""The projection discriminator's class term (Miyato & Koyama, "cGANs with Projection
Discriminator", ICLR 2018), an option of the Kinetic-GAN and CSGN critics
(``critic_class_projection``, off by default: not in the four papers).

The critic's score becomes ``ψ(φ(x)) + ⟨e_y, φ(x)⟩``: φ(x) the critic's pooled features, ψ its
linear head, e_y a learned vector per action. Why: both papers' critics read the class only as
input channels, so telling "a real kick" from "a good punch labelled kick" has to be learned deep
in the trunk. On the CPU runs the Kinetic-GAN drew four of the twelve actions as punching or
swordplay with the critic content (benchmarks/RESULTS.md, issue 3). The inner product makes the
label's agreement with the clip a term of the score itself.

The vectors start at zero, so a critic given the term scores exactly as before, and a fine-tune
(``train --init-from``) from a checkpoint without it starts from that checkpoint's critic (the
parameter is listed in the critic's ``fresh_parameters``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ClassProjection", "class_projection_problem"]


def class_projection_problem(value) -> str | None:
    """Why ``value`` is not a usable ``critic_class_projection``, or None."""
    if not isinstance(value, bool):
        return f"critic_class_projection must be true or false, got {value!r}"
    return None


class ClassProjection(nn.Module):
    """``pooled [B, C]``, ``labels [B]`` → ``[B]``: each clip's features against its action's vector."""

    def __init__(self, num_classes: int, width: int):
        super().__init__()
        self.embedding = nn.Embedding(num_classes, width)
        nn.init.zeros_(self.embedding.weight)

    def forward(self, pooled: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (self.embedding(labels).to(pooled.dtype) * pooled).sum(dim=1)
