"""FK and IK: FK(IK(x)) = x on every real CMU clip, including the body turned to face away."""

import numpy as np
import pytest
import torch

from motiongen.core import rotations as R
from motiongen.core.kinematics import (
    fit_bone_lengths,
    forward_kinematics,
    inverse_kinematics,
    plan_ik,
    skeleton_fk,
)
from motiongen.core.motion import Motion
from motiongen.core.ops import rotate
from motiongen.formats import bvh
from motiongen.skeletons import load_skeleton

from _data import cmu_files, needs_cmu


def _random_motion(skeleton, frames=40, seed=0, scale=0.6):
    rng = np.random.default_rng(seed)
    local = R.axis_angle_to_quat(rng.normal(scale=scale, size=(frames, skeleton.joint_count, 3)))
    root = rng.normal(size=(frames, 3))
    return local, root


def test_fk_matches_a_plain_loop():
    skeleton = load_skeleton("smpl22")
    local, root = _random_motion(skeleton)
    positions = skeleton_fk(skeleton, local, root)
    expected = np.zeros_like(positions)
    global_m = np.zeros(local.shape[:2] + (3, 3))
    m = R.quat_to_matrix(local)
    for j, parent in enumerate(skeleton.parents):  # the textbook definition, one joint at a time
        if parent < 0:
            global_m[:, j], expected[:, j] = m[:, j], root
        else:
            global_m[:, j] = global_m[:, parent] @ m[:, j]
            expected[:, j] = expected[:, parent] + np.einsum("tij,j->ti", global_m[:, parent], skeleton.offsets[j])
    assert np.allclose(positions, expected, atol=1e-12)


def test_fk_torch_matches_numpy_and_has_gradients():
    skeleton = load_skeleton("ntu25")
    local, root = _random_motion(skeleton, frames=5)
    expected = skeleton_fk(skeleton, local, root)
    local_t = torch.tensor(local, requires_grad=True)
    positions = forward_kinematics(local_t, skeleton.offsets, skeleton.parents, torch.tensor(root))
    assert np.allclose(positions.detach().numpy(), expected, atol=1e-12)
    positions.sum().backward()
    assert torch.isfinite(local_t.grad).all()


@pytest.mark.parametrize("name", ["ntu25", "smpl22", "smplh52", "h36m32", "h36m17", "cmu31"])
def test_fk_of_ik_reproduces_positions_on_every_registry_skeleton(name):
    skeleton = load_skeleton(name)
    local, root = _random_motion(skeleton, seed=hash(name) % 1000)
    positions = skeleton_fk(skeleton, local, root)
    solved, solved_root = inverse_kinematics(positions, skeleton)
    assert np.allclose(skeleton_fk(skeleton, solved, solved_root), positions, atol=1e-9)
    assert np.allclose(np.linalg.norm(solved, axis=-1), 1.0)
    # signs continuous in time
    assert np.all((solved[1:] * solved[:-1]).sum(-1) >= -1e-9)


def test_ik_recovers_the_true_rotations_where_they_are_determined():
    """A joint whose children span a plane (root, chest) has one right answer: IK must find it."""
    skeleton = load_skeleton("smpl22")
    local, root = _random_motion(skeleton, scale=0.3)
    positions, global_q = forward_kinematics(local, skeleton.offsets, skeleton.parents, root, return_global=True)
    solved, _ = inverse_kinematics(positions, skeleton)
    _, solved_global = forward_kinematics(solved, skeleton.offsets, skeleton.parents, root, return_global=True)
    for joint in plan_ik(skeleton).kabsch_joints:
        assert np.allclose(np.abs((solved_global[:, joint] * global_q[:, joint]).sum(-1)), 1.0, atol=1e-9)


