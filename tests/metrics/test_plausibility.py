"""Plausibility metrics (`motiongen.metrics.plausibility`) on synthetic motion with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.metrics.plausibility import bone_length_variation, foot_joints, foot_skating_ratio, jitter
from motiongen.skeletons import load_skeleton

FEET = [1, 2]  # joints of `walk`: 0 pelvis, 1 left ankle, 2 right ankle


def walk(fps: int = 30, seconds: float = 4.0, speed: float = 1.2, sliding: bool = False,
         floor: float = 0.0) -> np.ndarray:
    """``[1, T, 3, 3]``: a pelvis moving forward (+Z) at ``speed`` m/s and two feet, each with a
    1 s cycle of 0.6 s stance and 0.4 s swing, the right half a cycle behind the left. In stance a
    foot is on the floor (y = ``floor``), planted where the pelvis is at mid-stance, or, with
    ``sliding``, carried along under the pelvis; in swing it is lifted 12–17 cm and moves forward
    to its next footfall. Frames are counted in integers so phases have no rounding."""
    frame = np.arange(int(seconds * fps))
    cycle, stance = fps, round(0.6 * fps)  # frames per cycle, per stance
    body_z = speed * frame / fps
    positions = np.zeros((1, frame.size, 3, 3))
    positions[0, :, 0] = np.stack([np.zeros_like(body_z), np.full_like(body_z, 0.9 + floor), body_z], -1)
    for joint, side, delay in ((1, 0.1, 0), (2, -0.1, cycle // 2)):
        local = frame + delay
        step, phase = local // cycle, local % cycle
        planted_z = speed * (step * cycle + stance / 2 - delay) / fps  # body at mid-stance
        in_stance = phase < stance
        swing_fraction = (phase - stance) / (cycle - stance)
        swing_z = planted_z + speed * swing_fraction  # one cycle = `speed` metres
        z = np.where(in_stance, body_z if sliding else planted_z, swing_z)
        y = np.where(in_stance, 0.0, 0.12 + 0.05 * np.sin(np.pi * swing_fraction)) + floor
        positions[0, :, joint] = np.stack([np.full_like(z, side), y, z], -1)
    return positions


# --- foot skating ---------------------------------------------------------------------------

def test_planted_feet_do_not_skate_and_sliding_feet_do():
    assert foot_skating_ratio(walk(), FEET, fps=30) == pytest.approx(0.0, abs=1e-12)
    assert foot_skating_ratio(walk(sliding=True), FEET, fps=30) > 0.9


def test_the_floor_is_found_per_sequence():
    both = np.concatenate([walk(sliding=True, floor=0.4), walk(floor=-0.2)])
    # sliding sequence ≈ 1, planted sequence 0: the mean over sequences is about a half
    assert foot_skating_ratio(both, FEET, fps=30) == pytest.approx(
        foot_skating_ratio(walk(sliding=True), FEET, fps=30) / 2, rel=1e-12)


def test_the_displacement_threshold_is_a_speed():
    # At 60 fps a foot sliding at 1.2 m/s moves 2 cm per frame, under 2.5 cm, but 4 cm per 30 fps frame.
    assert foot_skating_ratio(walk(fps=60, sliding=True), FEET, fps=60) > 0.9
    assert foot_skating_ratio(walk(fps=60), FEET, fps=60) == pytest.approx(0.0, abs=1e-12)
    # Sliding at 0.6 m/s (2 cm per 30 fps frame) is under the threshold.
    assert foot_skating_ratio(walk(speed=0.6, sliding=True), FEET, fps=30) == 0.0
    assert foot_skating_ratio(walk(speed=0.6, sliding=True), FEET, fps=30, speed_threshold=0.015) > 0.9


def test_foot_skating_counts_transitions_with_contact_at_both_ends():
    positions = np.zeros((1, 5, 1, 3))
    positions[0, :, 0, 2] = [0.0, 0.1, 0.2, 0.3, 0.4]  # 10 cm per frame
    positions[0, :, 0, 1] = [0.0, 0.0, 0.2, 0.0, 0.0]  # lifted at frame 2
    # transitions 0→1 and 3→4 are in contact and sliding; 1→2 and 2→3 are not in contact
    assert foot_skating_ratio(positions, [0], fps=30) == pytest.approx(2 / 4)


# --- bone lengths ---------------------------------------------------------------------------

def test_rigid_motion_has_no_bone_length_variation():
    rng = np.random.default_rng(0)
    rest = rng.normal(size=(5, 3))
    angles = np.linspace(0, 3, 40)
    rotations = np.zeros((40, 3, 3))
    rotations[:, 0, 0] = rotations[:, 2, 2] = np.cos(angles)
    rotations[:, 0, 2], rotations[:, 2, 0] = np.sin(angles), -np.sin(angles)
    rotations[:, 1, 1] = 1.0
    positions = np.einsum("tij,kj->tki", rotations, rest) + rng.normal(size=(40, 1, 3))
    parents = np.array([-1, 0, 1, 1, 0])
    assert bone_length_variation(positions[None], parents) == pytest.approx(0.0, abs=1e-9)


def test_an_oscillating_bone_has_the_known_variation_and_zero_bones_are_skipped():
    """Bone 0→2 has length L0 + A sin(2π·3t/T): over whole periods its std is A/√2. Joint 1
    sits on the root with 0.1 mm of noise, a zero-length bone that must not count."""
    frames = 60
    phase = 2 * np.pi * 3 * np.arange(frames) / frames
    rng = np.random.default_rng(1)
    amplitudes = [0.01, 0.004]
    positions = np.zeros((2, frames, 3, 3))
    for sequence, amplitude in enumerate(amplitudes):
        positions[sequence, :, 0] = [0.0, 1.0, 0.5 * sequence]
        positions[sequence, :, 1] = positions[sequence, :, 0] + 1e-4 * rng.normal(size=(frames, 3))
        positions[sequence, :, 2] = positions[sequence, :, 0]
        positions[sequence, :, 2, 1] -= 0.4 + amplitude * np.sin(phase)
    expected_mm = np.mean(amplitudes) / np.sqrt(2) * 1e3
    assert bone_length_variation(positions, [-1, 0, 0]) == pytest.approx(expected_mm, rel=1e-9)


# --- jitter ---------------------------------------------------------------------------------

def test_jitter_is_zero_at_constant_velocity_and_six_for_a_cubic():
    time = np.arange(40) / 30.0
    steady = np.zeros((2, 40, 3, 3))
    steady[..., :] = np.array([1.2, -0.3, 0.5]) * time[None, :, None, None] + 0.7
    assert jitter(steady, fps=30) == pytest.approx(0.0, abs=1e-6)
    for fps in (30, 100):
        time = np.arange(50) / fps
        cubic = np.zeros((2, 50, 3, 3))
        cubic[..., 0] = time[None, :, None] ** 3  # jerk d³x/dt³ = 6 m/s³ everywhere
        assert jitter(cubic, fps=fps) == pytest.approx(6.0, rel=1e-6)


# --- foot joints ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cmu31", "ntu25", "smpl22", "h36m17"])
def test_registry_skeletons_have_two_to_four_foot_joints(name):
    skeleton = load_skeleton(name)
    joints = foot_joints(skeleton)
    assert 2 <= len(joints) <= 4 and joints == sorted(set(joints))
    tags = [skeleton.canonical[j] for j in joints]
    assert {"left_ankle", "right_ankle"} <= set(tags)
    assert all(tag.endswith(("ankle", "toe")) for tag in tags)


def test_foot_joints_by_name_when_there_are_no_canonical_names():
    names = ("Hips", "LeftAnkle", "rightFOOT", "Spine", "Head")
    skeleton = Skeleton(name="plain", joint_names=names, parents=[-1, 0, 0, 0, 3], offsets=np.ones((5, 3)))
    assert foot_joints(skeleton) == [1, 2]
    armless = Skeleton(name="stick", joint_names=("Hips", "Head"), parents=[-1, 0], offsets=np.ones((2, 3)))
    with pytest.raises(ConfigError, match="no foot joints"):
        foot_joints(armless)


# --- refusals -------------------------------------------------------------------------------

def test_bad_inputs_raise_config_error():
    positions = walk()
    with pytest.raises(ConfigError, match=r"\[N, T, J, 3\]"):
        jitter(positions[0], fps=30)
    with pytest.raises(ConfigError, match="at least 4 frames"):
        jitter(positions[:, :3], fps=30)
    with pytest.raises(ConfigError, match="fps"):
        jitter(positions, fps=0)
    with pytest.raises(ConfigError, match="foot_joints"):
        foot_skating_ratio(positions, [5], fps=30)
    with pytest.raises(ConfigError, match="parents"):
        bone_length_variation(positions, [-1, 0])
    with pytest.raises(ConfigError, match="no bone"):
        bone_length_variation(np.zeros((1, 4, 2, 3)), [-1, 0])
    positions[0, 3, 1, 0] = np.inf
    with pytest.raises(ConfigError, match="non-finite"):
        foot_skating_ratio(positions, FEET, fps=30)
