"""``motiongen impute`` end to end on an HG-VAE trained a few steps on real CMU clips: arrays and
motion files in, the same format out, observed values untouched, a summary table, calibration and
the held-out evaluation; bad inputs are one-line errors that write nothing."""

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
from _data import needs_cmu  # noqa: E402
from _tiny import cmu_subset  # noqa: E402
from motiongen.formats import bvh, read_motion  # noqa: E402

pytestmark = needs_cmu
TINY = {"nodes": [6, 2, 1], "latent_dims": [4, 4, 4, 8], "hidden": 16}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(checkpoint, data folder): 3 steps on 16-frame windows of 4 real clips at 15 fps."""
    from motiongen.api.train import train_from_options

    torch.set_num_threads(1)
    data = cmu_subset(tmp_path_factory.mktemp("cmu") / "data")
    out = tmp_path_factory.mktemp("hgvae")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_from_options("hgvae", data, out=out, frames=16, fps=15, batch_size=4, steps=3, model_config=TINY,
                           seed=0, log_every_steps=1, snapshot_every_steps=100, device="cpu")
    return out / "last.safetensors", data


@pytest.fixture(scope="module")
def clip(trained):
    """A real walk on the model's skeleton at its rate: [40, 31, 3]."""
    from motiongen.core.ops import resample

    motion = read_motion(sorted(trained[1].glob("*02_01.bvh"))[0])
    return resample(motion[1:], 15).positions[:40].copy()


def test_impute_an_array_with_nan(trained, clip, tmp_path):
    hidden = clip.copy()
    hidden[:, 3:6] = np.nan  # the left leg below the hip, throughout
    hidden[10:14] = np.nan  # and everything for four frames
    source = tmp_path / "walk.npy"
    np.save(source, hidden)
    result = run("impute", source, "--model", trained[0], "--steps", "3", "-q")
    assert_ok(result)
    out = tmp_path / "walk.imputed.npy"
    assert result.stdout.strip() == str(out)
    filled = np.load(out, allow_pickle=False)
    assert filled.shape == clip.shape and np.isfinite(filled).all()
    observed = np.isfinite(hidden)
    np.testing.assert_array_equal(filled[observed], hidden[observed])


def test_batches_json_and_the_summary(trained, clip, tmp_path):
    batch = np.stack([clip, clip[::-1]]).copy()
    batch[0, :, 7] = np.nan
    batch[1, 5:20, 20] = np.nan
    source = tmp_path / "two.npy"
    np.save(source, batch)
    result = run("impute", source, "--model", trained[0], "--steps", "2", "--init", "interp", "--json",
                 "-o", tmp_path / "out.npy")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["sequences"]] == ["two.npy[0]", "two.npy[1]"]
    assert report["sequences"][0]["missing_fraction"] == pytest.approx(1 / 31)
    assert all(s["score_after"] <= s["score_before"] + 1e-6 for s in report["sequences"])
    assert report["typical_range"] is None and report["sequences"][0]["out_of_distribution"] is None
    assert np.load(tmp_path / "out.npy").shape == batch.shape
    table = run("impute", source, "--model", trained[0], "--steps", "1", "-o", tmp_path / "t.npy")
    assert "score before" in table.stderr and "two.npy[1]" in table.stderr and "--calibrate" in table.stderr


def test_a_bvh_with_a_mask_comes_back_as_bvh(trained, clip, tmp_path):
    from motiongen.core.motion import Motion
    from motiongen.training import load_checkpoint

    skeleton = load_checkpoint(trained[0]).skeleton
    source = tmp_path / "walk.bvh"
    bvh.write(Motion(clip, skeleton, 15.0).with_ik(), source)
    mask = np.ones(clip.shape[:2], bool)
    mask[:, 19:21] = False  # the left arm and forearm
    np.save(tmp_path / "mask.npy", mask)
    assert_ok(run("impute", source, "--model", trained[0], "--mask", tmp_path / "mask.npy", "--steps", "2", "-q"))
    original, out = bvh.read(source), bvh.read(tmp_path / "walk.imputed.bvh")
    assert out.frame_count == 40 and out.skeleton.joint_count == 31
    keep = [j for j in range(31) if j not in (19, 20, 21, 22, 23)]  # the arm's children move with it
    np.testing.assert_allclose(out.positions[:, keep], original.positions[:, keep], atol=2e-4)


def test_an_npz_with_a_mask_keeps_what_was_filled_marked(trained, clip, tmp_path):
    from motiongen.core.motion import Motion
    from motiongen.formats import write_motion
    from motiongen.training import load_checkpoint

    source = tmp_path / "walk.npz"
    write_motion(Motion(clip, load_checkpoint(trained[0]).skeleton, 15.0), source)
    mask = np.ones(clip.shape[:2], bool)
    mask[5:25, 3] = False
    np.save(tmp_path / "mask.npy", mask)
    assert_ok(run("impute", source, "--model", trained[0], "--mask", tmp_path / "mask.npy", "--steps", "1", "-q"))
    out = read_motion(tmp_path / "walk.imputed.npz")
    np.testing.assert_array_equal(out.mask, mask)  # render draws the filled joint in orange
    np.testing.assert_array_equal(out.positions[mask], clip[mask])


