"""The shipped Kinetic-GAN (`kinetic-gan-cmu31`, issue 3): found by name, it writes its trained 32
frames of an upright person to BVH, says in one line what it cannot do (other lengths), and the
recogniser that never saw its samples reads every action as the one asked for more often than as
any other."""

from __future__ import annotations

import json

import pytest

from _cli import assert_ok, assert_one_line_error, run
from _shipped import assert_read_as_asked, read_upright_cmu31_bvh

pytestmark = pytest.mark.filterwarnings("ignore:.*BVH has no units:UserWarning")

SHIPPED_KINETIC_GAN = "kinetic-gan-cmu31"


def test_the_shipped_kinetic_gan_writes_its_32_upright_frames_by_name(tmp_path):
    out = tmp_path / "kick.bvh"
    result = run("sample", "--model", SHIPPED_KINETIC_GAN, "--action", "kicking", "--seed", "5000", "-o", out)
    assert_ok(result)
    read_upright_cmu31_bvh(out, frames=32, fps=15.0)


def test_the_shipped_kinetic_gan_refuses_other_lengths_in_one_line(tmp_path):
    out = tmp_path / "long.bvh"
    result = run("sample", "--model", SHIPPED_KINETIC_GAN, "--action", "walking", "--frames", "1024", "-o", out)
    assert_one_line_error(result, "generates 32 frames, not 1024", "CSGN or LARNet", "models list")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_recogniser_reads_every_action_of_the_shipped_kinetic_gan_as_asked_most_often():
    """The card's "12 of 12" on 16 fresh seeds per action, and the five it reports at 95% or more
    (misc, punching, walking, wash window, waving) more than half of the time."""
    assert_read_as_asked(SHIPPED_KINETIC_GAN, list(range(20_000, 20_016)),
                         strong=("misc", "punching", "walking", "wash_window", "waving"))


def test_the_shipped_kinetic_gan_is_an_inference_only_file():
    """Shipped without its critic (5.5 MB, not 13): `train --init-from` starts a new critic, and
    `models list` says it is not fine-tunable."""
    from motiongen.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(SHIPPED_KINETIC_GAN)
    assert checkpoint.meta["kind"] == "kinetic-gan" and checkpoint.meta["frames"] == 32
    assert checkpoint.meta.get("inference_only") and not checkpoint.meta.get("fine_tunable")
    listed = run("models", "list", "--json")
    assert_ok(listed)
    row = next(row for row in json.loads(listed.stdout) if row["name"] == SHIPPED_KINETIC_GAN)
    assert row["kind"] == "kinetic-gan" and row["fine_tunable"] is False
