"""Physical plausibility of joint-position motion ``[N, T, J, 3]``: metres, internal frame (Y up).

- Bone-length variation: a skeleton's bones are rigid, so a bone's length should not change over
  a sequence; generators that output positions (not rotations) break this. Reported as the
  standard deviation over time, mm.
- Foot skating: a foot in contact with the floor should not slide. The foot-skating ratio of the
  motion-generation literature (e.g. GMD, Karunratanakul et al. 2023: frames in which a foot under
  5 cm skids more than 2.5 cm), here with contact required at both ends of a frame transition and
  the displacement threshold tied to a reference frame rate, so it means one speed at any fps.
- Jitter: the mean jerk magnitude (third time derivative of position), high for shaky motion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from motiongen.errors import ConfigError

if TYPE_CHECKING:
    from motiongen.core.skeleton import Skeleton

__all__ = ["bone_length_variation", "foot_skating_ratio", "jitter", "foot_joints"]

_FOOT_CANONICAL = ("left_ankle", "left_toe", "right_ankle", "right_toe")
_FOOT_WORDS = ("foot", "toe", "ankle")
_ZERO_BONE_M = 1e-3  # bones shorter than this on average are placeholders (CMU has some), not limbs


def _positions(values, minimum_frames: int) -> np.ndarray:
    """``values`` as float64 ``[N, T, J, 3]`` with N ≥ 1, T ≥ ``minimum_frames``, finite."""
    array = np.asarray(values)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0 or array.shape[2] == 0:
        raise ConfigError(f"positions must be [N, T, J, 3] with N, J ≥ 1, got shape {list(array.shape)}")
    if array.shape[1] < minimum_frames:
        raise ConfigError(f"positions need at least {minimum_frames} frames, got {array.shape[1]}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ConfigError("positions have non-finite values")
    return array


def _fps(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) \
            or not np.isfinite(fps) or fps <= 0:
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


# --- bone lengths ---------------------------------------------------------------------------

def bone_length_variation(positions, parents) -> float:
    """Mean over sequences and bones of the standard deviation (over frames) of each bone's
    length, mm. ``positions`` ``[N, T, J, 3]`` metres, T ≥ 2; ``parents`` ``[J]`` (root = -1).
    A bone is a joint j with ``parents[j] ≥ 0``; bones whose mean length over all sequences and
    frames is under 1 mm are left out (zero-offset joints such as CMU's spine and thumb helpers)."""
    positions = _positions(positions, minimum_frames=2)
    parents = np.asarray(parents)
    joint_count = positions.shape[2]
    if parents.shape != (joint_count,) or not np.issubdtype(parents.dtype, np.integer):
        raise ConfigError(f"parents must be [J] = [{joint_count}] integers, got shape "
                          f"{list(parents.shape)}, dtype {parents.dtype}")
    if np.any(parents < -1) or np.any(parents >= joint_count) or np.any(parents == np.arange(joint_count)):
        raise ConfigError("parents must hold -1 (root) or the index of another joint")
    children = np.flatnonzero(parents >= 0)
    bones = positions[:, :, children] - positions[:, :, parents[children]]  # [N, T, B, 3]
    lengths = np.linalg.norm(bones, axis=-1)
    real_bones = lengths.mean(axis=(0, 1)) >= _ZERO_BONE_M
    if not real_bones.any():
        raise ConfigError("no bone is 1 mm or longer, so there is no bone length to measure")
    return float(lengths[:, :, real_bones].std(axis=1).mean() * 1e3)


# --- foot skating ---------------------------------------------------------------------------

def foot_skating_ratio(positions, foot_joints, fps: float, height_threshold: float = 0.05,
                       speed_threshold: float = 0.025, reference_fps: float = 30.0) -> float:
    """Fraction of frame transitions t → t+1 in which some foot joint skates, averaged over
    sequences (each over its T − 1 transitions).

    A foot joint skates when it is in contact — its height above the floor is under
    ``height_threshold`` metres at both t and t+1 — while its horizontal (XZ) displacement exceeds
    ``speed_threshold`` metres per frame *at* ``reference_fps``: the displacement is scaled by
    ``fps / reference_fps`` so one threshold means one speed (0.025 m at 30 fps = 0.75 m/s) at any
    frame rate. The floor of a sequence is the lowest height (Y) any foot joint reaches in it.
    ``positions`` ``[N, T, J, 3]`` metres, T ≥ 2; ``foot_joints``: joint indices (`foot_joints`)."""
    positions = _positions(positions, minimum_frames=2)
    feet = np.asarray(foot_joints)
    joint_count = positions.shape[2]
    if feet.ndim != 1 or feet.size == 0 or not np.issubdtype(feet.dtype, np.integer) \
            or np.any(feet < 0) or np.any(feet >= joint_count):
        raise ConfigError(f"foot_joints must be a non-empty list of joint indices below {joint_count}, "
                          f"got {np.asarray(foot_joints).tolist()!r}")
    fps, reference_fps = _fps(fps), _fps(reference_fps)
    for name, value in (("height_threshold", height_threshold), ("speed_threshold", speed_threshold)):
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number of metres, got {value!r}")
    foot_positions = positions[:, :, feet]  # [N, T, F, 3]
    heights = foot_positions[..., 1]
    heights = heights - heights.min(axis=(1, 2), keepdims=True)  # above each sequence's floor
    low = heights < height_threshold
    contact = low[:, :-1] & low[:, 1:]  # [N, T-1, F]
    step = foot_positions[:, 1:, :, [0, 2]] - foot_positions[:, :-1, :, [0, 2]]
    displacement = np.linalg.norm(step, axis=-1) * (fps / reference_fps)  # m per reference frame
    skating = (contact & (displacement > speed_threshold)).any(axis=-1)  # [N, T-1]
    return float(skating.mean(axis=1).mean())


def foot_joints(skeleton: "Skeleton") -> list[int]:
    """Indices (ascending) of a skeleton's foot joints for `foot_skating_ratio`: those with the
    canonical names left/right ankle and toe; for a skeleton without them, those whose joint name
    contains foot, toe or ankle (any case)."""
    canonical = skeleton.canonical_index()
    found = sorted(canonical[name] for name in _FOOT_CANONICAL if name in canonical)
    if not found:
        found = [j for j, name in enumerate(skeleton.joint_names)
                 if any(word in name.lower() for word in _FOOT_WORDS)]
    if not found:
        raise ConfigError(f"skeleton {skeleton.name!r} has no foot joints (no canonical ankle/toe, "
                          f"no joint named foot, toe or ankle); pass the joint indices yourself")
    return found


# --- jitter ---------------------------------------------------------------------------------

def jitter(positions, fps: float) -> float:
    """Mean jerk magnitude, m/s³: the third finite difference of every joint's position times
    fps³, its Euclidean norm averaged over joints, frames (T − 3 per sequence) and sequences.
    ``positions`` ``[N, T, J, 3]`` metres, T ≥ 4."""
    positions = _positions(positions, minimum_frames=4)
    fps = _fps(fps)
    jerk = np.diff(positions, n=3, axis=1) * fps ** 3
    return float(np.linalg.norm(jerk, axis=-1).mean())
