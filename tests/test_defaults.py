"""The shipped defaults (issue 7): `motiongen sample` and `motiongen impute` work without --model,
on the package's own weights, for the training skeleton and the NTU-25 / SMPL-22 layouts."""

from __future__ import annotations

import numpy as np
import pytest

from _cli import assert_ok, run
from _data import CMU_DIR, needs_cmu
from motiongen.formats import read_motion
from motiongen.pretrained import DEFAULT_GENERATOR, DEFAULT_IMPUTER, list_shipped
from motiongen.skeletons import load_skeleton

pytestmark = pytest.mark.filterwarnings("ignore:.*BVH has no units:UserWarning")


def test_the_defaults_are_shipped_models():
    assert {DEFAULT_GENERATOR, DEFAULT_IMPUTER} <= set(list_shipped())


def _upright(motion) -> None:
    """Head above both feet by half the body's height in every frame; feet on the ground."""
    names = list(motion.skeleton.joint_names)
    y = motion.positions[..., 1]
    height = float(np.ptp(y[0]))
    assert 1.2 < height < 2.2, height  # a person, in metres
    for foot in ("LeftFoot", "RightFoot"):
        assert np.all(y[:, names.index("Head")] > y[:, names.index(foot)] + 0.5 * height)
    # the lowest point of the clip is near the floor: within 25 cm, since half of the CMU subset's
    # walking frames are on a walkway raised about 20 cm, which the generator reproduces (card)
    assert abs(float(np.min(y))) < 0.25


def test_the_readme_command_writes_1024_upright_frames_on_the_training_skeleton(tmp_path):
    out = tmp_path / "walk.bvh"
    result = run("sample", "--action", "walking", "--frames", "1024", "-o", out)
    assert_ok(result)
    motion = read_motion(out)
    assert motion.frame_count == 1024 and motion.fps == pytest.approx(30.0)
    assert motion.skeleton.joint_names == load_skeleton("cmu31").joint_names
    _upright(motion)
    lengths = np.linalg.norm(motion.positions[:, 1:] - motion.positions[:, motion.skeleton.parents[1:]], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-4  # rigid bones: a BVH of rotations on fixed offsets
    assert "'walking': 1024 frames at 30 fps on cmu31" in result.stderr
    # a walk goes somewhere, on feet that do not slide (the card: about 0.8 m/s along its path, skating 0.017)
    from motiongen.metrics.plausibility import foot_joints, foot_skating_ratio

    travelled = np.linalg.norm(motion.positions[-1, 0, [0, 2]] - motion.positions[0, 0, [0, 2]])
    assert travelled > 3.0, travelled
    assert foot_skating_ratio(motion.positions[None], foot_joints(motion.skeleton), motion.fps) < 0.05


@pytest.mark.parametrize("skeleton, joints", [("ntu25", 25), ("smpl22", 22)])
def test_other_skeletons_are_reached_with_skeleton(tmp_path, skeleton, joints):
    out = tmp_path / f"walk_{skeleton}.bvh"
    assert_ok(run("sample", "--action", "walking", "--frames", "100", "--skeleton", skeleton, "-o", out))
    motion = read_motion(out)
    assert motion.skeleton.joint_count == joints and motion.frame_count == 100
    assert np.isfinite(motion.positions).all()


def _held_out_walk():
    from motiongen.core.ops import resample

    path = CMU_DIR / "walking" / "08_02.bvh"  # subject 08 is held out of the shipped models' training
    return resample(read_motion(path)[1:], 30.0)  # frame 0 is the converter's T-pose


@needs_cmu
@pytest.mark.parametrize("skeleton, hidden", [("cmu31", "LeftLeg"), ("ntu25", "KneeLeft"),
                                              ("smpl22", "left_knee")])
def test_impute_without_model_finds_the_skeleton_from_the_joint_count(tmp_path, skeleton, hidden):
    """A held-out walk with one knee hidden in every frame, as a bare [T, J, 3] array: the default
    HG-VAE fills it (retargeting to its own skeleton and back when J says NTU-25 or SMPL-22),
    keeps every observed value, and puts the knee far closer than interpolation can."""
    from motiongen.inference.baselines import linear_interpolation
    from motiongen.retarget import retarget

    motion = _held_out_walk()
    if skeleton != "cmu31":
        motion = retarget(motion, load_skeleton(skeleton))
    truth = motion.positions.astype(np.float32)
    joint = list(load_skeleton(skeleton).joint_names).index(hidden)
    noisy = truth.copy()
    noisy[:, joint] = np.nan
    np.save(tmp_path / "noisy.npy", noisy)
    result = run("impute", tmp_path / "noisy.npy", "-q")
    assert_ok(result)
    filled = np.load(tmp_path / "noisy.imputed.npy", allow_pickle=False)
    assert filled.shape == truth.shape and np.isfinite(filled).all()
    observed = np.isfinite(noisy)
    np.testing.assert_array_equal(filled[observed], noisy[observed])
    error_mm = 1000 * np.linalg.norm(filled[:, joint] - truth[:, joint], axis=-1).mean()
    interpolated = linear_interpolation(noisy[None], ~observed[None])[0]
    baseline_mm = 1000 * np.linalg.norm(interpolated[:, joint] - truth[:, joint], axis=-1).mean()
    assert error_mm < 150 and error_mm < 0.5 * baseline_mm, (error_mm, baseline_mm)
