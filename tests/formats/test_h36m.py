"""Human3.6M formats: expmap ``.txt`` (checked against a direct implementation of the published
row-vector forward kinematics) and 3D positions ``.npz``. The files are built here in the
dataset's own layout and axes (Z up, millimetres), since real ones cannot be redistributed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from _builders import walking_values, write_table
from motiongen.core import rotations as R
from motiongen.errors import ConfigError, FormatError
from motiongen.formats import h36m_expmap, h36m_positions
from motiongen.skeletons import load_skeleton

FRAMES = 60
# The published parent array (1-based, as in the S-RNN / Martinez et al. code), minus one.
PUBLISHED_PARENTS = np.array([0, 1, 2, 3, 4, 5, 1, 7, 8, 9, 10, 1, 12, 13, 14, 15, 13, 17, 18, 19, 20,
                              21, 20, 23, 13, 25, 26, 27, 28, 29, 28, 31]) - 1
# A few published offsets (mm) to check the skeleton file against: joint -> vector.
PUBLISHED_OFFSETS_MM = {
    1: (-132.948591, 0.0, 0.0), 2: (0.0, -442.894612, 0.0), 3: (0.0, -454.206447, 0.0),
    12: (0.0, 233.383263, 0.0), 14: (0.0, 121.134938, 0.0), 15: (0.0, 115.002227, 0.0),
}
SUBSET_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
HIPS, RIGHT_FOOT, LEFT_FOOT, RIGHT_TOE, LEFT_TOE, HEAD_TOP = 0, 3, 8, 4, 9, 15


# --- an independent reference -------------------------------------------------------------------

def rodrigues(expmap: np.ndarray) -> np.ndarray:
    """Rotation matrix of one exponential map, R = I + sin θ K + (1 − cos θ) K²."""
    theta = float(np.linalg.norm(expmap))
    if theta < 1e-15:
        return np.eye(3)
    x, y, z = expmap / theta
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(theta) * k + (1.0 - math.cos(theta)) * (k @ k)


def published_fk(values: np.ndarray, offsets_mm: np.ndarray) -> np.ndarray:
    """The published row-vector FK, one frame and joint at a time: ``[T, 32, 3]`` mm, Z up."""
    out = np.zeros((len(values), 32, 3))
    for t, row in enumerate(values):
        rotation = [None] * 32
        for j in range(32):
            this = rodrigues(row[3 + 3 * j: 6 + 3 * j])
            parent = PUBLISHED_PARENTS[j]
            if parent < 0:
                rotation[j] = this
                out[t, j] = offsets_mm[j] + row[:3]
            else:
                out[t, j] = offsets_mm[j] @ rotation[parent] + out[t, parent]
                rotation[j] = this @ rotation[parent]
    return out


def zup_mm_to_internal(points: np.ndarray) -> np.ndarray:
    """H3.6M world (Z up, facing -Y, mm) -> motiongen (Y up, facing +Z, m): (x, y, z) -> (x, z, -y)."""
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], -1) / 1000.0


def internal_to_zup_mm(points: np.ndarray) -> np.ndarray:
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], -1) * 1000.0


def offsets_mm() -> np.ndarray:
    return load_skeleton("h36m32").offsets * 1000.0


@pytest.fixture
def walking_file(tmp_path):
    path = tmp_path / "S1" / "walking_1.txt"
    write_table(path, walking_values())
    return path


# --- expmap: conventions ------------------------------------------------------------------------

def test_skeleton_is_the_published_one():
    skeleton = load_skeleton("h36m32")
    assert np.array_equal(skeleton.parents, PUBLISHED_PARENTS)
    for joint, vector in PUBLISHED_OFFSETS_MM.items():
        assert np.allclose(skeleton.offsets[joint] * 1000.0, vector, atol=1e-3)


def test_positions_match_published_row_vector_fk(walking_file):
    motion = h36m_expmap.read(walking_file)
    values = np.loadtxt(walking_file, delimiter=",")
    expected = zup_mm_to_internal(published_fk(values, offsets_mm()))
    assert motion.skeleton.name == "h36m32"
    assert np.abs(motion.positions - expected).max() < 1e-6


def test_local_rotation_is_the_transpose(walking_file):
    motion = h36m_expmap.read(walking_file)
    values = np.loadtxt(walking_file, delimiter=",")
    expmap = values[:, 3:].reshape(-1, 32, 3)
    matrices = R.quat_to_matrix(motion.rotations)
    for j in (1, 2, 7, 13, 17, 26):
        expected = np.stack([rodrigues(e).T for e in expmap[:, j]])
        assert np.abs(matrices[:, j] - expected).max() < 1e-9
    to_internal = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # −90° about X
    expected_root = np.stack([to_internal @ rodrigues(e).T for e in expmap[:, 0]])
    assert np.abs(matrices[:, 0] - expected_root).max() < 1e-9


def test_walking_is_upright_and_timed(walking_file):
    motion = h36m_expmap.read(walking_file)
    y = motion.positions[..., 1]
    feet = y[:, [RIGHT_FOOT, LEFT_FOOT, RIGHT_TOE, LEFT_TOE]].max(axis=1)
    assert np.all(y[:, HEAD_TOP] > y[:, HIPS] + 0.4)
    assert np.all(y[:, HIPS] > feet + 0.3)
    assert motion.fps == 50.0
    assert motion.frame_count == FRAMES
    assert motion.meta["subject"] == "S1" and motion.meta["action"] == "Walking"
    assert motion.meta["subaction"] == 1 and motion.meta["format"] == "h36m-expmap"


def test_standing_faces_plus_z_with_left_on_plus_x(tmp_path):
    values = np.zeros((2, 99))
    values[:, 3] = -np.pi / 2  # stand up (see walking_values)
    values[:, 2] = 900.0
    path = tmp_path / "stand.txt"
    write_table(path, values)
    # The published FK itself puts the head up the world's +Z with this root.
    reference = published_fk(values, offsets_mm())
    assert reference[0, HEAD_TOP, 2] > reference[0, HIPS, 2] > reference[0, RIGHT_FOOT, 2]
    positions = h36m_expmap.read(path).positions[0]
    assert positions[HEAD_TOP, 1] > positions[HIPS, 1] > positions[RIGHT_FOOT, 1]
    assert positions[RIGHT_TOE, 2] > positions[RIGHT_FOOT, 2] + 0.1  # toes point forward (+Z)
    assert positions[6, 0] > 0.1 > -0.1 > positions[1, 0]  # LeftUpLeg at +X, RightUpLeg at -X
    assert positions[HIPS, 1] == pytest.approx(0.9)


def test_action_names_of_the_release(tmp_path):
    for stem, action in (("walkingdog_2", "WalkingDog"), ("takingphoto_1", "TakingPhoto"),
                         ("walkingtogether_1", "WalkTogether"), ("sittingdown_2", "SittingDown")):
        path = tmp_path / "S5" / f"{stem}.txt"
        write_table(path, walking_values(3))
        meta = h36m_expmap.read(path).meta
        assert (meta["subject"], meta["action"]) == ("S5", action)
    path = tmp_path / "clip.txt"
    write_table(path, walking_values(3))
    assert "action" not in h36m_expmap.read(path).meta


# --- expmap: writing ----------------------------------------------------------------------------

def test_write_read_round_trip(walking_file, tmp_path):
    motion = h36m_expmap.read(walking_file)
    out = tmp_path / "out.txt"
    h36m_expmap.write(motion, out)
    again = h36m_expmap.read(out)
    assert np.abs(again.positions - motion.positions).max() < 1e-6
    assert np.abs(again.root_translation - motion.root_translation).max() < 1e-9
    dots = np.abs((again.rotations * motion.rotations).sum(-1))
    assert np.all(dots > 1 - 1e-12)
    lines = out.read_text().splitlines()
    assert len(lines) == FRAMES and all(len(line.split(",")) == 99 for line in lines)
    assert h36m_expmap.sniff(out)
    # The written root columns are the file's own millimetres.
    original = np.loadtxt(walking_file, delimiter=",")
    assert np.allclose(np.loadtxt(out, delimiter=",")[:, :3], original[:, :3], atol=1e-6)


def test_writer_needs_rotations_on_h36m32(walking_file, tmp_path):
    motion = h36m_expmap.read(walking_file)
    with pytest.raises(ConfigError, match="rotations"):
        h36m_expmap.write(motion.replace(rotations=None, root_translation=None), tmp_path / "x.txt")
    subset = load_skeleton("h36m17")
    positions = motion.positions[:, SUBSET_17]
    with pytest.raises(ConfigError, match="h36m32"):
        h36m_expmap.write(type(motion)(positions=positions, skeleton=subset, fps=50,
                                       rotations=motion.rotations[:, SUBSET_17],
                                       root_translation=motion.root_translation), tmp_path / "y.txt")
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "y.txt").exists()


# --- expmap: malformed files --------------------------------------------------------------------

def _lines(count: int = 5) -> list[str]:
    return [",".join(f"{v:.5f}" for v in row) for row in walking_values(count)]


def test_wrong_value_count_names_the_line(tmp_path):
    lines = _lines()
    lines[2] = ",".join(lines[2].split(",")[:98])
    path = tmp_path / "short.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="expected 99 comma-separated values, got 98") as info:
        h36m_expmap.read(path)
    assert info.value.line == 3


def test_text_token_names_the_line(tmp_path):
    lines = _lines()
    fields = lines[1].split(",")
    fields[40] = "abc"
    lines[1] = ",".join(fields)
    path = tmp_path / "token.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="'abc' is not a number") as info:
        h36m_expmap.read(path)
    assert info.value.line == 2


def test_nan_names_the_line(tmp_path):
    lines = _lines()
    fields = lines[3].split(",")
    fields[10] = "NaN"
    lines[3] = ",".join(fields)
    path = tmp_path / "nan.txt"
    path.write_text("\r\n".join(lines) + "\r\n")  # CRLF as well
    with pytest.raises(FormatError, match="NaN or inf") as info:
        h36m_expmap.read(path)
    assert info.value.line == 4


def test_empty_and_blank_files(tmp_path):
    for text in ("", "\n\n  \n"):
        path = tmp_path / "empty.txt"
        path.write_text(text)
        with pytest.raises(FormatError, match="empty"):
            h36m_expmap.read(path)
        assert not h36m_expmap.sniff(path)
    lines = _lines()
    path = tmp_path / "gap.txt"
    path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    with pytest.raises(FormatError, match="blank line") as info:
        h36m_expmap.read(path)
    assert info.value.line == 3


def test_sniff(tmp_path, walking_file):
    assert h36m_expmap.sniff(walking_file)
    other = tmp_path / "notes.txt"
    other.write_text("1,2,3\n")
    assert not h36m_expmap.sniff(other)
    other.write_text("\n" + ",".join(["x"] * 99) + "\n")
    assert not h36m_expmap.sniff(other)


# --- positions .npz -----------------------------------------------------------------------------

@pytest.fixture
def positions_mm(walking_file) -> np.ndarray:
    """``[T, 32, 3]`` mm, Z up: the published FK of the walking file (what the dataset stores)."""
    return published_fk(np.loadtxt(walking_file, delimiter=","), offsets_mm())


@pytest.mark.parametrize("joints", [32, 17])
def test_positions_round_trip(tmp_path, positions_mm, joints):
    data = positions_mm if joints == 32 else positions_mm[:, SUBSET_17]
    path = tmp_path / "S9_walking.npz"
    np.savez(path, positions_3d=data, fps=np.asarray(50.0), subject=np.asarray("S9"),
             action=np.asarray("Walking"))
    assert h36m_positions.sniff(path)
    motion = h36m_positions.read(path)
    assert motion.skeleton.name == f"h36m{joints}" and motion.fps == 50.0
    assert motion.meta["subject"] == "S9" and motion.meta["action"] == "Walking"
    assert np.abs(motion.positions - zup_mm_to_internal(data)).max() < 1e-6
    y = motion.positions[..., 1]
    head, feet = (15, [3, 8]) if joints == 32 else (10, [3, 6])
    assert np.all(y[:, head] > y[:, 0]) and np.all(y[:, 0] > y[:, feet].max(axis=1))
    out = tmp_path / "out.npz"
    h36m_positions.write(motion, out)
    with np.load(out, allow_pickle=False) as archive:
        assert np.abs(archive["positions_3d"] - data).max() < 1e-3  # mm; positions are float32 inside
        assert float(archive["fps"]) == 50.0 and str(archive["subject"]) == "S9"
    again = h36m_positions.read(out)
    assert np.abs(again.positions - motion.positions).max() < 1e-6
    assert again.meta["action"] == "Walking"


@pytest.mark.parametrize("shape", ["flat", "cdf"])
def test_raw_pose_layout(tmp_path, positions_mm, shape):
    pose = positions_mm.reshape(len(positions_mm), 96)
    path = tmp_path / "pose.npz"
    np.savez(path, pose=pose if shape == "flat" else pose[None])
    assert h36m_positions.sniff(path)
    motion = h36m_positions.read(path)
    assert motion.skeleton.name == "h36m32" and motion.fps == 50.0
    assert np.abs(motion.positions - zup_mm_to_internal(positions_mm)).max() < 1e-6


def test_positions_keep_nan(tmp_path, positions_mm):
    data = positions_mm[:, SUBSET_17].copy()
    data[5, 13] = np.nan
    path = tmp_path / "gap.npz"
    np.savez(path, positions_3d=data)
    motion = h36m_positions.read(path)
    assert np.isnan(motion.positions[5, 13]).all() and not motion.mask[5, 13]
    assert motion.mask.sum() == motion.mask.size - 1
    out = tmp_path / "out.npz"
    h36m_positions.write(motion, out)
    with np.load(out, allow_pickle=False) as archive:
        written = archive["positions_3d"]
    assert np.isnan(written[5, 13]).all() and np.isfinite(np.delete(written.reshape(-1, 3), 5 * 17 + 13, 0)).all()


def test_positions_writer_of_internal_motion(tmp_path):
    """A motion made in motiongen's frame comes out Z up in millimetres."""
    skeleton = load_skeleton("h36m17")
    rest = skeleton.rest_positions()[None]
    from motiongen.core.motion import Motion

    path = tmp_path / "rest.npz"
    h36m_positions.write(Motion(positions=rest, skeleton=skeleton, fps=25), path)
    with np.load(path, allow_pickle=False) as archive:
        written = archive["positions_3d"]
        assert float(archive["fps"]) == 25.0
    assert np.abs(written - internal_to_zup_mm(rest)).max() < 1e-3
    assert written[0, 10, 2] > written[0, 0, 2]  # head above the pelvis along +Z


