"""Layers for networks that see a skeleton sequence as one 1-D signal: all joints' coordinates as
channels over time (LARNet's encoder, decoder and critics; the critics' auxiliary action
classifier). Cheaper than graph convolutions on a CPU, and any length passes through."""

from __future__ import annotations

import torch
from torch import nn


def conv1d(channels_in: int, channels_out: int, kernel: int = 3, stride: int = 1) -> nn.Conv1d:
    """A temporal convolution that keeps the length (stride 1, ends padded by replication, so a
    sequence's ends see its continuation rather than zeros) or divides it by ``stride``."""
    padding = (kernel - stride + 1) // 2 if stride > 1 else kernel // 2
    return nn.Conv1d(channels_in, channels_out, kernel, stride=stride, padding=padding,
                     padding_mode="zeros" if stride > 1 else "replicate")


def leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


def flatten_joints(features: torch.Tensor) -> torch.Tensor:
    """``[B, 3, T, V]`` → ``[B, 3V, T]`` (channel = 3·joint + axis)."""
    return features.permute(0, 3, 1, 2).flatten(1, 2)


def unflatten_joints(flat: torch.Tensor, joints: int) -> torch.Tensor:
    """The inverse of `flatten_joints`."""
    batch, _, frames = flat.shape
    return flat.view(batch, joints, 3, frames).permute(0, 2, 3, 1)


def frame_differences(flat: torch.Tensor) -> torch.Tensor:
    """Each frame's change to the next ``[B, C, T]`` (zero after the last): what the critics see
    of motion beside the poses."""
    return torch.cat([flat[..., 1:] - flat[..., :-1], torch.zeros_like(flat[..., :1])], -1)
