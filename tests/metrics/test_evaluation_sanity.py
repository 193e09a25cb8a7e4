"""Sanity checks of the evaluation that can fail, on a recogniser really trained by the training
loop (tiny, on synthetic actions that differ in which joints move): it recognises unseen windows,
and its accuracy against shuffled labels falls to chance; FID of a set against itself is ~0 and
grows with every step of added noise; cutting long clips into windows keeps their order and place.

(Training on shuffled labels is no test of chance: windows of one action look alike, so the
network learns each action's majority shuffled label and scores anywhere from 0 to 0.9.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from motiongen.data import MotionDataset, Normalization, to_features
from motiongen.metrics.evaluation import load_recognizer, sliding_windows
from motiongen.metrics.generation import fid
from motiongen.skeletons import load_skeleton

FRAMES = 16
ACTIONS = ("arms", "bounce", "legs")
TINY = {"channels": [16, 16], "strides": [2, 1], "temporal_kernel": 3, "dropout": 0.0}


def _rest(skeleton) -> np.ndarray:
    positions = np.zeros((skeleton.joint_count, 3))
    for joint in range(1, skeleton.joint_count):
        positions[joint] = positions[skeleton.parents[joint]] + skeleton.offsets[joint]
    return positions + np.array([0.0, 1.0, 0.0])


def synthetic_actions(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` windows ``[count, FRAMES, 17, 3]`` and labels: "arms" moves the arm joints up and
    down, "bounce" the whole body, "legs" the legs forward and back; random phase, rate and size."""
    skeleton = load_skeleton("h36m17")
    rng = np.random.default_rng(seed)
    rest = _rest(skeleton)
    names = [name.lower() for name in skeleton.joint_names]
    arms = np.array([any(w in n for w in ("shoulder", "elbow", "wrist")) for n in names])
    legs = np.array([any(w in n for w in ("knee", "foot", "ankle")) for n in names])
    assert arms.any() and legs.any()
    labels = np.arange(count) % len(ACTIONS)
    t = np.arange(FRAMES)[None, :, None]
    wave = rng.uniform(0.06, 0.12, (count, 1, 1)) * np.sin(
        2 * math.pi * rng.uniform(1.0, 2.0, (count, 1, 1)) * t / FRAMES + rng.uniform(0, 2 * math.pi, (count, 1, 1)))
    positions = np.broadcast_to(rest, (count, FRAMES, *rest.shape)).copy()
    positions += rng.normal(scale=0.005, size=positions.shape)
    positions[..., 1] += np.where((labels == 0)[:, None, None], wave * arms, 0.0)
    positions[..., 1] += np.where((labels == 1)[:, None, None], wave, 0.0)
    positions[..., 2] += np.where((labels == 2)[:, None, None], wave * legs * np.where(
        np.char.find(np.array(names), "l") == 0, 1.0, -1.0), 0.0)
    return positions.astype(np.float32), labels.astype(np.int64)


def _dataset(positions, labels) -> MotionDataset:
    count = len(positions)
    clips = tuple({"file": f"w{i}", "action": ACTIONS[labels[i]], "subject": None, "split": "train",
                   "frames": FRAMES, "windows": 1} for i in range(count))
    return MotionDataset(windows=positions, labels=labels, actions=ACTIONS, skeleton=load_skeleton("h36m17"),
                         fps=30.0, frames=FRAMES, normalization=Normalization.from_features_data(to_features(positions)),
                         clip_index=np.arange(count), clips=clips)


def _train(run_dir, labels_from) -> object:
    from motiongen.training.loop import train

    positions, labels = synthetic_actions(96, seed=1)
    train(model="recognizer", dataset=_dataset(positions, labels_from(labels)), run_dir=run_dir, total_steps=80,
          batch_size=16, model_config=TINY, lr_generator=3e-3, betas=(0.9, 0.999), n_critic=1,
          ema_halflife_steps=5.0, device="cpu", seed=0, snapshot_every_steps=1000, log_every_steps=20,
          handle_signals=False)
    return load_recognizer(run_dir)


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    torch.set_num_threads(1)
    return _train(tmp_path_factory.mktemp("true"), lambda labels: labels)


def _accuracy(recognizer) -> float:
    positions, labels = synthetic_actions(90, seed=7)  # windows it never saw
    _, logits = recognizer.embed(positions)
    return float((logits.argmax(1) == labels).mean())


def test_learns_the_actions_from_true_labels(recognizer):
    assert _accuracy(recognizer) > 0.9


def test_accuracy_against_shuffled_labels_drops_to_chance(recognizer):
    from motiongen.metrics.generation import accuracy

    positions, labels = synthetic_actions(300, seed=9)
    _, logits = recognizer.embed(positions)
    assert accuracy(logits, labels) > 0.9
    shuffled = np.random.default_rng(2).permutation(labels)
    assert accuracy(logits, shuffled) == pytest.approx(1 / len(ACTIONS), abs=0.1)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise(recognizer):
    positions, _ = synthetic_actions(120, seed=11)
    clean, _ = recognizer.embed(positions)
    assert fid(clean, clean) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    scores = [fid(recognizer.embed(positions + rng.normal(scale=level, size=positions.shape).astype(np.float32))[0],
                  clean) for level in (0.005, 0.01, 0.02, 0.04, 0.08)]
    assert all(a < b for a, b in zip(scores, scores[1:])), scores
    assert scores[0] > 0


def test_sliding_windows_keep_order_and_recentre():
    clips = np.zeros((2, 40, 3, 3))
    clips[..., 0] = np.arange(40)[None, :, None]  # x = frame number
    windows = sliding_windows(clips, 16)
    assert windows.shape == (2, 2, 16, 3, 3)  # the 8-frame tail is left out
    assert np.allclose(windows[:, 1, :, 0, 0], np.arange(16))  # second window starts at x = 0 again
    with pytest.raises(Exception, match="shorter"):
        sliding_windows(clips[:, :10], 16)
