"""Batch augmentation for training: left/right mirroring and rotation about the up axis, in torch,
vectorised over the batch and driven by a caller's ``torch.Generator`` (so a resumed run draws
exactly what an uninterrupted one would).

Both transforms are linear maps of the horizontal coordinates, so they act the same way on
positions and on features (`motiongen.data.features`): mirroring negates x and swaps the skeleton's
left/right joints (the root's x velocity negates like every x), a rotation about +Y turns every
joint's horizontal offset from the root and the root's horizontal velocity alike. Hence
``to_features(augment(positions)) == augment(to_features(positions))`` — tested.

Tensors are channels first, ``[B, 3, T, V]`` (ST-GCN order), coordinates (x, y, z) with Y up.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from motiongen.core.skeleton import Skeleton
from motiongen.data.features import Normalization
from motiongen.errors import ConfigError


def _check(x: torch.Tensor, skeleton: Skeleton) -> None:
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[3] != skeleton.joint_count:
        raise ConfigError(f"expected [B, 3, T, {skeleton.joint_count}] for skeleton {skeleton.name!r}, "
                          f"got {list(x.shape)}")


def mirror(x: torch.Tensor, skeleton: Skeleton, mask: torch.Tensor) -> torch.Tensor:
    """Mirror the samples where ``mask [B]`` (bool) is True: swap left/right joints
    (``skeleton.mirror_index()``) and negate x. ``x [B, 3, T, V]``: positions or features."""
    _check(x, skeleton)
    permutation = torch.as_tensor(skeleton.mirror_index(), device=x.device)
    sign = torch.tensor([-1.0, 1.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    mirrored = x.index_select(3, permutation) * sign
    return torch.where(mask.to(x.device).view(-1, 1, 1, 1), mirrored, x)


def rotate_about_up(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each sample of ``x [B, 3, T, V]`` (positions or features) by ``angles [B]`` radians
    about +Y (right-handed: +Z turns towards +X): x' = cos·x + sin·z, z' = −sin·x + cos·z."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ConfigError(f"expected [B, 3, T, V], got {list(x.shape)}")
    angles = angles.to(device=x.device, dtype=x.dtype).view(-1, 1, 1)
    cos, sin = torch.cos(angles), torch.sin(angles)
    horizontal_x, height, horizontal_z = x[:, 0], x[:, 1], x[:, 2]
    return torch.stack([cos * horizontal_x + sin * horizontal_z, height,
                        cos * horizontal_z - sin * horizontal_x], dim=1)


def draw_augmentation(batch: int, generator: torch.Generator, mirror_prob: float | torch.Tensor = 0.5,
                      rotate: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The random choices of one batch, on the generator's device: which samples to mirror
    (``[B]`` bool; one uniform per sample, mirrored below ``mirror_prob``: one number, or one per
    sample) and, with ``rotate``, an angle per sample (``[B]``, uniform in [−π, π)). Drawn in that
    order and whatever the probabilities, so equal generators give equal batches."""
    probability = torch.as_tensor(mirror_prob, dtype=torch.float32)
    if probability.ndim > 1 or (probability.ndim == 1 and len(probability) != batch) \
            or not bool(((probability >= 0.0) & (probability <= 1.0)).all()):
        raise ConfigError(f"mirror_prob must be in [0, 1], one number or one per sample, got {mirror_prob}")
    device = generator.device
    mirror_mask = torch.rand(batch, generator=generator, device=device) < probability.to(device)
    angles = None
    if rotate:
        angles = (torch.rand(batch, generator=generator, device=device, dtype=torch.float64) * 2.0 - 1.0) * math.pi
    return mirror_mask, angles


def apply_augmentation(x: torch.Tensor, skeleton: Skeleton, mirror_mask: torch.Tensor,
                       angles: torch.Tensor | None) -> torch.Tensor:
    """Mirror then rotate ``x [B, 3, T, V]`` (positions or features in metres)."""
    x = mirror(x, skeleton, mirror_mask)
    return x if angles is None else rotate_about_up(x, angles)


def augment_features(features: torch.Tensor, normalization: Normalization, skeleton: Skeleton,
                     generator: torch.Generator, mirror_prob: float | torch.Tensor = 0.5,
                     rotate: bool = True) -> torch.Tensor:
    """Augment a batch of normalised features ``[B, 3, T, V]``: denormalise, mirror a random
    subset (each sample with ``mirror_prob``), rotate each sample by a random angle about the up
    axis, normalise again. Returns a new tensor of the same shape, dtype and device."""
    _check(features, skeleton)
    if normalization.joint_count != skeleton.joint_count:
        raise ConfigError(f"normalisation has {normalization.joint_count} joints, skeleton "
                          f"{skeleton.name!r} has {skeleton.joint_count}")
    mirror_mask, angles = draw_augmentation(features.shape[0], generator, mirror_prob, rotate)
    metres = normalization.denormalize(features, channels_first=True)
    augmented = apply_augmentation(metres, skeleton, mirror_mask, angles)
    return normalization.normalize(augmented, channels_first=True)


def mirror_numpy(x: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Mirror every sample of ``x [..., T, V, 3]`` (channels last, positions or features)."""
    mirrored = np.asarray(x)[..., skeleton.mirror_index(), :].copy()
    mirrored[..., 0] *= -1.0
    return mirrored
