"""Retargeting through canonical joint names and derivation rules (`motiongen.retarget`)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from motiongen.core.motion import Motion
from motiongen.errors import SkeletonError
from motiongen.retarget import COINCIDENT_M, retarget, retarget_weights
from motiongen.skeletons import list_skeletons, load_skeleton, skeleton_from_toml_text
from _data import TALKER

REGISTRY = list_skeletons()
PAIRS = list(itertools.product(REGISTRY, REGISTRY))


def random_pose_motion(skeleton, frames: int = 6, seed: int = 0, **kwargs) -> Motion:
    """Rest pose plus independent noise per joint and frame, so every joint is distinct."""
    rng = np.random.default_rng(seed)
    positions = skeleton.rest_positions() + rng.normal(0.0, 0.05, (frames, skeleton.joint_count, 3))
    return Motion(positions=positions, skeleton=skeleton, fps=30.0, **kwargs)


def first_rule(target, source, canonical: str):
    available = source.canonical_index()
    return next(r for r in (*target.derived, *source.derived)
                if r.canonical == canonical and all(s in available for s in r.sources))


def test_registry_has_the_shipped_skeletons():
    assert {"cmu31", "h36m16", "h36m17", "h36m32", "ntu25", "smpl22", "smpl24", "smplh52"} <= set(REGISTRY)


@pytest.mark.parametrize(("source_name", "target_name"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_registry_pair_resolves(source_name, target_name):
    source, target = load_skeleton(source_name), load_skeleton(target_name)
    weights = retarget_weights(source, target)
    assert weights.shape == (target.joint_count, source.joint_count)
    assert np.all(np.isfinite(weights))
    # Affine combinations only: a rigid move of the source moves the target the same way.
    assert np.allclose(weights.sum(axis=1), 1.0)
    motion = random_pose_motion(source, frames=3)
    moved = motion.replace(positions=motion.positions + np.float32([1.0, -2.0, 0.5]))
    a, b = retarget(motion, target), retarget(moved, target)
    assert a.skeleton is target and a.frame_count == 3 and a.fps == 30.0
    assert np.all(np.isfinite(a.positions)) and a.mask is None
    assert np.allclose(b.positions - a.positions, [1.0, -2.0, 0.5], atol=1e-5)
    if source_name != target_name:
        assert a.meta["retargeted_from"] == source_name


@pytest.mark.parametrize("name", REGISTRY)
def test_same_layout_is_the_identity(name):
    skeleton = load_skeleton(name)
    motion = random_pose_motion(skeleton)
    assert retarget(motion, skeleton) is motion
    # Another skeleton of the same layout (fitted bone lengths) is still the same joints.
    assert retarget(motion, skeleton.with_offsets(skeleton.offsets * 1.1)) is motion
    # Every joint with a canonical name maps onto itself.
    weights = retarget_weights(skeleton, skeleton)
    named = [j for j, c in enumerate(skeleton.canonical) if c]
    assert np.array_equal(weights[named], np.eye(skeleton.joint_count)[named])


@pytest.mark.parametrize("target_name", ["smpl22", "h36m17", "cmu31", "smplh52"])
def test_nan_in_one_source_joint_only_reaches_joints_made_from_it(target_name):
    source, target = load_skeleton("ntu25"), load_skeleton(target_name)
    clean = random_pose_motion(source, frames=5)
    positions = np.array(clean.positions)
    wrist = source.index("WristLeft")
    positions[2, wrist] = np.nan
    broken = retarget(clean.replace(positions=positions), target)
    reference = retarget(clean, target)

    made_from_wrist = retarget_weights(source, target)[:, wrist] != 0
    assert made_from_wrist.any()
    assert np.all(np.isnan(broken.positions[2, made_from_wrist]))
    assert np.all(np.isfinite(broken.positions[2, ~made_from_wrist]))
    assert np.allclose(broken.positions[2, ~made_from_wrist], reference.positions[2, ~made_from_wrist])
    others = [0, 1, 3, 4]
    assert np.allclose(broken.positions[others], reference.positions[others])
    # NaN counts as missing.
    assert np.array_equal(~broken.observed(), np.isnan(broken.positions).any(-1))


def test_mask_propagates_to_every_joint_made_from_a_masked_one():
    source, target = load_skeleton("ntu25"), load_skeleton("smpl22")
    mask = np.ones((6, 25), dtype=bool)
    mask[1, source.index("ShoulderLeft")] = False
    mask[4, source.index("HipRight")] = False
    motion = random_pose_motion(source, mask=mask)

    result = retarget(motion, target)

    weights = retarget_weights(source, target)
    expected = np.ones((6, target.joint_count), dtype=bool)
    expected[1] = weights[:, source.index("ShoulderLeft")] == 0
    expected[4] = weights[:, source.index("HipRight")] == 0
    assert np.array_equal(result.mask, expected)
    assert not result.mask[1, target.index("left_shoulder")]
    assert not result.mask[1, target.index("left_collar")]  # derived partly from the shoulder
    assert result.mask[1, target.index("right_collar")] and result.mask[1, target.index("spine3")]
    assert not result.mask[4, target.index("right_hip")]
    assert result.mask[4, target.index("pelvis")] and result.mask[4, target.index("left_hip")]
    # Positions stay where the source put them: a mask is not a NaN.
    assert np.all(np.isfinite(result.positions))


def test_fully_observed_source_gives_no_mask():
    assert retarget(random_pose_motion(load_skeleton("cmu31")), load_skeleton("ntu25")).mask is None


def test_named_joints_copy_and_derived_joints_combine():
    """Every target joint is its canonical twin in the source, or the first applicable rule's
    affine combination of source joints (checked on a random, non-rest pose)."""
    for source_name, target_name in [("h36m16", "ntu25"), ("h36m17", "smpl22"), ("ntu25", "smplh52"),
                                     ("cmu31", "ntu25"), ("smpl22", "h36m32")]:
        source, target = load_skeleton(source_name), load_skeleton(target_name)
        motion = random_pose_motion(source, frames=2, seed=7)
        result = retarget(motion, target)
        available = source.canonical_index()
        checked = 0
        for j, canonical in enumerate(target.canonical):
            if canonical in available:
                expected = motion.positions[:, available[canonical]]
            elif canonical is not None:
                rule = first_rule(target, source, canonical)
                expected = sum(w * motion.positions[:, available[s]].astype(np.float64)
                               for s, w in zip(rule.sources, rule.weights))
            else:
                continue
            assert np.allclose(result.positions[:, j], expected, atol=1e-6), (source_name, target_name, canonical)
            checked += 1
        assert checked >= 15


def test_derived_rules_by_hand():
    # h36m16 has a head top but no head: ntu25's Head is the mid-point of neck base and head top,
    # and its Neck (no 'head' in the source) comes from the neck_base/head_top rule.
    source, target = load_skeleton("h36m16"), load_skeleton("ntu25")
    motion = random_pose_motion(source, frames=1, seed=3)
    p = {c: motion.positions[0, j].astype(np.float64) for c, j in source.canonical_index().items()}
    result = retarget(motion, target).positions[0]
    assert np.allclose(result[target.index("Head")], 0.5 * p["neck_base"] + 0.5 * p["head_top"], atol=1e-6)
    assert np.allclose(result[target.index("Neck")], 0.7 * p["neck_base"] + 0.3 * p["head_top"], atol=1e-6)
    # Extrapolation (weights outside [0, 1]): the hand beyond the wrist along the forearm.
    assert np.allclose(result[target.index("HandLeft")], -0.35 * p["left_elbow"] + 1.35 * p["left_wrist"],
                       atol=1e-6)


def test_coincident_joints_follow_their_parent_or_twin():
    source, target = load_skeleton("ntu25"), load_skeleton("h36m32")
    weights = retarget_weights(source, target)
    # h36m32's Spine has a 0.1 mm bone: it sits on the Hips.
    spine = target.index("Spine")
    assert np.linalg.norm(target.offsets[spine]) <= COINCIDENT_M
    assert np.array_equal(weights[spine], weights[target.index("Hips")])
    # LeftShoulder (no canonical name) has the offset of its sibling Neck: it sits where Neck is.
    assert np.array_equal(weights[target.index("LeftShoulder")], weights[target.index("Neck")])




def test_error_names_the_joint_and_the_skeletons():
    talker = skeleton_from_toml_text(TALKER, "talker.toml")
    with pytest.raises(SkeletonError) as error:
        retarget_weights(load_skeleton("ntu25"), talker)
    message = str(error.value)
    assert "'Jaw' (jaw)" in message and "ntu25" in message and "talker" in message
    assert "head" in message  # lists what the source has
    with pytest.raises(SkeletonError, match="'Jaw'"):
        retarget(random_pose_motion(load_skeleton("smpl22")), talker)


def test_error_names_a_joint_without_canonical_name():
    text = TALKER.replace('canonical = "jaw"', "").replace('"Jaw"', '"Antenna"').replace(
        "[0.0, -0.05, 0.08]", "[0.0, 0.3, 0.0]")
    with pytest.raises(SkeletonError, match="'Antenna' \\(no canonical name\\)"):
        retarget_weights(load_skeleton("cmu31"), skeleton_from_toml_text(text, "antenna.toml"))
