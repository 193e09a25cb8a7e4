"""AMASS ``.npz`` (SMPL-H, SMPL-X, plain SMPL): files built here in AMASS's own layout and axes
(Z up, metres, SMPL's column-vector axis-angle), since real ones cannot be redistributed."""

from __future__ import annotations

import numpy as np
import pytest

from _builders import body_motion, smplh_file
from motiongen.core import rotations as R
from motiongen.errors import ConfigError, FormatError
from motiongen.formats import amass, bvh
from motiongen.skeletons import load_skeleton

FRAMES = 40
PELVIS, LEFT_ANKLE, RIGHT_ANKLE, HEAD, LEFT_WRIST = 0, 7, 8, 15, 20
# AMASS world (Z up, people facing -Y) -> motiongen (Y up, facing +Z): (x, y, z) -> (x, z, -y).
TO_INTERNAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def smplx_file(path, frames: int = FRAMES, with_poses: bool = True):
    pose, trans = body_motion(frames, seed=1)
    rng = np.random.default_rng(2)
    jaw, eyes = rng.normal(0, 0.1, (frames, 3)), rng.normal(0, 0.1, (frames, 6))
    body, hands = pose[:, :22].reshape(frames, 66), pose[:, 22:].reshape(frames, 90)
    arrays = dict(trans=trans, betas=np.zeros(16), gender=np.array("male"),
                  mocap_frame_rate=np.array(60.0), surface_model_type=np.array("smplx"),
                  root_orient=body[:, :3], pose_body=body[:, 3:], pose_hand=hands, pose_jaw=jaw, pose_eye=eyes)
    if with_poses:
        arrays["poses"] = np.concatenate([body, jaw, eyes, hands], axis=1)
    np.savez(path, **arrays)
    return pose, trans, jaw, eyes


def assert_same_rotations(a, b, tol=1e-9):
    assert np.all(np.abs((a * b).sum(-1)) > 1 - tol)


def assert_upright(motion):
    y = motion.positions[..., 1]
    assert np.all(y[:, HEAD] > y[:, PELVIS] + 0.3)
    assert np.all(y[:, PELVIS] > y[:, [LEFT_ANKLE, RIGHT_ANKLE]].max(axis=1) + 0.4)


# --- reading ------------------------------------------------------------------------------------

def test_smplh_rotations_kept_and_upright(tmp_path):
    path = tmp_path / "01_01_poses.npz"
    pose, trans, betas = smplh_file(path)
    assert amass.sniff(path)
    motion = amass.read(path)
    assert motion.skeleton.name == "smplh52" and motion.joint_count == 52
    assert motion.fps == 120.0 and motion.frame_count == FRAMES
    # Non-root joints: the file's axis-angle as local quaternions, unchanged.
    assert np.abs(motion.rotations[:, 1:] - R.axis_angle_to_quat(pose[:, 1:])).max() < 1e-12
    # Root: C · R_root, with C the Z-up -> Y-up rotation.
    root = R.quat_to_matrix(motion.rotations[:, 0])
    assert np.abs(root - TO_INTERNAL @ R.axis_angle_to_matrix(pose[:, 0])).max() < 1e-12
    expected_root = (trans + amass.PELVIS_OFFSET_M) @ TO_INTERNAL.T
    assert np.abs(motion.root_translation - expected_root).max() < 1e-12
    assert np.abs(motion.positions[:, 0] - expected_root).max() < 1e-6
    assert_upright(motion)
    assert motion.meta["gender"] == "female" and motion.meta["amass_model"] == "smplh"
    assert np.array_equal(motion.meta["trans"], trans) and np.array_equal(motion.meta["betas"], betas)


def test_facing_and_sides(tmp_path):
    """Standing still with root_orient = +90° about X: facing +Z inside, left on +X."""
    pose = np.zeros((1, 156))
    pose[0, 0] = np.pi / 2
    path = tmp_path / "stand.npz"
    np.savez(path, poses=pose, trans=np.array([[0.0, 0.0, 0.9]]), mocap_framerate=np.array(30))
    positions = amass.read(path).positions[0]
    skeleton = load_skeleton("smplh52")
    assert positions[skeleton.index("left_hip"), 0] > 0 > positions[skeleton.index("right_hip"), 0]
    left_foot, left_ankle = skeleton.index("left_foot"), skeleton.index("left_ankle")
    assert positions[left_foot, 2] > positions[left_ankle, 2]  # toes forward (+Z)
    assert positions[HEAD, 1] > positions[PELVIS, 1] == pytest.approx(0.9)


