"""`motiongen sample` end to end on checkpoints of both GANs trained a few steps on real CMU clips."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

from _data import CMU_DIR, needs_cmu  # noqa: E402
from _tiny import cmu_subset  # noqa: E402
from motiongen.api.sample import sample  # noqa: E402
from motiongen.cli import app  # noqa: E402
from motiongen.formats import bvh, read_motion  # noqa: E402

pytestmark = needs_cmu

TINY = {
    "csgn": {"channels": [16, 16, 8, 8, 8], "latent_channels": 8, "class_channels": 4,
             "critic_channels": [8, 8, 16, 16, 16]},
    "kinetic-gan": {"generator_channels": [32, 16, 8, 8], "latent_dim": 16, "w_dim": 16, "mapping_depth": 2,
                    "critic_channels": [8, 8, 16, 16, 16, 16]},
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One tiny run per model (4 generator steps) on 4 real clips; returns kind → checkpoint path."""
    from motiongen.api.train import train_from_options

    torch.set_num_threads(1)
    data = cmu_subset(tmp_path_factory.mktemp("cmu") / "data")
    paths = {}
    for kind, config in TINY.items():
        out = tmp_path_factory.mktemp(kind.replace("-", ""))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train_from_options(kind, data, out=out, frames=32, fps=30, batch_size=4, steps=4, n_critic=2,
                               model_config=config, seed=0, log_every_steps=2, snapshot_every_steps=100)
        paths[kind] = out / "last.safetensors"
    return paths


def _upright(motion) -> None:
    index = motion.skeleton.canonical_index()
    head, pelvis = motion.positions[:, index["head"], 1], motion.positions[:, index["pelvis"], 1]
    assert np.mean(head > pelvis) > 0.5  # untrained for long, but the data's posture is there


def test_csgn_samples_1024_frames_to_a_bvh_that_reads_back(checkpoints, tmp_path):
    out = tmp_path / "walk.bvh"
    result = sample(checkpoints["csgn"], "walking", frames=1024, output=str(out), device="cpu")
    motion = bvh.read(out)
    assert result.written == [out] and motion.frame_count == 1024 and motion.fps == 30.0
    assert motion.skeleton.name == "cmu31" and motion.has_rotations
    # IK onto the checkpoint's fixed skeleton: bone lengths are the training data's, constant in time
    lengths = np.linalg.norm(motion.positions[:, 1:] - motion.positions[:, motion.skeleton.parents[1:]], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-4
    _upright(motion)


def test_sample_k_depends_only_on_its_seed(checkpoints):
    path = checkpoints["kinetic-gan"]
    together = sample(path, "jumping", count=3, seed=10, device="cpu").motions
    alone = sample(path, "jumping", count=1, seed=11, device="cpu", batch_size=1).motions[0]
    assert np.allclose(together[1].positions, alone.positions, atol=1e-5)
    assert not np.allclose(together[0].positions, together[1].positions)


def test_numbered_outputs_retarget_and_truncation(checkpoints, tmp_path):
    result = sample(checkpoints["kinetic-gan"], 0, count=2, skeleton="ntu25", truncation=0.5,
                    output=str(tmp_path / "s.npz"), device="cpu")
    assert [p.name for p in result.written] == ["s_000.npz", "s_001.npz"]
    motion = read_motion(result.written[0])
    assert motion.skeleton.name == "ntu25" and motion.frame_count == 32


def test_cli_writes_bvh_to_stdout(checkpoints):
    result = CliRunner().invoke(app, ["sample", "--model", str(checkpoints["csgn"]), "--action", "walking",
                                      "--frames", "64", "-o", "-", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.stderr
    motion = bvh.parse(result.stdout.encode(), "stdout.bvh")
    assert motion.frame_count == 64


@pytest.mark.parametrize("args, fragment", [
    (["--action", "wlking"], "unknown action 'wlking'; closest: 'walking'"),
    (["--action", "walking", "--frames", "0"], "--frames must be between"),
    (["--action", "walking", "--frames", "10000000000"], "--frames must be between"),
    (["--action", "walking", "--count", "0"], "--count must be between"),
    (["--action", "walking", "--truncation", "-1"], "--truncation"),
    (["--action", "7"], "action index 7 is out of range"),
])
def test_bad_requests_are_one_line_errors(checkpoints, tmp_path, args, fragment):
    out = tmp_path / "x.bvh"
    result = CliRunner().invoke(app, ["sample", "--model", str(checkpoints["csgn"]), "-o", str(out), *args])
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_kinetic_gan_refuses_other_lengths_clearly(checkpoints):
    result = CliRunner().invoke(app, ["sample", "--model", str(checkpoints["kinetic-gan"]), "--action", "walking",
                                      "--frames", "1024", "-o", "x.bvh"])
    assert result.exit_code == 2 and "generates 32 frames" in result.stderr and "CSGN" in result.stderr


def test_missing_or_foreign_checkpoint(tmp_path):
    result = CliRunner().invoke(app, ["sample", "--model", str(tmp_path / "none.safetensors"), "--action", "a",
                                      "-o", str(tmp_path / "x.bvh")])
    assert result.exit_code == 2 and "checkpoint not found" in result.stderr
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(app, ["sample", "--model", str(junk), "--action", "a", "-o", str(tmp_path / "x.bvh")])
    assert result.exit_code == 2 and "not a safetensors checkpoint" in result.stderr
    assert CMU_DIR  # the module-level skip covers the rest


def test_samples_drawn_side_by_side(checkpoints, tmp_path):
    from PIL import Image

    out, picture = tmp_path / "walk.npz", tmp_path / "walk.gif"
    result = CliRunner().invoke(app, ["sample", "--model", str(checkpoints["csgn"]), "--action", "walking",
                                      "--frames", "48", "--count", "2", "-o", str(out), "--render", str(picture),
                                      "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "walk_000.npz"), str(tmp_path / "walk_001.npz"), str(picture)]
    with Image.open(picture) as gif:
        assert gif.n_frames == 48 and gif.size == (640, 320)  # 48 frames at 30 fps, two 320-pixel panels
    sheet = tmp_path / "only.png"
    result = CliRunner().invoke(app, ["sample", "--model", str(checkpoints["csgn"]), "--action", "walking",
                                      "--render", str(sheet), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0 and result.stdout.split() == [str(sheet)], result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--render", "{tmp}/x.jpg"], ".gif, .mp4, .png"),
    ([], "-o FILE"),
])
def test_bad_picture_requests(checkpoints, tmp_path, args, fragment):
    result = CliRunner().invoke(app, ["sample", "--model", str(checkpoints["csgn"]), "--action", "walking",
                                      *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
