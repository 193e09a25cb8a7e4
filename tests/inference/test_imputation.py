"""HG-VAE imputation: observed values never change, the kept step never scores worse than the
start, any sequence length works, and the mean-pose start is exact on a translated mean pose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiongen.errors import ConfigError
from motiongen.inference.imputation import (impute_sequence, impute_sequences, impute_windows, initial_fill,
                                            mean_pose_fill, window_starts)
from motiongen.models import create_model
from motiongen.skeletons import load_skeleton

TINY = {"frames": 16, "nodes": [6, 2, 1], "latent_dims": [4, 4, 4, 8], "hidden": 16}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    skeleton = load_skeleton("h36m17")
    network = create_model("hgvae", skeleton, num_classes=1, **TINY).generator.eval()
    network.fit_data(walk(40, 16).astype(np.float32))
    return network


def walk(count: int, frames: int) -> np.ndarray:
    rest = load_skeleton("h36m17").rest_positions()
    t = np.arange(count)[:, None] * 0.3 + np.arange(frames)[None, :] / 15.0
    positions = np.repeat(np.repeat(rest[None, None], count, 0), frames, 1)
    positions[..., 2] += 1.3 * t[..., None]
    positions[..., 2] += 0.12 * np.sin(2 * np.pi * t)[..., None] * (positions[..., 1] < rest[0, 1])
    return positions.astype(np.float32)


def hide(windows: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    hidden = windows.copy()
    hidden[np.random.default_rng(seed).random(windows.shape) < fraction] = np.nan
    return hidden


def test_observed_values_never_change_and_the_kept_step_is_never_worse(model):
    truth = walk(6, 16)
    hidden = hide(truth, 0.3)
    result = impute_windows(model, hidden, steps=8)
    observed = np.isfinite(hidden)
    np.testing.assert_array_equal(result.filled[observed], hidden[observed])
    assert np.isfinite(result.filled).all()
    assert (result.score_after <= result.score_before).all()
    assert ((result.best_step >= 0) & (result.best_step <= 8)).all()
    again = impute_windows(model, hidden, steps=8)
    np.testing.assert_array_equal(again.filled, result.filled)  # deterministic


def test_more_steps_lower_the_score(model):
    hidden = hide(walk(4, 16), 0.5)
    few = impute_windows(model, hidden, steps=1)
    many = impute_windows(model, hidden, steps=30)
    assert many.score_after.mean() < few.score_after.mean()


def test_mean_pose_start_is_exact_on_a_translated_mean_pose(model):
    mean = model.position_mean.double().numpy()
    pose = mean.copy()
    pose[0] = [0.0, mean[0, 1], 0.0]
    pose[1:] += pose[0]
    path = np.linspace([0.0, 0.0, 0.0], [2.0, 0.1, 1.0], 16)
    truth = (pose[None] + path[:, None]).astype(np.float32)[None]  # one window [1, 16, J, 3]
    missing = np.zeros(truth.shape, bool)
    missing[0, :, 3] = True  # a whole joint
    missing[0, 5:9] = True  # and every joint for four frames
    filled = mean_pose_fill(np.where(missing, np.nan, truth), missing, mean)
    np.testing.assert_allclose(filled, truth, atol=1e-5)
    interp = initial_fill(np.where(missing, np.nan, truth), missing, mean, "interp")
    np.testing.assert_allclose(interp, truth, atol=1e-5)


def test_window_starts_cover_any_length():
    assert window_starts(10, 16).tolist() == [0]
    assert window_starts(16, 16).tolist() == [0]
    starts = window_starts(41, 16)
    assert starts[0] == 0 and starts[-1] == 25 and (np.diff(starts) <= 8).all()


@pytest.mark.parametrize("frames", [9, 16, 57])
def test_sequences_of_any_length(model, frames):
    truth = walk(1, frames)[0]
    hidden = truth.copy()
    hidden[:, 5] = np.nan  # one joint throughout
    result = impute_sequence(model, hidden, steps=3)
    assert result.positions.shape == truth.shape and np.isfinite(result.positions).all()
    np.testing.assert_array_equal(result.positions[:, :5], truth[:, :5])
    assert result.missing_fraction == pytest.approx(1 / 17)
    assert result.score_after <= result.score_before + 1e-6


def test_several_sequences_share_batches_but_not_results(model):
    a, b = walk(1, 30)[0], walk(1, 20)[0]
    a_hidden, b_hidden = hide(a, 0.2, 1), hide(b, 0.2, 2)
    together = impute_sequences(model, [a_hidden, b_hidden], steps=3)
    alone = impute_sequence(model, b_hidden, steps=3)
    np.testing.assert_allclose(together[1].positions, alone.positions, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [({"steps": 0}, "--steps"), ({"init": "noise"}, "--init"),
                                             ({"lr": -1.0}, "learning rate")])
def test_bad_requests(model, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        impute_windows(model, hide(walk(1, 16), 0.2), **{"steps": 2, **kwargs})
