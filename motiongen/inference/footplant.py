"""Foot planting: move a generated body so that the feet it puts on the floor stay where they are.

A generator writes a root trajectory and a pose per frame; nothing ties the two together, so a
body may glide further than its legs stride and its feet skate. Here the root's horizontal step
between two frames is corrected by the step of the supporting feet: with one foot planted, the
body moves exactly as that foot pushes it, so the foot stands still and the walk advances by the
length of its strides. A rigid horizontal shift per frame: poses, heights and bone lengths are
untouched, and a clip whose feet already stay put is returned unchanged.

Contact is judged as `metrics.plausibility.foot_skating_ratio` judges it — a foot joint within
``height_m`` of the clip's lowest foot at both ends of a step — and eased out over ``ease_m``
above that, so the correction does not switch on and off in one frame. Of the feet in contact,
those that move least carry the most weight (a toe leaving the floor in a fast swing must not drag
the body along), weights ``contact / (speed + SPEED_FLOOR)``.
"""

from __future__ import annotations

import numpy as np

from motiongen.errors import ConfigError

SPEED_FLOOR_M = 0.005  # metres per frame: below this, feet count as equally still
HEIGHT_M = 0.05  # the foot-skating metric's contact height
EASE_M = 0.02  # contact fades out over this much height above HEIGHT_M

__all__ = ["plant_feet"]


def plant_feet(positions: np.ndarray, feet: list[int] | np.ndarray, height_m: float = HEIGHT_M,
               ease_m: float = EASE_M) -> np.ndarray:
    """``positions [N, T, J, 3]`` (metres, Y up) with each frame shifted horizontally so that feet
    in contact with the floor do not slide (see the module docstring); the first frame stays where
    it is. ``feet``: joint indices (`metrics.plausibility.foot_joints`)."""
    positions = np.asarray(positions)
    if positions.ndim != 4 or positions.shape[-1] != 3:
        raise ConfigError(f"positions must be [N, T, J, 3], got {list(positions.shape)}")
    feet = np.asarray(feet, dtype=np.int64)
    if feet.ndim != 1 or feet.size == 0 or feet.min() < 0 or feet.max() >= positions.shape[2]:
        raise ConfigError(f"feet must be joint indices below {positions.shape[2]}, got {feet.tolist()}")
    if not (height_m > 0 and ease_m > 0):
        raise ConfigError("height_m and ease_m must be positive")
    if positions.shape[1] < 2:
        return positions.copy()
    foot = positions[:, :, feet].astype(np.float64)  # [N, T, F, 3]
    height = foot[..., 1] - foot[..., 1].min(axis=(1, 2), keepdims=True)
    highest = np.maximum(height[:, 1:], height[:, :-1])  # [N, T-1, F]: both ends of the step
    contact = np.clip((height_m + ease_m - highest) / ease_m, 0.0, 1.0)
    step = foot[:, 1:, :, :][..., [0, 2]] - foot[:, :-1, :, :][..., [0, 2]]  # [N, T-1, F, 2]
    weight = contact / (np.linalg.norm(step, axis=-1) + SPEED_FLOOR_M)
    total = weight.sum(-1, keepdims=True)  # [N, T-1, 1]
    support = (weight[..., None] * step).sum(-2) / np.maximum(total, 1e-12)  # the supporting feet's step
    strength = contact.max(-1, keepdims=True)  # how firmly any foot is down
    shift = np.concatenate([np.zeros_like(support[:, :1]), np.cumsum(-strength * support, axis=1)], axis=1)
    planted = positions.copy()
    planted[..., 0] += shift[:, :, None, 0].astype(positions.dtype)
    planted[..., 2] += shift[:, :, None, 1].astype(positions.dtype)
    return planted
