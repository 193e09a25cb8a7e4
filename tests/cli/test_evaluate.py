"""``motiongen evaluate`` end to end on real CMU clips: a recogniser and a CSGN trained a few steps
by the real training code, held-out subjects as the test set; the report, its determinism, the
per-window plot of long clips, periodic evaluation in a training log, and one-line errors."""

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

pytestmark = needs_cmu
CLIPS = ("walking/02_01.bvh", "walking/02_02.bvh", "jumping/16_01.bvh", "jumping/16_02.bvh",
         "walking/08_01.bvh", "jumping/li2018_train_jumping_1.bvh")
HOLDOUT = ["08", "13"]
RECOGNIZER = {"channels": [8, 16], "strides": [2, 1], "temporal_kernel": 3}
CSGN = {"channels": [8, 8, 8, 8, 8], "latent_channels": 4, "class_channels": 4, "critic_channels": [8, 8, 8, 8, 8]}


def _train(model, data, out, **options):
    from motiongen.api.train import train_from_options

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train_from_options(model, data, out=out, frames=16, fps=15, holdout_subjects=HOLDOUT, device="cpu",
                                  seed=0, render_every_steps=0, snapshot_every_steps=100, **options)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(data, recogniser run, csgn run)."""
    torch.set_num_threads(1)
    data = cmu_subset(tmp_path_factory.mktemp("cmu") / "data", CLIPS)
    recognizer = tmp_path_factory.mktemp("recognizer")
    _train("recognizer", data, recognizer, batch_size=8, steps=30, model_config=RECOGNIZER, log_every_steps=5)
    csgn = tmp_path_factory.mktemp("csgn")
    _train("csgn", data, csgn, batch_size=4, steps=1, n_critic=1, model_config=CSGN)
    return data, recognizer, csgn


def _evaluate(runs, *extra):
    data, recognizer, csgn = runs
    return run("evaluate", csgn, "--data", data, "--recognizer", recognizer, "--device", "cpu", *extra)


def test_the_recogniser_trains_on_cross_entropy(runs):
    lines = [json.loads(line) for line in (runs[1] / "log.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == 30 and lines[-1]["classify_loss"] < lines[0]["classify_loss"]
    assert 0.0 <= lines[-1]["train_accuracy"] <= 1.0


def test_report_with_long_clips_and_plot(runs, tmp_path):
    plot = tmp_path / "along.png"
    result = _evaluate(runs, "--samples", "6", "--repeats", "2", "--frames", "40", "--plot", plot, "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert report["test_subjects"] == HOLDOUT and report["frames"] == 40 and report["window"] == 16
    assert len(report["per_window_fid"]) == 2  # 40 frames = two 16-frame windows (+ a tail)
    assert report["per_window_fid"][1]["start_frame"] == 16
    heights = [row["height_m"] for row in report["per_window_fid"]]
    assert all(np.isfinite(h) and h > 0 for h in heights)
    assert report["last_to_first_height"] == pytest.approx(heights[1] / heights[0])
    assert 1.3 < report["real_height_m"] < 2.0  # real CMU people, standing to reaching
    from motiongen.training.checkpoint import read_metadata

    assert report["recognizer_sha256"] == read_metadata(runs[1] / "last.safetensors")["weights_sha256"]
    metrics = report["metrics"]
    assert set(metrics) == {"fid", "accuracy", "diversity", "multimodality", "mmd_a", "mmd_s",
                            "bone_variation_mm", "foot_skating", "jitter"}
    for value in metrics.values():
        assert np.isfinite(value["generated"]["mean"]) and np.isfinite(value["real"]["mean"])
    assert metrics["fid"]["real"]["mean"] < metrics["fid"]["generated"]["mean"]  # 1 training step is far off
    assert metrics["bone_variation_mm"]["real"]["mean"] < 0.5  # real clips come from rigid BVH skeletons
    assert 0.0 <= metrics["accuracy"]["generated"]["mean"] <= 1.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_as_bvh_scores_the_clip_sample_writes(runs, tmp_path):
    """--as-bvh measures the file a user gets: its clips are the BVH `sample` writes for the seed."""
    from motiongen.api.evaluate import GeneratorSource, generated_positions
    from motiongen.formats import read_motion
    from motiongen.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(runs[2])
    source = GeneratorSource.from_checkpoint(checkpoint)
    assert_ok(run("sample", "--model", runs[2], "--action", "walking", "--frames", "16", "--seed", "5", "-o",
                  tmp_path / "walk.bvh"))
    written = read_motion(tmp_path / "walk.bvh").positions
    clips = {(as_bvh, plant): generated_positions(source, ["walking"], 16, [5], 1.0, "cpu", checkpoint.skeleton,
                                                  checkpoint.fps, as_bvh=as_bvh, plant_feet=plant)[0]
             for as_bvh in (False, True) for plant in (False, True)}
    np.testing.assert_allclose(clips[True, True], written, atol=1e-4)  # sample plants the feet by default
    assert np.abs(clips[False, True] - written).max() > 1e-3  # IK moves the raw joints: the option matters
    assert np.abs(clips[True, False] - written).max() > 1e-3  # and so does planting
    assert_ok(run("sample", "--model", runs[2], "--action", "walking", "--frames", "16", "--seed", "5", "-o",
                  tmp_path / "raw.bvh", "--no-plant-feet"))
    np.testing.assert_allclose(clips[True, False], read_motion(tmp_path / "raw.bvh").positions, atol=1e-4)
    report = json.loads(_ok(_evaluate(runs, "--samples", "4", "--repeats", "1", "--json", "--as-bvh")))
    assert report["as_bvh"] is True and report["feet_planted"] is True
    report = json.loads(_ok(_evaluate(runs, "--samples", "4", "--repeats", "1", "--json", "--as-bvh",
                                      "--no-plant-feet")))
    assert report["feet_planted"] is False



def test_a_clip_at_another_frame_rate_fills_the_time_it_covers(runs):
    """16 frames at 15 fps last 16/15 s: at 30 fps that is 32 frames, though resampling from the
    first frame to the last gives 31; the last frame is held for the rest (a fixed-length
    Kinetic-GAN at 15 fps then fills a 30-fps recogniser's window)."""
    from motiongen.api.evaluate import GeneratorSource, generated_positions
    from motiongen.core.motion import Motion
    from motiongen.core.ops import resample
    from motiongen.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(runs[2])
    source = GeneratorSource.from_checkpoint(checkpoint)
    native = generated_positions(source, ["walking"], 16, [5], 1.0, "cpu", checkpoint.skeleton, 15.0)[0]
    doubled = generated_positions(source, ["walking"], 16, [5], 1.0, "cpu", checkpoint.skeleton, 30.0)[0]
    assert native.shape[0] == 16 and doubled.shape[0] == 32
    resampled = resample(Motion(positions=native, skeleton=checkpoint.skeleton, fps=15.0), 30.0).positions
    np.testing.assert_allclose(doubled[:31], resampled, atol=1e-6)
    np.testing.assert_array_equal(doubled[31], doubled[30])

def _ok(result):
    assert_ok(result)
    return result.stdout


def test_same_seed_same_figures_and_a_table(runs):
    first = json.loads(_ok(_evaluate(runs, "--samples", "4", "--repeats", "1", "--json")))
    second = json.loads(_ok(_evaluate(runs, "--samples", "4", "--repeats", "1", "--json")))
    assert first["metrics"] == second["metrics"]
    table = _ok(_evaluate(runs, "--samples", "4", "--repeats", "1"))
    assert "FID" in table and "foot-skating ratio" in table and "sha256" in table


def test_periodic_evaluation_in_the_training_log(runs, tmp_path):
    data, recognizer, _ = runs
    _train("csgn", data, tmp_path / "run", batch_size=4, steps=2, n_critic=1, model_config=CSGN,
           recognizer=str(recognizer), evaluate_every_steps=1, log_every_steps=1)
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    evaluations = [line for line in lines if line.get("event") == "evaluation"]
    assert [line["step"] for line in evaluations] == [1, 2]
    assert all(np.isfinite(line["eval_fid"]) and 0 <= line["eval_accuracy"] <= 1 for line in evaluations)
    assert all(0 < line["eval_height_ratio"] < 10 for line in evaluations)  # CSGN makes any length


@pytest.mark.parametrize("case, fragments", [
    ("recognizer is a generator", ["csgn checkpoint", "not a recogniser"]),
    ("model is a recognizer", ["does not generate"]),
    ("one sample", ["--samples"]),
    ("jpg plot", ["png"]),
    ("too short", ["shorter than the recogniser"]),
    ("no data", ["--data is required"]),
    ("eval without recognizer", ["--eval-every needs --recognizer"]),
])
def test_bad_requests_are_one_line_errors(runs, tmp_path, case, fragments):
    data, recognizer, csgn = runs
    base = ["--device", "cpu", "--samples", "4", "--repeats", "1"]
    arguments = {
        "recognizer is a generator": ["evaluate", csgn, "--data", data, "--recognizer", csgn, *base],
        "model is a recognizer": ["evaluate", recognizer, "--data", data, "--recognizer", recognizer, *base],
        "one sample": ["evaluate", csgn, "--data", data, "--recognizer", recognizer, "--samples", "1"],
        "jpg plot": ["evaluate", csgn, "--data", data, "--recognizer", recognizer, *base, "--plot", tmp_path / "p.jpg"],
        "too short": ["evaluate", csgn, "--data", data, "--recognizer", recognizer, *base, "--frames", "8",
                      "--plot", tmp_path / "p.png"],
        "no data": ["evaluate", csgn, "--recognizer", recognizer],
        "eval without recognizer": ["train", "csgn", "--data", data, "--out", tmp_path / "r", "--eval-every", "5"],
    }[case]
    assert_one_line_error(run(*arguments), *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_periodic_evaluation_of_a_model_that_generates_nothing_is_refused(runs, tmp_path):
    from motiongen.errors import ConfigError

    data, recognizer, _ = runs
    with pytest.raises(ConfigError, match="does not generate"):
        _train("recognizer", data, tmp_path / "run", batch_size=4, steps=1, model_config=RECOGNIZER,
               recognizer=str(recognizer), evaluate_every_steps=1)
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_body_height_is_the_vertical_extent_of_each_frame():
    from motiongen.api.evaluate import body_height

    standing = np.zeros((2, 3, 3))  # two frames of three joints: feet at 0, hip at 0.9, head at 1.7
    standing[:, 1, 1], standing[:, 2, 1] = 0.9, 1.7
    crouching = standing * np.array([1.0, 0.5, 1.0])  # the same frames at half height
    np.testing.assert_allclose(body_height(standing), [1.7, 1.7])
    np.testing.assert_allclose(body_height(np.stack([standing, crouching])), [[1.7, 1.7], [0.85, 0.85]])
