"""Foot planting: move a generated body so that the feet it puts on the floor stay where they are.

A generator writes a root trajectory and a pose per frame; nothing ties the two together, so a
body may glide further than its legs stride and its feet skate. Here the root's horizontal step
between two frames is replaced, as far as a foot is on the floor, by the step the supporting feet
give it: with one foot planted the body moves exactly as that foot pushes it, so the foot stands
still and a walk advances by the length of its strides; in flight (no foot down) the generator's
own step is kept. A horizontal shift per frame: poses, heights and bone lengths are untouched, and
a clip whose feet already stay put is returned unchanged.

Contact is judged as `metrics.plausibility.foot_skating_ratio` judges it — a foot joint within
``HEIGHT_M`` of the clip's lowest foot at both ends of a step — and eased out over ``EASE_M``
above that, so the correction does not switch on and off in one frame. Of the feet in contact,
those that move least carry the most weight (a toe leaving the floor in a fast swing must not drag
the body along): weights ``contact / (speed + SPEED_FLOOR_M)``, both taken from the motion as
generated and not differentiated, so that in training (`LarnetGenerator`, ``planted_root``) the
gradient reaches the legs through the step they give the body.

`planted_root_velocity` works on feature tensors (the GANs' representation), `plant_feet` on
position arrays; both are the same operation.
"""

from __future__ import annotations

import numpy as np
import torch

from motiongen.errors import ConfigError

SPEED_FLOOR_M = 0.005  # metres per frame: below this, feet count as equally still
HEIGHT_M = 0.05  # the foot-skating metric's contact height
EASE_M = 0.02  # contact fades out over this much height above HEIGHT_M

__all__ = ["plant_feet", "plant_motion", "plant_skeleton_feet", "planted_root_velocity"]


def planted_root_velocity(features: torch.Tensor, feet: torch.Tensor, ease_m: float = EASE_M) -> torch.Tensor:
    """The root's horizontal velocity ``[B, 2, T]`` (metres per frame, x and z) of feature windows
    in metres ``[B, 3, T, V]`` (`motiongen.data.features`, channels first) with the feet ``[F]``
    planted: for each step t → t+1, (1 − s)·v + s·(−r), where v is the generated root step, r the
    supporting feet's step relative to the root and s how firmly a foot is down. The last frame
    repeats the previous step, as in the features. ``ease_m``: see ``EASE_M``."""
    foot = features[..., feet]  # [B, 3, T, F]
    relative_step = foot[:, 0::2, 1:] - foot[:, 0::2, :-1]  # [B, 2, T-1, F]
    root_step = features[:, 0::2, :-1, 0]  # [B, 2, T-1]
    with torch.no_grad():  # where and how firmly the feet are down: judged, not trained through
        height = foot[:, 1] - foot[:, 1].amin(dim=(1, 2), keepdim=True)  # [B, T, F]
        highest = torch.maximum(height[:, 1:], height[:, :-1])
        contact = ((HEIGHT_M + ease_m - highest) / ease_m).clamp(0.0, 1.0)  # [B, T-1, F]
        world_speed = (relative_step + root_step[..., None]).square().sum(1).sqrt()
        weight = contact / (world_speed + SPEED_FLOOR_M)
        weight = weight / weight.sum(-1, keepdim=True).clamp_min(1e-12)
        strength = contact.amax(-1)[:, None]  # [B, 1, T-1]
    support = (weight[:, None] * relative_step).sum(-1)  # [B, 2, T-1]
    velocity = (1.0 - strength) * root_step - strength * support
    return torch.cat([velocity, velocity[..., -1:]], -1)


def plant_feet(positions: np.ndarray, feet: list[int] | np.ndarray) -> np.ndarray:
    """``positions [N, T, J, 3]`` (metres, Y up) with each frame shifted horizontally so that feet
    on the floor do not slide (see the module docstring); the first frame stays where it is.
    ``feet``: joint indices (`metrics.plausibility.foot_joints`)."""
    from motiongen.data.features import from_features, to_channels_first, to_channels_last, to_features

    positions = np.asarray(positions)
    if positions.ndim != 4 or positions.shape[-1] != 3:
        raise ConfigError(f"positions must be [N, T, J, 3], got {list(positions.shape)}")
    feet = np.asarray(feet, dtype=np.int64)
    if feet.ndim != 1 or feet.size == 0 or feet.min() < 0 or feet.max() >= positions.shape[2]:
        raise ConfigError(f"feet must be joint indices below {positions.shape[2]}, got {feet.tolist()}")
    if positions.shape[1] < 2:
        return positions.copy()
    features = torch.as_tensor(to_channels_first(to_features(positions.astype(np.float64))))
    features[:, 0::2, :, 0] = planted_root_velocity(features, torch.as_tensor(feet))
    planted = from_features(to_channels_last(features).numpy(), positions[:, 0, 0, [0, 2]])
    return planted.astype(positions.dtype)


def plant_skeleton_feet(positions: np.ndarray, skeleton) -> np.ndarray:
    """`plant_feet` with the skeleton's foot joints; positions unchanged for a skeleton without."""
    from motiongen.metrics.plausibility import foot_joints

    try:
        feet = foot_joints(skeleton)
    except ConfigError:
        return positions
    return plant_feet(positions, feet)


def plant_motion(motion):
    """A `Motion` with its feet planted (`plant_feet`); one with rotations keeps them and has its
    root translation shifted (rotations do not change under a horizontal shift), so a BVH written
    after IK is planted on the skeleton it is written on: IK onto fixed bone lengths moves the
    feet a little, and planting before IK alone leaves them sliding by that much. A skeleton
    without foot joints is returned as it is."""
    from motiongen.core.motion import Motion

    planted = plant_skeleton_feet(np.asarray(motion.positions)[None], motion.skeleton)[0]
    if motion.rotations is None:
        return Motion(positions=planted, skeleton=motion.skeleton, fps=motion.fps, mask=motion.mask,
                      meta=motion.meta)
    shift = planted[:, 0] - np.asarray(motion.positions)[:, 0]  # the root's (horizontal) shift
    return Motion.from_rotations(motion.rotations, np.asarray(motion.root_translation) + shift, motion.skeleton,
                                 motion.fps, mask=motion.mask, meta=motion.meta)
