"""The minibatch standard deviation channel of a critic (Karras et al., ProGAN, 2018), an option of
the GAN critics (``critic_minibatch_stddev``, off by default: not in Kinetic-GAN or CSGN).

Why: a class-conditional generator pulled by an action classifier finds one safe clip per action
and stops listening to its latent. A critic that scores each clip on its own cannot see that, and
for CSGN — whose motion over time comes only from the latent sequence — collapse also freezes the
pose (measured: spread over seeds fell from 0.038 to 0.008, over time from 0.025 to 0.002, within
1000 steps). With this channel the critic sees how much a small group of clips differ, so a
collapsed batch can be told from a real one. Measured on the CPU: it did not stop a CSGN fine-tune
with the K + 1 classifier from freezing (benchmarks/RESULTS.md, "Second CPU session").

Groups are runs of consecutive clips. The WGAN-GP loss scores ``[real; fake]`` in one call, so the
training loop requires the group size to divide the batch: no group mixes real and generated clips.
Other callers get groups of ``gcd(batch, group_size)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MinibatchStddev", "stddev_group_problem"]


def stddev_group_problem(group_size) -> str | None:
    """Why ``group_size`` is not a usable setting (0 = off, else at least 2), or None."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 0 or group_size == 1:
        return f"critic_minibatch_stddev must be 0 (off) or a group size of at least 2, got {group_size!r}"
    return None


class MinibatchStddev(nn.Module):
    """``x [B, C, T, V]`` → ``[B, C + 1, T, V]``: the extra channel holds, for each clip, the mean
    over features of the standard deviation across its group of ``group_size`` consecutive clips."""

    def __init__(self, group_size: int):
        super().__init__()
        self.group_size = int(group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, frames, vertices = x.shape
        group = math.gcd(batch, self.group_size)
        members = x.float().reshape(batch // group, group, -1)
        spread = (members.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=1)  # [B / G]
        channel = spread.repeat_interleave(group).to(x.dtype)[:, None, None, None]
        return torch.cat([x, channel.expand(batch, 1, frames, vertices)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"
