"""Shipped models: found by name, checked against their SHA-256, with a card; the recogniser
recognises real held-out motion it never saw."""

from __future__ import annotations

import numpy as np
import pytest

from _data import CMU_DIR, needs_cmu
from motiongen.pretrained import DEFAULT_RECOGNIZER, card_path, list_shipped, resolve, shipped_path
from motiongen.training.checkpoint import read_metadata


@pytest.mark.parametrize("name", list_shipped())
def test_every_shipped_model_has_a_file_a_card_and_a_checked_digest(name):
    from motiongen.training.checkpoint import load_checkpoint

    path = shipped_path(name)
    assert resolve(name) == path and path.is_file()
    card = card_path(name).read_text(encoding="utf-8")
    digest = read_metadata(path)["weights_sha256"]
    assert digest in card  # the card cites the weights it describes
    assert "mocap.cs.cmu.edu" in card  # the acknowledgement CMU asks for
    assert load_checkpoint(name).meta["weights_sha256"] == digest


def test_a_local_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_RECOGNIZER).mkdir()
    assert resolve(DEFAULT_RECOGNIZER) == tmp_path.joinpath(DEFAULT_RECOGNIZER).relative_to(tmp_path)


@needs_cmu
def test_the_shipped_recogniser_recognises_a_held_out_walk():
    from motiongen.core.ops import resample
    from motiongen.formats import read_motion
    from motiongen.metrics.evaluation import load_recognizer, sliding_windows
    from motiongen.retarget import retarget

    recognizer = load_recognizer()
    assert recognizer.holdout_subjects == ["08", "13", "16"]
    motion = read_motion(CMU_DIR / "walking" / "08_02.bvh")[1:]  # frame 0 is the converter's T-pose
    motion = retarget(resample(motion, recognizer.fps), recognizer.skeleton)
    windows = sliding_windows(motion.positions[None], recognizer.frames)[0]
    _, logits = recognizer.embed(windows)
    predicted = [recognizer.actions[k] for k in logits.argmax(1)]
    assert predicted and all(name == "walking" for name in predicted), predicted


def test_models_list_and_show_read_the_shipped_files():
    import json

    from _cli import assert_ok, assert_one_line_error, run

    listed = run("models", "list", "--json")
    assert_ok(listed)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["recognizer-cmu31"]["kind"] == "recognizer" and rows["recognizer-cmu31"]["skeleton"] == "cmu31"
    assert len(rows["recognizer-cmu31"]["actions"]) == 12
    assert rows["csgn-cmu31"]["fine_tunable"] and not rows["larnet-cmu31"]["fine_tunable"]
    shown = run("models", "show", "recognizer-cmu31")
    assert_ok(shown)
    assert "SHA-256" in shown.stdout and "mocap.cs.cmu.edu" in shown.stdout
    assert_one_line_error(run("models", "show", "recogniser"), "recognizer-cmu31")


def test_the_shipped_weights_stay_within_40_mb():
    total = sum(shipped_path(name).stat().st_size for name in list_shipped())
    assert total <= 40e6, f"{total / 1e6:.1f} MB of shipped weights (issue 7 allows 40)"
