"""`motiongen render RUN -o curves.png`: a training run's log drawn as one panel per logged
quantity, and a malformed log refused with its line number."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

import _tiny
from _cli import assert_ok, assert_one_line_error, run
from motiongen.errors import FormatError
from motiongen.render.curves import curves_from_log, running_mean, step_label
from motiongen.training import train
from motiongen.training.log import read_log


@pytest.fixture
def tiny_run(tmp_path, synthetic):
    """The run folder of six real training steps of the tiny GAN, logged every second step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(model=_tiny.TINY, dataset=synthetic, run_dir=tmp_path / "run", total_steps=6, batch_size=4,
              n_critic=2, log_every_steps=2, device="cpu", seed=5, handle_signals=False, render_every_steps=0)
    return tmp_path / "run"


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_run_folder_is_drawn_as_one_panel_per_logged_loss(tiny_run, tmp_path):
    records = read_log(tiny_run / "log.jsonl")
    curves = curves_from_log(records)
    names = [curve.name for curve in curves]
    assert names[:3] == ["wasserstein_gap", "critic_loss", "gradient_penalty"]  # the WGAN-GP terms lead
    assert "steps_per_s" in names and "step" not in names and "time_s" not in names
    gap = curves[0]
    assert gap.steps.tolist() == [2.0, 4.0, 6.0]
    assert gap.values.tolist() == pytest.approx([r["wasserstein_gap"] for r in records])

    out = tmp_path / "curves.png"
    result = run("render", tiny_run, "-o", out, "--size", "200x160", "--grid", "4")
    assert_ok(result)
    assert result.stdout.strip() == str(out)
    with Image.open(out) as image:
        rows = -(-len(curves) // 4)
        assert image.size[0] == 4 * 200 and image.size[1] >= rows * 160
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels < 200).any(axis=-1).mean() > 0.01  # something is drawn, not a blank canvas


def test_partial_lines_are_left_out_and_evaluations_are_their_own_points(tmp_path):
    log = _write(tmp_path / "log.jsonl", [
        json.dumps({"step": 2, "time_s": 1.0, "wasserstein_gap": 0.5, "generator_loss": None}),
        json.dumps({"step": 4, "time_s": 2.0, "wasserstein_gap": 0.25, "generator_loss": 1.5}),
        json.dumps({"step": 4, "event": "evaluation", "fid": 140.0, "accuracy": 0.5}),
        json.dumps({"step": 5, "time_s": 2.5, "wasserstein_gap": 9.0, "partial": True}),
    ])
    curves = {curve.name: curve for curve in curves_from_log(read_log(log))}
    assert list(curves) == ["wasserstein_gap", "generator_loss", "evaluation: accuracy", "evaluation: fid"]
    assert curves["wasserstein_gap"].values.tolist() == [0.5, 0.25]  # the partial interval is not drawn
    assert np.isnan(curves["generator_loss"].values[0])  # a non-finite value, logged as null
    assert curves["evaluation: fid"].points and not curves["wasserstein_gap"].points
    assert curves["evaluation: fid"].steps.tolist() == [4.0]


def test_running_mean_is_a_centred_mean_that_skips_missing_values():
    values = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0])
    expected = []
    for i in range(len(values)):
        window = values[max(0, i - 1): i + 2]
        expected.append(np.nanmean(window))
    np.testing.assert_allclose(running_mean(values, 3), expected)
    np.testing.assert_allclose(running_mean(values, 1)[[0, 1, 3]], values[[0, 1, 3]])
    assert np.isnan(running_mean(np.array([np.nan]), 3)[0])


def test_long_runs_tick_in_thousands():
    assert [step_label(s) for s in (0, 4000, 10_000, 12_500, 100_000)] == ["0", "4000", "10k", "12.5k", "100k"]


def test_an_unfinished_last_line_is_skipped_a_bad_line_elsewhere_is_named(tmp_path):
    good = json.dumps({"step": 2, "wasserstein_gap": 0.5})
    live = tmp_path / "live.jsonl"
    live.write_text(good + "\n" + '{"step": 4, "wasser', encoding="utf-8")  # being appended to
    assert [r["step"] for r in read_log(live)] == [2]

    broken = _write(tmp_path / "log.jsonl", [good, "", '{"step": 4, "wasser', good])
    with pytest.raises(FormatError) as raised:
        read_log(broken)
    assert raised.value.line == 3
    out = tmp_path / "curves.png"
    result = run("render", broken, "-o", out)
    assert_one_line_error(result, "log.jsonl line 3", "not a JSON record")
    assert not out.exists()
    listed = _write(tmp_path / "list.jsonl", [good, "[1, 2]"])
    assert_one_line_error(run("render", listed, "-o", out), "list.jsonl line 2", "not a JSON object")


@pytest.mark.parametrize("case", ["gif", "empty", "with-motion", "missing"])
def test_what_cannot_be_drawn_from_a_log_is_a_one_line_error(case, tiny_run, tmp_path):
    out = tmp_path / "curves.png"
    if case == "gif":
        result, fragments = run("render", tiny_run, "-o", tmp_path / "curves.gif"), ("must end in .png",)
    elif case == "empty":
        log = _write(tmp_path / "log.jsonl", [json.dumps({"step": 1, "partial": True, "critic_loss": 1.0})])
        result, fragments = run("render", log, "-o", out), ("no logged values",)
    elif case == "with-motion":
        result, fragments = run("render", tiny_run, tmp_path / "walk.bvh", "-o", out), ("one training log",)
    else:
        result, fragments = run("render", tmp_path / "nothing.jsonl", "-o", out), ("nothing.jsonl", "no such")
    assert_one_line_error(result, *fragments)
    assert not list(tmp_path.glob("curves.*"))
