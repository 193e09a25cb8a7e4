"""Foot planting: a gliding body is stopped by its planted feet, a striding one is left alone, and
a real CMU walk keeps its pace."""

from __future__ import annotations

import numpy as np
import pytest

from motiongen.errors import ConfigError
from motiongen.inference.footplant import plant_feet
from motiongen.metrics.plausibility import foot_joints, foot_skating_ratio
from motiongen.skeletons import load_skeleton

FPS = 30.0


def _stand(frames: int = 40) -> tuple[np.ndarray, list[int]]:
    """h36m17 rest pose held still, lowest joint on the floor: ``[1, T, J, 3]``."""
    skeleton = load_skeleton("h36m17")
    pose = skeleton.rest_positions()
    pose = pose - [0.0, pose[:, 1].min(), 0.0]
    return np.repeat(pose[None, None], frames, axis=1).astype(np.float64), foot_joints(skeleton)


def test_a_body_gliding_over_planted_feet_is_held_by_them():
    clip, feet = _stand()
    glide = np.arange(clip.shape[1]) * 1.5 / FPS  # 1.5 m/s along x, no stride at all
    clip[..., 0] += glide[None, :, None]
    assert foot_skating_ratio(clip, feet, FPS) == 1.0
    planted = plant_feet(clip, feet)
    assert foot_skating_ratio(planted, feet, FPS) == 0.0
    np.testing.assert_allclose(planted[:, :, :, 0], planted[:, :1, :, 0].repeat(clip.shape[1], 1), atol=1e-9)
    np.testing.assert_array_equal(planted[..., 1], clip[..., 1])  # heights untouched
    np.testing.assert_array_equal(planted[:, 0], clip[:, 0])  # the first frame stays


def test_a_striding_body_and_lifted_feet_are_left_alone():
    clip, feet = _stand()
    glide = np.arange(clip.shape[1]) * 1.5 / FPS
    moving = np.ones(clip.shape[2], dtype=bool)
    moving[feet] = False  # the feet stand still while the body moves on: a perfect stride
    clip[:, :, moving, 0] += glide[:, None]
    np.testing.assert_allclose(plant_feet(clip, feet), clip, atol=1e-9)
    flying, _ = _stand()
    flying[..., 0] += glide[None, :, None]
    flying[..., 1] += 0.3  # every joint, feet included, 30 cm up: the floor is the feet's own lowest
    flying[:, :, feet[:1], 1] += 0.5  # ... so lift one foot off it
    planted = plant_feet(flying, feet)
    free = [f for f in feet if f != feet[0]]
    assert foot_skating_ratio(planted[:, :, free], list(range(len(free))), FPS) == 0.0


def test_a_real_walk_keeps_its_pace_and_does_not_skate_more(walking_bvh):
    from motiongen.core.ops import resample
    from motiongen.formats import read_motion

    motion = resample(read_motion(walking_bvh), FPS)
    positions = motion.positions[None, 1:]  # frame 0 of the CMU files is a T-pose
    feet = foot_joints(motion.skeleton)
    planted = plant_feet(positions, feet)
    travelled = lambda p: np.linalg.norm(p[0, -1, 0, [0, 2]] - p[0, 0, 0, [0, 2]])  # noqa: E731
    assert travelled(planted) == pytest.approx(travelled(positions), rel=0.15)
    assert foot_skating_ratio(planted, feet, FPS) <= foot_skating_ratio(positions, feet, FPS)


def test_bad_input_is_refused():
    clip, feet = _stand(4)
    with pytest.raises(ConfigError, match="N, T, J, 3"):
        plant_feet(clip[0], feet)
    with pytest.raises(ConfigError, match="joint indices"):
        plant_feet(clip, [99])
    np.testing.assert_array_equal(plant_feet(clip[:, :1], feet), clip[:, :1])


def test_a_motion_with_rotations_is_planted_by_its_root_translation():
    from motiongen.core.motion import Motion
    from motiongen.inference.footplant import plant_motion

    clip, feet = _stand()
    clip[..., 0] += (np.arange(clip.shape[1]) * 1.5 / FPS)[None, :, None]
    motion = Motion(positions=clip[0], skeleton=load_skeleton("h36m17"), fps=FPS).with_ik()
    planted = plant_motion(motion)
    np.testing.assert_array_equal(planted.rotations, motion.rotations)  # the same poses
    assert foot_skating_ratio(planted.positions[None], feet, FPS) == 0.0
    np.testing.assert_allclose(planted.root_translation[:, 0], motion.root_translation[0, 0], atol=1e-6)
