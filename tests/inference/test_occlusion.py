"""Occlusion patterns (`motiongen.inference.occlusion`): rates, exact shapes of hidden joints,
limbs and spans, limbs of every registry skeleton, reproducibility and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from motiongen.errors import ConfigError
from motiongen.inference import occlusion
from motiongen.inference.occlusion import (
    PATTERNS, limbs, make_missing, random_coordinates, span_frames, time_span, whole_joints, whole_limb,
)
from motiongen.render.style import LEFT, RIGHT, joint_sides
from motiongen.skeletons import CANONICAL_CENTRAL, list_skeletons, load_skeleton

SHAPE = (64, 50, 25, 3)
ARM_PARTS = ("shoulder", "elbow", "wrist", "hand", "hand_tip", "thumb",
             *(f"{finger}{k}" for finger in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)))
LEG_PARTS = ("hip", "knee", "ankle", "toe", "toe_tip")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def hidden_joints(missing: np.ndarray) -> np.ndarray:
    """``[N, J]`` joints hidden in every frame and coordinate; asserts nothing else is hidden."""
    whole = missing.all(axis=(1, 3))
    assert np.array_equal(missing, np.broadcast_to(whole[:, None, :, None], missing.shape))
    return whole


# --- random coordinates ---------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_random_rate_within_tolerance(rate):
    missing = random_coordinates(SHAPE, rate, rng(1))
    assert missing.shape == SHAPE and missing.dtype == bool
    tolerance = 5 * np.sqrt(rate * (1 - rate) / missing.size)  # five standard deviations
    assert abs(missing.mean() - rate) < tolerance
    # independent per coordinate: x, y and z of one joint are not hidden together
    together = missing.all(axis=-1).mean()
    assert abs(together - rate**3) < 5 * np.sqrt(rate**3 * (1 - rate**3) / (missing.size / 3)) + 1e-4


def test_random_is_reproducible_and_seeded():
    first = random_coordinates(SHAPE, 0.25, rng(7))
    assert np.array_equal(first, random_coordinates(SHAPE, 0.25, rng(7)))
    assert not np.array_equal(first, random_coordinates(SHAPE, 0.25, rng(8)))


def test_random_never_hides_a_whole_sequence():
    # 3 coordinates per sequence at 90 %: 73 % of sequences would be hidden by the raw draw
    missing = random_coordinates((400, 1, 1, 3), 0.9, rng(2))
    assert (~missing).reshape(400, -1).any(axis=1).all()
    assert missing.sum(axis=(1, 2, 3)).max() == 2


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 1.5])
def test_random_rejects_rates_outside_open_interval(rate):
    with pytest.raises(ConfigError, match="between 0 and 1"):
        random_coordinates(SHAPE, rate, rng())


# --- whole joints ---------------------------------------------------------------------------
@pytest.mark.parametrize("count", [1, 3, 24])
def test_whole_joints_hides_exactly_count_joints_in_every_frame(count):
    whole = hidden_joints(whole_joints(SHAPE, count, rng(3)))
    assert (whole.sum(axis=1) == count).all()
    if count < 24:
        assert len({tuple(row) for row in whole}) > 1  # the choice differs between sequences


@pytest.mark.parametrize("count", [1, 3])
def test_whole_joints_choice_is_uniform(count):
    draws = 4000
    per_joint = hidden_joints(whole_joints((draws, 1, 25, 3), count, rng(9))).sum(axis=0)
    p = count / 25
    assert np.abs(per_joint - draws * p).max() < 5 * np.sqrt(draws * p * (1 - p))


def test_whole_joints_rejects_hiding_everything():
    with pytest.raises(ConfigError, match="1 to 24 of 25"):
        whole_joints(SHAPE, 25, rng())
    with pytest.raises(ConfigError):
        whole_joints(SHAPE, 0, rng())


# --- limbs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list_skeletons())
def test_limbs_of_every_registry_skeleton(name):
    skeleton = load_skeleton(name)
    found = limbs(skeleton)
    assert set(found) == {"left_arm", "right_arm", "left_leg", "right_leg"}
    sides = joint_sides(skeleton)
    canonical = skeleton.canonical
    everything = np.concatenate(list(found.values()))
    assert len(everything) == len(set(everything.tolist())), "limbs overlap"
    assert 0 not in everything
    for limb, joints in found.items():
        side, part = limb.split("_")
        assert joints.size > 0
        assert (sides[joints] == (LEFT if side == "left" else RIGHT)).all(), limb
        assert not {canonical[j] for j in joints} & set(CANONICAL_CENTRAL), limb  # no spine or head
        # every canonical joint of that side and limb is in it, and the tree is closed downwards
        parts = ARM_PARTS if part == "arm" else LEG_PARTS
        expected = {j for j, c in enumerate(canonical) if c in {f"{side}_{p}" for p in parts}}
        assert expected <= set(joints.tolist()), limb
        children = np.flatnonzero(np.isin(skeleton.parents, joints))
        assert set(children.tolist()) <= set(joints.tolist()), limb
        top = skeleton.canonical_index()[f"{side}_{'shoulder' if part == 'arm' else 'hip'}"]
        assert joints.min() == top


def test_limbs_by_name_on_ntu25():
    skeleton = load_skeleton("ntu25")
    names = {limb: [skeleton.joint_names[j] for j in joints] for limb, joints in limbs(skeleton).items()}
    assert names["left_arm"] == ["ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft", "HandTipLeft", "ThumbLeft"]
    assert names["right_leg"] == ["HipRight", "KneeRight", "AnkleRight", "FootRight"]


def test_whole_limb_hides_one_limb_per_sequence():
    skeleton = load_skeleton("ntu25")
    found = limbs(skeleton)
    whole = hidden_joints(whole_limb(skeleton, SHAPE, rng(4)))
    table = np.zeros((4, skeleton.joint_count), dtype=bool)
    for row, joints in enumerate(found.values()):
        table[row, joints] = True
    matches = (whole[:, None, :] == table[None]).all(axis=-1)  # [N, limb]
    assert (matches.sum(axis=1) == 1).all()
    assert matches.any(axis=0).all()  # 64 draws reach all four limbs


def test_whole_limb_refuses_a_skeleton_without_limbs_or_of_another_size():
    skeleton = load_skeleton("ntu25")
    trunk = skeleton.subset([0, 1, 2, 3, 4], "trunk")
    with pytest.raises(ConfigError, match="no limbs"):
        whole_limb(trunk, (2, 10, 5, 3), rng())
    with pytest.raises(ConfigError, match="25 joints"):
        whole_limb(skeleton, (2, 10, 24, 3), rng())


# --- time spans -----------------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 12, 49])
def test_time_span_hides_every_joint_for_consecutive_frames(length):
    missing = time_span(SHAPE, length, rng(5))
    frames = missing.all(axis=(2, 3))  # [N, T]
    assert np.array_equal(missing, np.broadcast_to(frames[:, :, None, None], SHAPE))
    assert (frames.sum(axis=1) == length).all()
    # one run per sequence: exactly one rising edge, counting a span that starts at frame 0
    edges = np.diff(np.pad(frames, ((0, 0), (1, 0))).astype(int), axis=1)
    assert ((edges == 1).sum(axis=1) == 1).all()
    starts = frames.argmax(axis=1)
    assert starts.max() <= 50 - length
    if length < 49:
        assert len(set(starts.tolist())) > 1


def test_time_span_rejects_the_whole_window():
    with pytest.raises(ConfigError, match="1 to 49"):
        time_span(SHAPE, 50, rng())


# --- the standard set -----------------------------------------------------------------------
def test_patterns_list_the_standard_set():
    assert list(PATTERNS) == ["random-1%", "random-10%", "random-25%", "random-50%", "random-75%",
                              "random-90%", "joints-1", "joints-3", "limb", "span-25%", "span-50%"]
    assert PATTERNS["random-25%"].amount == 0.25
    assert span_frames(50, 0.25) == 12 and span_frames(64, 0.25) == 16 and span_frames(50, 0.5) == 25


@pytest.mark.parametrize("name", list(PATTERNS))
def test_make_missing_every_pattern(name):
    skeleton = load_skeleton("ntu25")
    missing = make_missing(name, skeleton, SHAPE, rng(6))
    assert missing.shape == SHAPE and missing.dtype == bool
    assert missing.any() and (~missing).reshape(SHAPE[0], -1).any(axis=1).all()
    assert np.array_equal(missing, make_missing(name, skeleton, SHAPE, rng(6)))
    if name.startswith("span"):
        assert (missing.all(axis=(2, 3)).sum(axis=1) == span_frames(50, PATTERNS[name].amount)).all()
    if name == "joints-3":
        assert (hidden_joints(missing).sum(axis=1) == 3).all()


def test_make_missing_refusals():
    with pytest.raises(ConfigError, match=r"unknown occlusion pattern 'random-5%'; known: random-1%, .*span-50%"):
        make_missing("random-5%", None, SHAPE, rng())
    with pytest.raises(ConfigError, match="needs the skeleton"):
        make_missing("limb", None, SHAPE, rng())
    with pytest.raises(ConfigError, match="hidden span"):  # span-50% of a 1-frame window is all of it
        make_missing("span-50%", None, (2, 1, 25, 3), rng())
    with pytest.raises(ConfigError, match="Generator"):
        make_missing("random-10%", None, SHAPE, 0)
    with pytest.raises(ConfigError, match=r"\[N, T, J, 3\]"):
        make_missing("random-10%", None, (2, 10, 25), rng())


def test_safety_net_names_the_pattern():
    with pytest.raises(ConfigError, match="would hide every coordinate"):
        occlusion._check_observed(np.ones((2, 3, 4, 3), dtype=bool), "this pattern")