def test_another_skeleton_is_retargeted_there_and_back(trained, tmp_path):
    from motiongen.core.motion import Motion
    from motiongen.retarget import retarget
    from motiongen.skeletons import load_skeleton
    from motiongen.training import load_checkpoint

    skeleton = load_checkpoint(trained[0]).skeleton
    walk = read_motion(sorted(trained[1].glob("*02_01.bvh"))[0])
    ntu = retarget(Motion(walk.positions[1:41], walk.skeleton, walk.fps), load_skeleton("ntu25")).positions
    hidden = ntu.copy()
    hidden[:, 14] = np.nan  # KneeLeft
    np.save(tmp_path / "ntu.npy", hidden)
    assert skeleton.joint_count != 25
    assert_ok(run("impute", tmp_path / "ntu.npy", "--model", trained[0], "--steps", "1", "-q"))
    filled = np.load(tmp_path / "ntu.imputed.npy")
    assert filled.shape == (40, 25, 3) and np.isfinite(filled).all()
    np.testing.assert_array_equal(np.delete(filled, 14, axis=1), np.delete(hidden, 14, axis=1))


def test_calibration_then_the_flag(trained, clip, tmp_path):
    import shutil

    checkpoint = tmp_path / "model.safetensors"
    shutil.copy(trained[0], checkpoint)
    result = run("impute", "--calibrate", "--model", checkpoint, "--data", trained[1], "--json")
    assert_ok(result)
    calibration = json.loads(result.stdout)
    low, high = calibration["typical_range"]
    assert calibration["windows"] > 0 and np.isfinite(low) and low < high
    noisy = clip + np.random.default_rng(0).normal(0, 0.3, clip.shape).astype(np.float32)
    np.save(tmp_path / "noisy.npy", noisy)
    report = json.loads(run("impute", tmp_path / "noisy.npy", "--model", checkpoint, "--json", "--steps", "1").stdout)
    assert report["typical_range"] == pytest.approx(calibration["typical_range"])
    assert report["sequences"][0]["out_of_distribution"] is True  # 30 cm of noise on every joint


def test_evaluation_on_held_out_clips(trained):
    result = run("impute", "--evaluate", "--model", trained[0], "--data", trained[1], "--subjects", "16",
                 "--steps", "2", "--windows", "8", "--json", "-q")
    assert_ok(result)
    report = json.loads(result.stdout)
    patterns = [row["pattern"] for row in report["rows"]]
    assert {"random-10%", "joints-1", "limb", "span-25%"} <= set(patterns)
    for row in report["rows"]:
        assert set(row["errors"]) == {"hgvae", "hgvae-interp", "zero", "mean", "last", "interp"}
        assert all(np.isfinite(e["mpjpe_mm"]) for e in row["errors"].values())
    assert set(report["ood"]["flagged"]) == {"clean", "noise", "frozen_half", "frozen"}
    assert "| limb |" in report["markdown"]


@pytest.mark.parametrize("case, fragments", [
    ("all-nan", ["every value is missing"]),
    ("seven-joints", ["7 joints"]),
    ("two-coordinates", ["[T, J, 3]"]),
    ("steps-0", ["--steps"]),
    ("mask-shape", ["mask shape"]),
    ("not-hgvae", ["impute needs an hgvae"]),
])
def test_bad_inputs_are_one_line_errors(trained, clip, tmp_path, case, fragments):
    source = tmp_path / "in.npy"
    arguments = [source, "--model", trained[0], "--steps", "2"]
    if case == "all-nan":
        np.save(source, np.full_like(clip, np.nan))
    elif case == "seven-joints":
        np.save(source, clip[:, :7])
    elif case == "two-coordinates":
        np.save(source, clip[..., :2])
    else:
        np.save(source, clip)
    if case == "steps-0":
        arguments[-1] = "0"
    if case == "mask-shape":
        np.save(tmp_path / "mask.npy", np.ones((3, 3), bool))
        arguments += ["--mask", tmp_path / "mask.npy"]
    if case == "not-hgvae":
        not_vae = tmp_path / "gan.safetensors"
        _tiny_gan_checkpoint(not_vae, trained[1])
        arguments[2] = not_vae
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_one_line_error(run("impute", *arguments), *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def _tiny_gan_checkpoint(path: Path, data: Path) -> None:
    from motiongen.api.train import train_from_options

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_from_options("csgn", data, out=path.parent / "gan", frames=16, fps=15, batch_size=4, steps=1, n_critic=1,
                           model_config={"channels": [8, 8, 8, 8, 8], "latent_channels": 4, "class_channels": 4,
                                         "critic_channels": [8, 8, 8, 8, 8]}, render_every_steps=0, device="cpu")
    (path.parent / "gan" / "last.safetensors").rename(path)
    import shutil

    shutil.rmtree(path.parent / "gan")


def test_sample_refuses_an_imputation_model(trained, tmp_path):
    result = run("sample", "--model", trained[0], "--action", "walking", "-o", tmp_path / "x.bvh")
    assert_one_line_error(result, "motiongen impute")
    assert list(tmp_path.iterdir()) == []
