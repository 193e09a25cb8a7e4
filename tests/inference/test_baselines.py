"""Baseline imputers (`motiongen.inference.baselines`): exact at observed entries whatever sits
at missing ones, linear interpolation exact on linear signals, forward fill on steps, mean fill
and its fallbacks, refusals; and the four baselines on the real CMU walk under limb occlusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motiongen.errors import ConfigError
from motiongen.formats import read_motion
from motiongen.inference.baselines import (
    BASELINES, last_observed, linear_interpolation, mean_fill, observed_mean, zero_fill,
)
from motiongen.inference.occlusion import make_missing, random_coordinates, whole_limb
from motiongen.metrics.imputation import imputation_errors

REPO = Path(__file__).resolve().parents[2]
WALK = REPO / "examples" / "data" / "cmu_02_01_walk.bvh"
SHAPE = (8, 30, 5, 3)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def linear_signal(shape=SHAPE) -> np.ndarray:
    """``a + b·t`` per (sequence, joint, coordinate), float64."""
    generator = rng(11)
    offset = generator.normal(size=(shape[0], 1, shape[2], 3))
    slope = generator.normal(size=(shape[0], 1, shape[2], 3))
    return offset + slope * np.arange(shape[1]).reshape(1, -1, 1, 1)


def poisoned(positions: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """The positions with NaN, inf and huge numbers at the missing entries."""
    junk = np.array([np.nan, np.inf, -np.inf, 1e30])[np.arange(positions.size) % 4].reshape(positions.shape)
    return np.where(missing, junk.astype(positions.dtype), positions)


def observed_mask_with_each_coordinate_seen(shape=SHAPE, rate=0.5, seed=0) -> np.ndarray:
    """A random missing array in which every coordinate of every sequence is observed at least
    once (first or last frame kept), so no fallback is involved."""
    missing = random_coordinates(shape, rate, rng(seed))
    keep = rng(seed + 1).random(shape[:1] + shape[2:]) < 0.5
    missing[:, 0][keep] = False
    missing[:, -1][~keep] = False
    return missing


# --- every baseline -------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BASELINES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_at_observed_entries_and_blind_to_missing_ones(name, dtype):
    truth = rng(1).normal(size=SHAPE).astype(dtype)
    missing = make_missing("random-50%", None, SHAPE, rng(2))
    # include coordinates never observed in their sequence, which go through the fallbacks
    missing[0, :, 1, 2] = True
    missing[:, :, 3, 0] = True
    filled = BASELINES[name](poisoned(truth, missing), missing)
    assert filled.dtype == dtype and filled.shape == SHAPE
    assert np.array_equal(filled[~missing], truth[~missing])  # bit for bit
    assert np.isfinite(filled).all()
    # what was at the missing entries does not matter
    assert np.array_equal(filled, BASELINES[name](np.where(missing, 0, truth), missing))


@pytest.mark.parametrize("name", list(BASELINES))
def test_nothing_missing_returns_the_input(name):
    truth = rng(3).normal(size=SHAPE)
    assert np.array_equal(BASELINES[name](truth, np.zeros(SHAPE, dtype=bool)), truth)


def test_refusals():
    positions = np.zeros(SHAPE)
    with pytest.raises(ConfigError, match="bool"):
        zero_fill(positions, np.zeros(SHAPE))
    with pytest.raises(ConfigError, match="shape of positions"):
        last_observed(positions, np.zeros((8, 30, 5, 2), dtype=bool))
    with pytest.raises(ConfigError, match=r"\[N, T, J, 3\]"):
        linear_interpolation(np.zeros((30, 5, 3)), np.zeros((30, 5, 3), dtype=bool))
    with pytest.raises(ConfigError, match=r"does not broadcast to \[5, 3\]"):
        mean_fill(positions, np.ones(SHAPE, dtype=bool), mean=np.zeros((4, 3)))
    missing = np.zeros(SHAPE, dtype=bool)
    missing[..., 1] = True  # y is never seen anywhere
    with pytest.raises(ConfigError, match="the y coordinate is missing everywhere"):
        mean_fill(positions, missing)


# --- zero and mean fill ---------------------------------------------------------------------
def test_zero_fill_puts_the_origin():
    truth = rng(4).normal(size=SHAPE) + 5.0
    missing = make_missing("random-25%", None, SHAPE, rng(5))
    filled = zero_fill(truth, missing)
    assert (filled[missing] == 0).all()


def test_mean_fill_uses_the_given_mean():
    truth = rng(6).normal(size=SHAPE)
    missing = make_missing("random-25%", None, SHAPE, rng(7))
    mean_pose = np.arange(15.0).reshape(5, 3)
    filled = mean_fill(truth, missing, mean=mean_pose)
    expected = np.broadcast_to(mean_pose, SHAPE)
    assert np.array_equal(filled[missing], expected[missing])
    # a scalar and a per-axis mean broadcast too
    assert (mean_fill(truth, missing, mean=2.5)[missing] == 2.5).all()
    per_axis = mean_fill(truth, missing, mean=[1.0, 2.0, 3.0])
    assert np.array_equal(per_axis[missing], np.broadcast_to([1.0, 2.0, 3.0], SHAPE)[missing])


def test_mean_fill_default_and_its_fallbacks():
    # 2 sequences, 4 frames, 2 joints; the rest of the coordinates are 0
    positions = np.zeros((2, 4, 2, 3))
    positions[0, :, 0, 0] = [1.0, 2.0, 3.0, 10.0]
    positions[1, :, 0, 0] = [5.0, 7.0, 9.0, 11.0]
    positions[0, :, 0, 1] = 6.0
    positions[1, :, 0, 1] = 0.5
    positions[0, :, 1, 2] = 4.0
    positions[1, :, 1, 2] = 8.0
    missing = np.zeros(positions.shape, dtype=bool)
    missing[0, 3, 0, 0] = True  # over its sequence: (1 + 2 + 3) / 3
    missing[1, 0, 0, 0] = True  # (7 + 9 + 11) / 3
    missing[1, :, 1, 2] = True  # never in sequence 1: over all sequences, 4
    missing[:, :, 1, 1] = True  # never anywhere: the sequence's y over its other joints, 6 and 0.5
    filled = mean_fill(poisoned(positions, missing), missing)
    assert filled[0, 3, 0, 0] == pytest.approx(2.0)
    assert filled[1, 0, 0, 0] == pytest.approx(9.0)
    assert np.allclose(filled[1, :, 1, 2], 4.0)
    assert np.allclose(filled[0, :, 1, 1], 6.0) and np.allclose(filled[1, :, 1, 1], 0.5)
    # no y at all in sequence 1 and joint 1's y nowhere: the batch's mean y, 6
    missing[1, :, :, 1] = True
    filled = mean_fill(poisoned(positions, missing), missing)
    assert np.allclose(filled[1, :, 0, 1], 6.0) and np.allclose(filled[1, :, 1, 1], 6.0)
    assert observed_mean(np.where(missing, 0.0, positions), missing).shape == (2, 1, 2, 3)


# --- last observed --------------------------------------------------------------------------
def test_last_observed_on_a_step_signal():
    frames = 12
    positions = np.zeros((1, frames, 2, 3))
    positions[0, :, 0, 0] = np.where(np.arange(frames) < 6, 1.0, 2.0)  # step at frame 6
    positions[0, :, 0, 1] = np.arange(frames)
    positions[0, :, 0, 2] = -1.0
    positions[0, :, 1, 2] = 5.0
    missing = np.zeros(positions.shape, dtype=bool)
    missing[0, 3:9, 0, 0] = True  # hides the step: held at 1 until a 2 is seen
    missing[0, :4, 0, 1] = True  # leading gap: the first observed value, 4
    missing[0, 7:, 0, 1] = True  # trailing gap: the last observed value, 6
    missing[0, :, 0, 2] = True  # never observed, one sequence: the mean z of the other joint
    filled = last_observed(poisoned(positions, missing), missing)
    assert np.array_equal(filled[0, :, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2])
    assert np.array_equal(filled[0, :, 0, 1], [4, 4, 4, 4, 4, 5, 6, 6, 6, 6, 6, 6])
    assert np.array_equal(filled[0, :, 0, 2], np.full(frames, 5.0))


def test_last_observed_per_coordinate_not_per_joint():
    positions = np.zeros((1, 3, 1, 3))
    positions[0, :, 0] = [[1, 10, 100], [2, 20, 200], [3, 30, 300]]
    missing = np.zeros(positions.shape, dtype=bool)
    missing[0, 1, 0, 0] = True
    missing[0, 2, 0, 2] = True
    filled = last_observed(positions, missing)
    assert np.array_equal(filled[0, :, 0], [[1, 10, 100], [1, 20, 200], [3, 30, 200]])


# --- linear interpolation -------------------------------------------------------------------
def test_linear_interpolation_is_exact_on_linear_signals():
    truth = linear_signal()
    missing = observed_mask_with_each_coordinate_seen()
    # edges hold values, so only entries with observed frames on both sides are exact
    observed = ~missing
    frames = np.arange(SHAPE[1]).reshape(1, -1, 1, 1)
    first = np.where(observed, frames, SHAPE[1]).min(axis=1, keepdims=True)
    last = np.where(observed, frames, -1).max(axis=1, keepdims=True)
    inside = (frames >= first) & (frames <= last)
    filled = linear_interpolation(poisoned(truth, missing), missing)
    assert (missing & inside).sum() > 1000
    assert np.abs(filled - truth)[inside].max() < 1e-12
    # outside: held at the nearest observed value
    held = np.take_along_axis(truth, np.broadcast_to(np.where(frames < first, first, last), SHAPE), axis=1)
    assert np.array_equal(filled[~inside], held[~inside])


def test_linear_interpolation_hand_case_and_fallback():
    positions = np.zeros((2, 6, 1, 3))
    positions[0, :, 0, 0] = [0.0, 9, 9, 3.0, 9, 9]
    positions[1, :, 0, 0] = [2.0, 2, 2, 2, 2, 2]
    missing = np.zeros(positions.shape, dtype=bool)
    missing[0, [1, 2, 4, 5], 0, 0] = True
    missing[1, :, 0, 0] = True  # never in sequence 1: mean of sequence 0's observed x, 1.5
    filled = linear_interpolation(positions, missing)
    assert np.allclose(filled[0, :, 0, 0], [0.0, 1.0, 2.0, 3.0, 3.0, 3.0])
    assert np.allclose(filled[1, :, 0, 0], 1.5)
    assert np.array_equal(filled[1, :, 0, 0], mean_fill(positions, missing)[1, :, 0, 0])


# --- real data ------------------------------------------------------------------------------
def test_baselines_on_the_cmu_walk_with_a_limb_hidden():
    motion = read_motion(WALK)
    windows = motion.positions[1:301].reshape(6, 50, motion.joint_count, 3)  # frame 0 is a T-pose
    missing = whole_limb(motion.skeleton, windows.shape, rng(12))
    errors = {name: imputation_errors(windows, fill(np.where(missing, np.nan, windows), missing), missing)
              for name, fill in BASELINES.items()}
    for name, error in errors.items():
        assert all(np.isfinite(value) for value in error.values()), name
    assert errors["interp"]["mse_m2"] > 0
    # a limb never seen in its window: interpolation falls back to the mean, and both beat zeros
    assert errors["interp"]["mpjpe_mm"] == pytest.approx(errors["mean"]["mpjpe_mm"])
    assert errors["mean"]["mpjpe_mm"] < errors["zero"]["mpjpe_mm"]
    assert errors["interp"]["mpjpe_mm"] > 20  # millimetres, not metres
    # with scattered coordinates hidden, time helps: interpolation < forward fill < mean < zeros
    missing = make_missing("random-10%", motion.skeleton, windows.shape, rng(13))
    mpjpe = [imputation_errors(windows, BASELINES[name](windows, missing), missing)["mpjpe_mm"]
             for name in ("interp", "last", "mean", "zero")]
    assert mpjpe == sorted(mpjpe)