def test_positions_malformed(tmp_path, positions_mm):
    cases = {
        "joints.npz": ({"positions_3d": positions_mm[:, :20]}, "must be"),
        "inf.npz": ({"positions_3d": np.where(np.arange(32)[None, :, None] == 3, np.inf, positions_mm)}, "infinite"),
        "pose.npz": ({"pose": positions_mm.reshape(-1, 96)[:, :90]}, "96"),
        "keys.npz": ({"other": np.zeros(3)}, "positions_3d"),
        "empty.npz": ({"positions_3d": np.zeros((0, 17, 3))}, "zero frames"),
        "text.npz": ({"positions_3d": np.full((2, 17, 3), "a")}, "numbers"),
        "pickle.npz": ({"positions_3d": np.array([{"S1": 1}], dtype=object)}, "pickled"),
    }
    for name, (arrays, message) in cases.items():
        path = tmp_path / name
        np.savez(path, **arrays)
        with pytest.raises(FormatError, match=message):
            h36m_positions.read(path)
    assert not h36m_positions.sniff(tmp_path / "keys.npz")


def test_positions_writer_rejects_other_skeletons(tmp_path):
    from motiongen.core.motion import Motion

    skeleton = load_skeleton("smpl22")
    motion = Motion(positions=skeleton.rest_positions()[None], skeleton=skeleton, fps=30)
    with pytest.raises(ConfigError, match="h36m32 or h36m17"):
        h36m_positions.write(motion, tmp_path / "x.npz")


def test_registry_names():
    from motiongen.formats import get_format

    assert get_format("h36m-expmap") is h36m_expmap and h36m_expmap.NAME == "h36m-expmap"
    assert get_format("h36m") is h36m_positions and h36m_positions.NAME == "h36m"
