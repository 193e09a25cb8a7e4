"""Pure operations on `Motion`: resampling in time, filling gaps, rigid transforms.

All are vectorised over frames and joints (index arithmetic and batched slerp, no Python loops).
"""

from __future__ import annotations

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.errors import ConfigError

MAX_FRAMES = 10_000_000


def resampled_frame_count(frame_count: int, fps_in: float, fps_out: float) -> int:
    """Frames covering the same time span ``[0, (T-1)/fps_in]`` at ``fps_out``."""
    return int(np.floor((frame_count - 1) * fps_out / fps_in + 1e-9)) + 1


def resample(motion: Motion, fps: float) -> Motion:
    """The motion at another frame rate, sampled at the same instants in seconds.

    Positions and root translation interpolate linearly, rotations by slerp (so a motion with
    rotations is recomputed by FK and stays self-consistent), the mask is True only where both
    neighbouring source frames are observed."""
    fps = float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise ConfigError(f"--fps must be a positive number, got {fps}")
    if abs(fps - motion.fps) < 1e-9:
        return motion
    count = resampled_frame_count(motion.frame_count, motion.fps, fps)
    if count > MAX_FRAMES:
        raise ConfigError(f"resampling to {fps:g} fps would make {count} frames; refusing")
    source_time = np.arange(count) * (motion.fps / fps)  # in source frames
    left = np.minimum(np.floor(source_time).astype(np.int64), motion.frame_count - 1)
    right = np.minimum(left + 1, motion.frame_count - 1)
    fraction = source_time - left
    exact = fraction < 1e-9

    def lerp(values: np.ndarray) -> np.ndarray:
        shape = (-1,) + (1,) * (values.ndim - 1)
        f = fraction.reshape(shape)
        return values[left] * (1.0 - f) + values[right] * f

    mask = None
    if motion.mask is not None:
        mask = motion.mask[left] & (motion.mask[right] | exact[:, None])
    meta = {**motion.meta, "resampled_from_fps": motion.fps}
    if motion.rotations is not None:
        weights = np.broadcast_to(fraction[:, None], (count, motion.joint_count))
        rotations = R.quat_slerp(motion.rotations[left], motion.rotations[right], weights)
        root = lerp(motion.root_translation)
        return Motion.from_rotations(rotations, root, motion.skeleton, fps, mask=mask, meta=meta)
    positions = lerp(motion.positions.astype(np.float64))
    return Motion(positions=positions, skeleton=motion.skeleton, fps=fps, mask=mask, meta=meta)


def fill_missing(motion: Motion) -> Motion:
    """Positions with every missing joint (NaN or masked) filled by linear interpolation in time
    between its nearest observed frames (held constant before the first and after the last).
    A joint that is never observed cannot be filled: that is an error naming it."""
    observed = motion.observed()
    if observed.all():
        return motion
    never = np.flatnonzero(~observed.any(0))
    if never.size:
        names = ", ".join(motion.skeleton.joint_names[j] for j in never[:5])
        raise ConfigError(f"joints never observed, cannot fill them: {names}")
    frames = np.arange(motion.frame_count)
    index = np.where(observed, frames[:, None], -1)
    before = np.maximum.accumulate(index, axis=0)  # last observed frame at or before t
    index_after = np.where(observed, frames[:, None], motion.frame_count)
    after = np.minimum.accumulate(index_after[::-1], axis=0)[::-1]  # next observed at or after t
    before = np.where(before < 0, after, before)
    after = np.where(after >= motion.frame_count, before, after)
    span = np.maximum(after - before, 1)
    weight = np.where(after == before, 0.0, (frames[:, None] - before) / span)[..., None]
    joints = np.arange(motion.joint_count)[None, :]
    positions = motion.positions.astype(np.float64)
    filled = positions[before, joints] * (1.0 - weight) + positions[after, joints] * weight
    result = np.where(observed[..., None], positions, filled)
    return motion.replace(positions=result.astype(np.float32), rotations=None, root_translation=None)


def rotate(motion: Motion, matrix: np.ndarray, about_origin: bool = True) -> Motion:
    """Apply a rigid world rotation ``[3, 3]`` to the whole motion (rest pose unchanged)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    positions = motion.positions.astype(np.float64) @ matrix.T
    if motion.rotations is None:
        return motion.replace(positions=positions)
    rotations = np.array(motion.rotations)
    rotations[:, 0] = R.quat_multiply(R.matrix_to_quat(matrix), rotations[:, 0])
    root = motion.root_translation @ matrix.T
    return Motion.from_rotations(rotations, root, motion.skeleton, motion.fps, mask=motion.mask,
                                 meta=motion.meta)