def test_straight_limb_keeps_the_previous_twist():
    skeleton = load_skeleton("smpl22")
    local = np.tile(R.quat_identity((skeleton.joint_count,), np.float64), (3, 1, 1))
    knee = skeleton.index("left_knee")
    local[0, knee] = R.axis_angle_to_quat(np.array([0.8, 0, 0]))  # bent: twist defined
    positions = skeleton_fk(skeleton, local, np.zeros((3, 3)))
    solved, solved_root = inverse_kinematics(positions, skeleton)
    hip = skeleton.index("left_hip")
    # frames 1-2 have a straight leg; the hip keeps frame 0's twist instead of snapping
    assert np.allclose(solved[1, hip], solved[2, hip])
    assert np.allclose(skeleton_fk(skeleton, solved, solved_root), positions, atol=1e-9)


def test_fit_bone_lengths_is_symmetric_and_median():
    skeleton = load_skeleton("ntu25")
    local, root = _random_motion(skeleton)
    scaled = skeleton.with_offsets(skeleton.offsets * 1.1)
    positions = skeleton_fk(scaled, local, root)
    fitted = fit_bone_lengths(positions, skeleton)
    assert np.allclose(fitted.bone_lengths()[1:], scaled.bone_lengths()[1:], rtol=1e-6, atol=1e-9)
    lengths = fitted.bone_lengths()
    for a, b in skeleton.symmetry:
        assert np.isclose(lengths[a], lengths[b])


@needs_cmu
@pytest.mark.parametrize("path", cmu_files(), ids=lambda p: p.name)
def test_fk_of_ik_on_real_cmu_clip(path):
    """FK(IK(positions)) = positions to 1e-4 m with the clip's own fixed bone lengths, also with
    the whole clip turned to face the other way (180° about Y)."""
    motion = bvh.read(path)
    for turn in (np.eye(3), R.axis_angle_to_matrix(np.array([0.0, np.pi, 0.0]))):
        turned = rotate(motion, turn)
        solved = Motion(positions=turned.positions, skeleton=motion.skeleton, fps=motion.fps).with_ik()
        assert np.abs(solved.positions - turned.positions).max() < 1e-4


@needs_cmu
def test_cmu_clip_faces_away_somewhere_and_ik_still_holds():
    """The dataset itself has frames facing -Z (away from a camera at +Z); check IK there."""
    motion = bvh.read(cmu_files()[0].parent.parent / "walking" / "02_01.bvh")
    left, right = motion.skeleton.index("LeftUpLeg"), motion.skeleton.index("RightUpLeg")
    side = motion.positions[:, left] - motion.positions[:, right]
    forward_z = np.cross(side, [0.0, 1.0, 0.0])[:, 2]  # facing direction's z (left × up)
    turned = rotate(motion, R.axis_angle_to_matrix(np.array([0.0, np.pi, 0.0])))
    side_t = turned.positions[:, left] - turned.positions[:, right]
    forward_t = np.cross(side_t, [0.0, 1.0, 0.0])[:, 2]
    assert (forward_z > 0).mean() > 0.5 and (forward_t < 0).mean() > 0.5
    solved = Motion(positions=turned.positions, skeleton=motion.skeleton, fps=motion.fps).with_ik()
    assert np.abs(solved.positions - turned.positions).max() < 1e-4


@needs_cmu
@pytest.mark.parametrize("name", ["ntu25", "smpl22", "smplh52", "h36m32", "h36m17", "h36m16"])
def test_fitted_skeleton_reproduces_retargeted_motion(name, walking_bvh):
    """IK onto a skeleton fitted to retargeted positions: sibling directions come from the data,
    so the residual is only what is not rigid (derived joints, symmetric lengths): millimetres."""
    from motiongen.core.kinematics import fit_skeleton
    from motiongen.retarget import retarget

    source = retarget(bvh.read(walking_bvh)[1::4], load_skeleton(name))
    for fit, mean_limit in ((fit_bone_lengths, None), (fit_skeleton, 0.008)):
        skeleton = fit(source.positions, source.skeleton)
        solved = source.replace(skeleton=skeleton).with_ik()
        error = np.linalg.norm(solved.positions - source.positions, axis=-1)
        if mean_limit is None:
            baseline = error.mean()
        else:
            assert error.mean() < mean_limit and error.max() < 0.02
            assert error.mean() < baseline
