"""``motiongen train larnet`` and ``motiongen sample --start-pose`` end to end on real CMU clips:
a few training steps by the real loop, samples that start where the start-pose file starts (in
place, any length, as BVH), and one-line errors."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

from _cli import assert_ok, assert_one_line_error, run  # noqa: E402
from _data import CMU_DIR, needs_cmu  # noqa: E402
from _tiny import cmu_subset  # noqa: E402

pytestmark = needs_cmu
CLIPS = ("walking/02_01.bvh", "jumping/16_01.bvh", "walking/08_01.bvh")
SMALL = {"hidden": 16, "width": 16, "latent_dim": 8, "noise_dim": 4, "action_dim": 8}


@pytest.fixture(scope="module")
def larnet_run(tmp_path_factory):
    from motiongen.api.train import train_from_options

    torch.set_num_threads(1)
    data = cmu_subset(tmp_path_factory.mktemp("cmu") / "data", CLIPS)
    out = tmp_path_factory.mktemp("larnet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_from_options("larnet", data, out=out, frames=16, fps=15, device="cpu", seed=0, batch_size=4,
                           steps=3, render_every_steps=0, log_every_steps=1, model_config=SMALL)
    return out


def test_training_logs_every_loss(larnet_run):
    lines = [json.loads(line) for line in (larnet_run / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3]
    for key in ("latent_mse", "reconstruction_mse", "wasserstein_gap", "latent_gap", "gradient_penalty"):
        assert all(np.isfinite(line[key]) for line in lines), key


def test_sample_starts_at_the_start_pose_in_place(larnet_run, tmp_path):
    from motiongen.formats import read_motion

    start = CMU_DIR / "walking" / "08_01.bvh"
    out = tmp_path / "walk.npz"
    result = run("sample", "--model", larnet_run / "last.safetensors", "--action", "walking", "--frames", "100",
                 "--start-pose", start, "--start-frame", "40", "-o", out, "--fps", "15")
    assert_ok(result)
    assert "mm of the start pose" in result.stderr
    sample = read_motion(out)
    assert sample.frame_count == 100
    from motiongen.api.sample import load_start_pose
    from motiongen.training.checkpoint import load_checkpoint

    pose = load_start_pose(start, load_checkpoint(larnet_run / "last.safetensors"), 40).positions
    assert np.linalg.norm(pose - read_motion(start).positions[0], axis=-1).mean() > 0.05  # not the T-pose
    error_mm = np.linalg.norm(sample.positions[0] - pose, axis=-1).mean() * 1000
    assert error_mm < 1.0  # by construction: the first frame is the start pose, in place


def test_sample_writes_a_long_bvh_from_the_mean_start_pose(larnet_run, tmp_path):
    from motiongen.formats import read_motion

    out = tmp_path / "jump.bvh"
    assert_ok(run("sample", "--model", larnet_run / "last.safetensors", "--action", "jumping", "--frames", "300",
                  "-o", out))
    assert read_motion(out).frame_count == 300


def test_start_pose_errors(larnet_run, tmp_path):
    model = larnet_run / "last.safetensors"
    missing = tmp_path / "nowhere.bvh"
    assert_one_line_error(run("sample", "--model", model, "--action", "walking", "--start-pose", missing,
                              "-o", tmp_path / "a.npz"), "nowhere.bvh")
    holes = tmp_path / "holes.npy"
    pose = np.full((2, 31, 3), np.nan, dtype=np.float32)
    np.save(holes, pose)
    assert_one_line_error(run("sample", "--model", model, "--action", "walking", "--start-pose", holes,
                              "-o", tmp_path / "b.npz"), "holes.npy")
    assert_one_line_error(run("sample", "--model", model, "--action", "walking", "--start-pose",
                              CMU_DIR / "walking" / "08_01.bvh", "--start-frame", "100000", "-o", tmp_path / "c.npz"),
                          "08_01.bvh", "no frame 100000")
    assert not any((tmp_path / name).exists() for name in ("a.npz", "b.npz", "c.npz"))


def test_start_pose_needs_a_model_that_takes_one(tmp_path):
    from motiongen.api.train import train_from_options

    data = cmu_subset(tmp_path / "data", CLIPS[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_from_options("csgn", data, out=tmp_path / "csgn", frames=16, fps=15, device="cpu", batch_size=2,
                           steps=1, n_critic=1, render_every_steps=0,
                           model_config={"channels": [8, 8, 8, 8, 8], "latent_channels": 4, "class_channels": 4,
                                         "critic_channels": [8, 8, 8, 8, 8]})
    assert_one_line_error(run("sample", "--model", tmp_path / "csgn" / "last.safetensors", "--action", "walking",
                              "--start-pose", CMU_DIR / "walking" / "08_01.bvh", "-o", tmp_path / "c.npz"),
                          "larnet")
