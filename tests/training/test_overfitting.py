"""`motiongen.training.overfitting`: the critic's gap on training and held-out windows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import _tiny
from motiongen.data.features import to_features
from motiongen.errors import CheckpointError, ConfigError
from motiongen.inference.sampling import generate_features
from motiongen.training import overfitting
from motiongen.training.checkpoint import export_for_inference, kept_snapshots, load_checkpoint, snapshot_path
from motiongen.training.loop import train
from motiongen.training.overfitting import WindowSet, comparable_sets, read_critic


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    _tiny.register()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(model=_tiny.TINY, dataset=_tiny.synthetic_dataset(), run_dir=tmp_path_factory.mktemp("run"),
                       total_steps=3, batch_size=4, n_critic=2, device="cpu", seed=1, handle_signals=False,
                       snapshot_every_steps=1, keep_snapshots=True)
    return result.checkpoint


def _windows(actions=("walk", "wave"), count=12, seed=0) -> WindowSet:
    """Synthetic windows, each raised or lowered by its own few centimetres."""
    dataset = _tiny.synthetic_dataset(windows=count, actions=actions, seed=seed)
    positions = dataset.windows.copy()
    positions[..., 1] += np.random.default_rng(seed).uniform(-0.05, 0.05, (count, 1, 1))
    return WindowSet(positions, [dataset.actions[k] for k in dataset.labels])


class HeightCritic(nn.Module):
    """Scores a clip by its root's mean height feature: mirroring (which swaps left and right
    joints, not the root) and turning about the up axis leave that alone, so the test can compute
    every score itself."""

    def forward(self, features, labels):
        return features[:, 1, :, 0].mean(dim=1)


def test_the_same_windows_on_both_sides_give_equal_gaps(tiny_checkpoint):
    windows = _windows()
    reading = read_critic(tiny_checkpoint, windows, windows, fakes_per_action=8)
    assert reading.train_gap == reading.heldout_gap
    assert reading.memorised == 0.0
    assert np.isfinite(reading.train_gap) and reading.step == 3


def test_each_action_weighs_the_same_whatever_the_mix(tiny_checkpoint, monkeypatch):
    checkpoint = load_checkpoint(tiny_checkpoint, ema=False)
    checkpoint.pair.critic = HeightCritic()
    monkeypatch.setattr(overfitting, "load_checkpoint", lambda path, ema: checkpoint)
    train = _windows(count=12, seed=0)
    mostly_walk = [i for i, a in enumerate(train.actions) if a == "walk"] + [1]  # one "wave" window
    heldout = WindowSet(train.positions[mostly_walk], [train.actions[i] for i in mostly_walk])

    reading = read_critic(tiny_checkpoint, train, heldout, fakes_per_action=8, seed=3)

    normalization = overfitting.Normalization.of(checkpoint.normalization)
    heights = normalization.normalize(to_features(train.positions))[:, :, 0, 1].mean(axis=1)
    torch.manual_seed(3)
    fake = {a: generate_features(checkpoint.pair.generator, checkpoint.actions.index(a), checkpoint.frames,
                                 [3 + 8 * n + k for k in range(8)])[:, 1, :, 0].mean()  # seed + index among the fakes
            for n, a in enumerate(("walk", "wave"))}
    names = np.array(train.actions)
    expected_train = np.mean([heights[names == a].mean() - fake[a] for a in ("walk", "wave")])
    expected_heldout = np.mean([heights[[i for i in mostly_walk if names[i] == a]].mean() - fake[a]
                                for a in ("walk", "wave")])
    assert reading.train_gap == pytest.approx(expected_train, abs=1e-5)
    assert reading.heldout_gap == pytest.approx(expected_heldout, abs=1e-5)
    assert reading.memorised == pytest.approx(expected_train - expected_heldout, abs=1e-5)
    assert reading.memorised != pytest.approx(0.0, abs=1e-4)  # the windows were not the same


def test_the_benchmarks_find_a_runs_kept_snapshots(tiny_checkpoint):
    run = tiny_checkpoint.parent
    (run / "step-notes.safetensors").write_bytes(b"")  # not a snapshot
    assert kept_snapshots(run) == [(step, snapshot_path(run, step)) for step in (1, 2, 3)]
    assert load_checkpoint(snapshot_path(run, 2)).step == 2


def test_comparable_sets_keep_the_shared_actions():
    train = WindowSet(np.zeros((3, 2, 1, 3)), ["walk", "wave", "jump"])
    heldout = WindowSet(np.ones((2, 2, 1, 3)), ["wave", "run"])
    kept_train, kept_heldout = comparable_sets(train, heldout)
    assert kept_train.actions == ["wave"] and kept_heldout.actions == ["wave"]
    assert kept_train.positions.shape[0] == 1 and kept_heldout.positions[0, 0, 0, 0] == 1.0
    with pytest.raises(ConfigError, match="share no action"):
        comparable_sets(train, WindowSet(np.ones((1, 2, 1, 3)), ["run"]))


def test_refusals(tiny_checkpoint, tmp_path):
    windows = _windows()
    export = export_for_inference(tiny_checkpoint, tmp_path / "inference.safetensors")
    with pytest.raises(CheckpointError, match="inference-only"):  # no raw generator, no critic
        read_critic(export, windows, windows)
    other = _windows(actions=("walk", "swim"))
    with pytest.raises(ConfigError, match="not trained on swim"):
        read_critic(tiny_checkpoint, other, other)