def test_smplx_with_and_without_poses(tmp_path):
    path = tmp_path / "smplx.npz"
    pose, trans, jaw, eyes = smplx_file(path)
    motion = amass.read(path)
    assert motion.skeleton.name == "smplh52" and motion.fps == 60.0
    assert np.abs(motion.rotations[:, 1:] - R.axis_angle_to_quat(pose[:, 1:])).max() < 1e-12
    assert motion.meta["gender"] == "male" and motion.meta["amass_model"] == "smplx"
    assert np.array_equal(motion.meta["pose_jaw"], jaw) and np.array_equal(motion.meta["pose_eye"], eyes)
    assert_upright(motion)
    split = tmp_path / "split.npz"
    smplx_file(split, with_poses=False)
    assert amass.sniff(split)
    other = amass.read(split)
    assert np.array_equal(other.rotations, motion.rotations)
    assert np.array_equal(other.positions, motion.positions)
    assert np.array_equal(other.meta["pose_jaw"], jaw)


@pytest.mark.parametrize("width, name", [(72, "smpl24"), (66, "smpl22")])
def test_plain_smpl_widths(tmp_path, width, name):
    pose, trans = body_motion(5)
    path = tmp_path / "smpl.npz"
    np.savez(path, poses=pose[:, : width // 3].reshape(5, width), trans=trans, mocap_framerate=np.array(30.0))
    motion = amass.read(path)
    assert motion.skeleton.name == name and motion.joint_count == width // 3
    assert_upright(motion)


# --- writing ------------------------------------------------------------------------------------

def test_round_trip(tmp_path):
    path = tmp_path / "in.npz"
    pose, trans, betas = smplh_file(path)
    motion = amass.read(path)
    out = tmp_path / "out.npz"
    amass.write(motion, out)
    with np.load(out, allow_pickle=False) as archive:
        assert archive["poses"].shape == (FRAMES, 156)
        assert np.array_equal(archive["trans"], trans)  # restored from meta, bit for bit
        assert np.array_equal(archive["betas"], betas)
        assert str(archive["gender"]) == "female" and float(archive["mocap_framerate"]) == 120.0
        written = archive["poses"].reshape(FRAMES, 52, 3)
    assert_same_rotations(R.axis_angle_to_quat(written), R.axis_angle_to_quat(pose))
    again = amass.read(out)
    assert_same_rotations(again.rotations, motion.rotations)
    assert np.abs(again.positions - motion.positions).max() < 1e-6
    assert np.abs(again.root_translation - motion.root_translation).max() < 1e-12


def test_round_trip_without_meta(tmp_path):
    """trans is the inverse of the reader's transform when meta does not carry it."""
    path = tmp_path / "in.npz"
    _, trans, _ = smplh_file(path)
    motion = amass.read(path)
    bare = motion.replace(meta={})[5:25]
    out = tmp_path / "out.npz"
    amass.write(bare, out)
    with np.load(out, allow_pickle=False) as archive:
        assert np.abs(archive["trans"] - trans[5:25]).max() < 1e-12
        assert np.array_equal(archive["betas"], np.zeros(16)) and str(archive["gender"]) == "neutral"
    again = amass.read(out)
    assert np.abs(again.positions - bare.positions).max() < 1e-6
    # A slice keeps the whole file's meta, whose trans no longer fits: computed again.
    amass.write(motion[5:25], out)
    with np.load(out, allow_pickle=False) as archive:
        assert np.abs(archive["trans"] - trans[5:25]).max() < 1e-12
        assert str(archive["gender"]) == "female"


def test_smplx_round_trip(tmp_path):
    path = tmp_path / "smplx.npz"
    smplx_file(path)
    motion = amass.read(path)
    out = tmp_path / "out.npz"
    with pytest.warns(UserWarning, match="SMPL-X"):
        amass.write(motion, out)
    again = amass.read(out)
    assert again.fps == 60.0 and again.meta["gender"] == "male"
    assert_same_rotations(again.rotations, motion.rotations)
    assert np.abs(again.positions - motion.positions).max() < 1e-6


def test_body_only_motion_gets_flat_hands(tmp_path):
    pose, trans = body_motion(6)
    path = tmp_path / "smpl.npz"
    np.savez(path, poses=pose[:, :22].reshape(6, 66), trans=trans, mocap_framerate=np.array(30.0))
    body = amass.read(path)
    out = tmp_path / "out.npz"
    amass.write(body, out)
    with np.load(out, allow_pickle=False) as archive:
        assert archive["poses"].shape == (6, 156) and not archive["poses"][:, 66:].any()
    full = amass.read(out)
    assert full.skeleton.name == "smplh52"
    assert np.abs(full.positions[:, :22] - body.positions).max() < 1e-6


def test_writer_rejects(tmp_path):
    path = tmp_path / "in.npz"
    smplh_file(path)
    motion = amass.read(path)
    with pytest.raises(ConfigError, match="rotations"):
        amass.write(motion.replace(rotations=None, root_translation=None), tmp_path / "a.npz")
    from motiongen.core.motion import Motion

    other = Motion.from_rotations(R.quat_identity((1, 17), np.float64), np.zeros((1, 3)),
                                  load_skeleton("h36m17"), 50)
    with pytest.raises(ConfigError, match="smplh52"):
        amass.write(other, tmp_path / "b.npz")
    assert not (tmp_path / "a.npz").exists() and not (tmp_path / "b.npz").exists()


# --- AMASS -> BVH without IK ----------------------------------------------------------------------

def test_amass_to_bvh_keeps_positions(tmp_path):
    path = tmp_path / "in.npz"
    smplh_file(path)
    motion = amass.read(path)
    out = tmp_path / "x.bvh"
    bvh.write(motion, out)
    back = bvh.read(out, metres_per_unit=1.0)
    assert back.joint_count == 52 and back.fps == pytest.approx(120.0)
    # A BVH hierarchy lists joints depth first, so match them by name.
    order = [back.skeleton.index(name) for name in motion.skeleton.joint_names]
    assert np.abs(back.positions[:, order] - motion.positions).max() < 1e-5


# --- malformed files ----------------------------------------------------------------------------

def _valid(frames: int = 4) -> dict:
    pose, trans = body_motion(frames)
    return dict(poses=pose.reshape(frames, 156), trans=trans, mocap_framerate=np.array(30.0))


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("trans"), "missing key 'trans'"),
    (lambda a: a.pop("mocap_framerate"), "mocap_framerate"),
    (lambda a: a.pop("poses"), "missing key 'poses'"),
    (lambda a: a.update(poses=np.zeros((4, 100))), "100 values per frame"),
    (lambda a: a.update(trans=np.zeros((3, 3))), "4 frames but 'trans' has 3"),
    (lambda a: a.update(trans=np.zeros((4, 2))), r"\[T, 3\]"),
    (lambda a: a["poses"].__setitem__((2, 7), np.nan), "NaN or inf.*'poses' at frame 2"),
    (lambda a: a["trans"].__setitem__((1, 0), np.inf), "NaN or inf.*'trans' at frame 1"),
    (lambda a: a.update(poses=np.zeros((0, 156)), trans=np.zeros((0, 3))), "zero frames"),
    (lambda a: a.update(mocap_framerate=np.array(-5.0)), "positive"),
    (lambda a: a.update(gender=np.array(["female", "male"], dtype=object)), "pickled"),
])
def test_malformed(tmp_path, change, message):
    arrays = _valid()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(FormatError, match=message):
        amass.read(path)


def test_sniff_and_registry(tmp_path):
    from motiongen.formats import get_format

    assert get_format("amass") is amass
    path = tmp_path / "plain.npz"
    np.savez(path, positions=np.zeros((2, 22, 3)))
    assert not amass.sniff(path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    assert not amass.sniff(garbage)


def test_detected_among_npz_layouts(tmp_path):
    """The registry tells AMASS, H3.6M positions and plain arrays apart by content."""
    from motiongen.formats import detect_format

    smplh_file(tmp_path / "amass.npz")
    np.savez(tmp_path / "h36m.npz", positions_3d=np.zeros((2, 17, 3)))
    np.savez(tmp_path / "plain.npz", positions=np.zeros((2, 17, 3)))
    assert [detect_format(tmp_path / f"{name}.npz").NAME for name in ("amass", "h36m", "plain")] == \
        ["amass", "h36m", "npz"]
