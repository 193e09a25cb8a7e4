"""End-to-end conversions through `motiongen.api.convert` (DESIGN §5): small files built in each
source dataset's own layout and axes (NTU .skeleton, H3.6M expmap .txt, AMASS .npz) and real CMU
BVH clips from ../shared/data (skipped when absent). Every result must stand upright in the
internal frame (+Y up) and face +Z with its left side on +X."""

from __future__ import annotations

import contextlib
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "formats"))  # the dataset-layout builders

from _builders import smplh_file, walking_values, write_table  # noqa: E402
from _ntu_fixtures import MAIN_ID, Body, format_skeleton, internal_to_camera, to_dataset_order  # noqa: E402
from motiongen.api import convert, convert_motion  # noqa: E402
from motiongen.core import rotations as R  # noqa: E402
from motiongen.core.kinematics import fit_bone_lengths  # noqa: E402
from motiongen.core.motion import Motion  # noqa: E402
from motiongen.core.ops import fill_missing, resampled_frame_count, rotate  # noqa: E402
from motiongen.errors import FormatError, SkeletonError  # noqa: E402
from motiongen.formats import _io, bvh, ntu_skeleton, read_motion, read_motions, write_motion  # noqa: E402
from motiongen.retarget import retarget  # noqa: E402
from motiongen.skeletons import load_skeleton  # noqa: E402
from _data import TALKER

convert_module = importlib.import_module("motiongen.api.convert")  # the package re-exports the function
UP = np.array([0.0, 1.0, 0.0])


# --- checks ---------------------------------------------------------------------------------------

def assert_upright(motion: Motion, margin_m: float = 0.2) -> None:
    """Head above pelvis above both ankles, by ``margin_m``, in every frame (internal frame: +Y up)."""
    names = motion.skeleton.canonical_index()
    head = names.get("head", names.get("head_top"))
    y = np.asarray(motion.positions[..., 1], dtype=np.float64)
    ankles = y[:, [names["left_ankle"], names["right_ankle"]]].max(axis=1)
    assert np.all(y[:, head] > y[:, names["pelvis"]] + margin_m), "head not above the pelvis"
    assert np.all(y[:, names["pelvis"]] > ankles + margin_m), "pelvis not above the ankles"


def facing(motion: Motion, frame: int = 0) -> np.ndarray:
    """Unit horizontal facing direction from the hips: (left hip − right hip) × up."""
    names = motion.skeleton.canonical_index()
    across = motion.positions[frame, names["left_hip"]] - motion.positions[frame, names["right_hip"]]
    forward = np.cross(across.astype(np.float64), UP)
    return forward / np.linalg.norm(forward)


def assert_faces_plus_z_left_on_plus_x(motion: Motion, frame: int = 0, min_cos: float = 0.9,
                                       parts: tuple[str, ...] = ("hip", "shoulder")) -> None:
    assert facing(motion, frame) @ [0.0, 0.0, 1.0] > min_cos
    names = motion.skeleton.canonical_index()
    pelvis_x = motion.positions[frame, names["pelvis"], 0]
    for part in parts:
        assert motion.positions[frame, names[f"left_{part}"], 0] > pelvis_x + 0.03, f"left_{part} not on +X"
        assert motion.positions[frame, names[f"right_{part}"], 0] < pelvis_x - 0.03, f"right_{part} not on -X"


def along_bones(positions: np.ndarray, skeleton, lengths: np.ndarray) -> np.ndarray:
    """Positions rebuilt from the root down with every bone pointing where ``positions`` point it
    but with the given ``lengths [J]`` — what FK(IK(positions)) is on a skeleton of those lengths."""
    positions = np.asarray(positions, dtype=np.float64)
    rebuilt = np.zeros_like(positions)
    rebuilt[:, 0] = positions[:, 0]
    for level in skeleton.depth_levels()[1:]:
        parent = skeleton.parents[level]
        bone = positions[:, level] - positions[:, parent]
        bone /= np.linalg.norm(bone, axis=-1, keepdims=True)
        rebuilt[:, level] = rebuilt[:, parent] + lengths[level, None] * bone
    return rebuilt


@pytest.fixture
def ik_calls(monkeypatch) -> list:
    """Records every IK solve `convert` makes (the motions it solved)."""
    calls = []
    real = convert_module.solve_rotations

    def spy(motion):
        calls.append(motion)
        return real(motion)

    monkeypatch.setattr(convert_module, "solve_rotations", spy)
    return calls


def no_part_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


# --- builders -------------------------------------------------------------------------------------

NTU = load_skeleton("ntu25")


def kinect_take(frames: int = 45, seed: int = 3) -> np.ndarray:
    """``[T, 25, 3]`` internal-frame positions of a person walking towards +Z with swinging limbs,
    bending knees and elbows, a slight body turn: FK on the ntu25 rest skeleton (noise-free)."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(frames) / 30.0
    phase = 2 * np.pi * time_s
    axis_angle = np.zeros((frames, 25, 3))
    axis_angle[:, 0, 1] = 0.25 * np.sin(0.5 * phase)  # turn ±14° about +Y
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        axis_angle[:, NTU.index(f"Hip{side}"), 0] = -0.4 * sign * np.sin(phase)  # leg swings forward/back
        axis_angle[:, NTU.index(f"Knee{side}"), 0] = 0.3 * (1 + sign * np.cos(phase))  # shin bends back
        axis_angle[:, NTU.index(f"Shoulder{side}"), 0] = 0.35 * sign * np.sin(phase)  # arm swings
        axis_angle[:, NTU.index(f"Elbow{side}"), 0] = -0.3 - 0.2 * np.sin(phase) ** 2  # forearm forward
        axis_angle[:, NTU.index(f"Elbow{side}"), 1] = 0.1 * sign
    axis_angle += rng.normal(0.0, 0.03, axis_angle.shape)  # small motion everywhere
    axis_angle[:, 0, [0, 2]] = 0.0
    root = NTU.offsets[0] + np.stack([0.05 * np.sin(phase), 0.01 * np.cos(2 * phase), 0.8 * time_s], -1)
    return Motion.from_rotations(R.axis_angle_to_quat(axis_angle), root, NTU, 30.0).positions


def ntu_file(path: Path, internal: np.ndarray, states: np.ndarray | None = None,
             frames_present: list[int] | None = None) -> Path:
    """An NTU .skeleton file of one body whose internal-frame positions are ``internal``: turned
    into the Kinect camera frame (facing the sensor, 3 m away) and the dataset's joint order."""
    frames = len(internal)
    present = list(range(frames)) if frames_present is None else frames_present
    camera = to_dataset_order(internal_to_camera(internal) + np.asarray([0.0, -0.9, 3.0]))[present]
    states = np.full((len(present), 25), 2) if states is None else states
    path.write_text(format_skeleton(frames, [Body(MAIN_ID, np.round(camera, 7), states, present)]))
    return path


def bvh_at_120fps(path: Path, frames: int = 121, seed: int = 5) -> Motion:
    """A BVH file of an ntu25-shaped body at 120 fps with smoothly varying rotations everywhere."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(frames) / 120.0
    amplitude = rng.uniform(0.2, 0.8, (25, 3))
    rate = rng.uniform(0.5, 2.0, (25, 3))
    offset = rng.uniform(0, 2 * np.pi, (25, 3))
    axis_angle = amplitude * np.sin(2 * np.pi * rate * time_s[:, None, None] + offset)
    axis_angle[:, 0] = [0.0, 1.0, 0.0] * (0.3 * np.sin(2 * np.pi * time_s))[:, None]
    root = NTU.offsets[0] + np.stack([0.3 * time_s, 0.02 * np.sin(8 * time_s), 1.2 * time_s], -1)
    motion = Motion.from_rotations(R.axis_angle_to_quat(axis_angle), root, NTU, 120.0)
    bvh.write(motion, path)
    return bvh.read(path)


# --- NTU .skeleton -> BVH (IK) --------------------------------------------------------------------

def test_ntu_skeleton_to_bvh_solves_ik(tmp_path, ik_calls):
    internal = kinect_take(45)
    states = np.full((44, 25), 2)
    states[10:14, NTU.dataset_index[NTU.index("WristLeft")]] = 1  # inferred by Kinect: masked
    source = ntu_file(tmp_path / "S001C001P001R001A001.skeleton", internal, states,
                      frames_present=[f for f in range(45) if f != 20])  # the actor is lost in frame 20
    output = tmp_path / "take.bvh"

    result = convert([source], output)

    assert result.written == [output] and result.failed == []
    assert len(ik_calls) == 1, "positions-only input must be solved by IK exactly once"
    motion = bvh.read(output)
    assert motion.skeleton.name == "ntu25" and motion.joint_count == 25
    assert motion.frame_count == 45 and motion.fps == 30.0
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion)
    assert all(facing(motion, f) @ [0, 0, 1] > 0.9 for f in range(45))

    # FK(IK) points every bone where the filled input points it, at the fitted bone lengths.
    filled = fill_missing(ntu_skeleton.read(source))
    fitted = fit_bone_lengths(filled.positions, NTU).bone_lengths()
    assert np.allclose(motion.skeleton.bone_lengths()[1:], fitted[1:], atol=1e-6)
    error_m = np.linalg.norm(motion.positions - along_bones(filled.positions, NTU, fitted), axis=-1)
    assert error_m.max() < 0.02, f"FK(IK) off by {error_m.max():.4f} m"
    assert error_m.mean() < 0.002
    # The data is the clip's own: the filled frame lies between its neighbours.
    pelvis = motion.positions[:, 0]
    assert np.allclose(pelvis[20], 0.5 * (pelvis[19] + pelvis[21]), atol=1e-4)


# --- rotation formats -> BVH (rotations kept, no IK) ----------------------------------------------

@pytest.fixture
def no_ik(monkeypatch):
    def refuse(motion):
        raise AssertionError("IK must not run for a source with rotations")

    monkeypatch.setattr(convert_module, "solve_rotations", refuse)


def assert_same_rotations(a: np.ndarray, b: np.ndarray, tol_rad: float = 1e-6) -> None:
    angle = 2 * np.arccos(np.clip(np.abs((a * b).sum(-1)), 0.0, 1.0))
    assert angle.max() < tol_rad


def test_h36m_expmap_to_bvh_keeps_rotations(tmp_path, no_ik):
    source = tmp_path / "S1" / "walking_1.txt"
    write_table(source, walking_values(60))
    output = tmp_path / "walking_1.bvh"

    result = convert([source], output)

    assert result.written == [output] and not result.failed
    original = read_motion(source)
    motion = bvh.read(output)
    assert motion.skeleton.name == "h36m32" and motion.joint_count == 32
    assert motion.frame_count == 60 and motion.fps == 50.0
    assert np.abs(motion.positions - original.positions).max() < 1e-5
    assert_same_rotations(motion.rotations, original.rotations)
    assert_upright(motion)
    # H3.6M's published rest pose has every bone on one axis (arms along the spine), so only the
    # hips say where left is.
    assert_faces_plus_z_left_on_plus_x(motion, frame=0, parts=("hip",))


def test_amass_to_bvh_keeps_rotations(tmp_path, no_ik):
    source = tmp_path / "01_01_poses.npz"
    smplh_file(source, 40)
    output = tmp_path / "01_01.bvh"

    result = convert([source], output, to="bvh")

    assert result.written == [output] and not result.failed
    original = read_motion(source)
    motion = bvh.read(output)
    assert motion.skeleton.name == "smplh52" and motion.joint_count == 52
    assert motion.frame_count == 40 and motion.fps == 120.0
    assert np.abs(motion.positions - original.positions).max() < 1e-5
    assert_same_rotations(motion.rotations, original.rotations)
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion, frame=0, min_cos=0.8)


# --- a real CMU BVH -> NTU-25 and SMPL-22 ---------------------------------------------------------

CMU_FRAMES = 121  # (T - 1) a multiple of 4, so 120 -> 30 fps keeps the last frame


@pytest.fixture(scope="module")
def cmu_walk(walking_bvh, tmp_path_factory) -> Path:
    """The first second of CMU 02_01 (frame 0, the converter's T-pose, dropped), turned about +Y
    so that the subject faces +Z in its first frame, written as a BVH file."""
    motion = bvh.read(walking_bvh)[1:1 + CMU_FRAMES]
    forward = facing(motion, 0)
    yaw = np.arctan2(forward[0], forward[2])
    turned = rotate(motion, R.axis_angle_to_matrix(np.array([0.0, -yaw, 0.0])))
    path = tmp_path_factory.mktemp("cmu") / "02_01_walk.bvh"
    bvh.write(turned, path)
    return path


def test_cmu_bvh_faces_plus_z_as_prepared(cmu_walk):
    motion = bvh.read(cmu_walk)
    assert motion.skeleton.name == "cmu31" and motion.fps == 120.0 and motion.frame_count == CMU_FRAMES
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion, min_cos=0.999)


def test_cmu_bvh_to_ntu25_npz(cmu_walk, tmp_path):
    output = tmp_path / "walk_ntu.npz"
    result = convert([cmu_walk], output, skeleton="ntu25")
    assert result.written == [output] and not result.failed
    motion = read_motion(output)
    assert motion.skeleton.name == "ntu25" and motion.joint_count == 25
    assert motion.frame_count == CMU_FRAMES and motion.fps == 120.0
    assert not motion.has_rotations
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion)


def test_cmu_bvh_to_ntu25_npz_at_30_fps(cmu_walk, tmp_path):
    output = tmp_path / "walk_ntu30.npz"
    result = convert([cmu_walk], output, skeleton="ntu25", fps=30)
    assert not result.failed
    motion = read_motion(output)
    assert motion.fps == 30.0
    assert motion.frame_count == (CMU_FRAMES - 1) * 30 // 120 + 1 == 31
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion)
    # The sampled instants are the source's every 4th frame.
    full = read_motion(convert([cmu_walk], tmp_path / "full.npz", skeleton="ntu25").written[0])
    assert np.abs(motion.positions - full.positions[::4]).max() < 1e-5


def test_cmu_bvh_to_ntu_array_stgcn(cmu_walk, tmp_path):
    # An unlabelled clip cannot go into ST-GCN arrays (a label per sample is part of the format):
    # the failure says so and leaves nothing behind.
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    result = convert([cmu_walk], unlabelled / "train_data.npy", to="ntu-array", skeleton="ntu25",
                     write_options={"layout": "stgcn"})
    assert not result.written and len(result.failed) == 1 and "label" in result.failed[0][1]
    assert list(unlabelled.iterdir()) == []

    # The same clip with a label (carried by motiongen's own .npz) converts.
    labelled = tmp_path / "walk_labelled.npz"
    write_motion(bvh.read(cmu_walk).with_meta(label=58), labelled)  # A059 "walking towards each other"
    output = tmp_path / "train_data.npy"
    result = convert([labelled], output, to="ntu-array", skeleton="ntu25", fps=30,
                     write_options={"layout": "stgcn"})
    assert result.written == [output] and not result.failed
    assert (tmp_path / "train_label.pkl").is_file()
    assert np.load(output).shape == (1, 3, 300, 25, 2)  # (N, C, T padded to 300, V, M)
    [motion] = read_motions(output, layout="stgcn")
    assert motion.skeleton.name == "ntu25" and motion.meta["label"] == 58
    assert motion.frame_count == 31 and motion.fps == 30.0
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion)
    assert no_part_files(tmp_path)


def test_cmu_bvh_to_smpl22_npz(cmu_walk, tmp_path, ik_calls):
    output = tmp_path / "walk_smpl.npz"
    result = convert([cmu_walk], output, skeleton="smpl22")
    assert result.written == [output] and not result.failed
    assert ik_calls == []  # .npz stores positions: no IK
    motion = read_motion(output)
    assert motion.skeleton.name == "smpl22" and motion.joint_count == 22
    assert motion.frame_count == CMU_FRAMES and motion.fps == 120.0
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion)


def test_cmu_bvh_to_smpl22_bvh_with_ik(cmu_walk, tmp_path, ik_calls):
    output = tmp_path / "walk_smpl.bvh"
    result = convert([cmu_walk], output, skeleton="smpl22", fps=30)
    assert result.written == [output] and not result.failed
    assert len(ik_calls) == 1
    motion = bvh.read(output)
    assert motion.skeleton.name == "smpl22" and motion.joint_count == 22
    assert motion.frame_count == 31 and motion.fps == 30.0
    assert_upright(motion)
    assert_faces_plus_z_left_on_plus_x(motion)

    # FK(IK) follows the retargeted positions: bones below single-child joints point exactly
    # along the retargeted bones, and joints with several children (pelvis, chest) get a rigid
    # fit, so positions at the IK skeleton's bone lengths agree to within Kinect-like accuracy.
    smpl = load_skeleton("smpl22")
    retargeted = retarget(bvh.read(cmu_walk), smpl)[::4]
    expected = along_bones(retargeted.positions, smpl, motion.skeleton.bone_lengths())
    single = [j for j in range(1, 22) if len(smpl.children()[smpl.parents[j]]) == 1]

    def directions(positions, joints):
        bone = positions[:, joints] - positions[:, smpl.parents[joints]]
        return bone / np.linalg.norm(bone, axis=-1, keepdims=True)

    cos = (directions(motion.positions, single) * directions(retargeted.positions, single)).sum(-1)
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.1
    error_m = np.linalg.norm(motion.positions - expected, axis=-1)
    assert error_m.max() < 0.02 and error_m.mean() < 0.005


# --- resampling -----------------------------------------------------------------------------------

def test_resampling_a_bvh_uses_slerp(tmp_path):
    source_path = tmp_path / "fast.bvh"
    source = bvh_at_120fps(source_path, frames=122)
    assert source.fps == 120.0

    every_4th = tmp_path / "slow.bvh"
    assert not convert([source_path], every_4th, fps=30).failed
    slow = bvh.read(every_4th)
    assert slow.fps == 30.0 and slow.frame_count == resampled_frame_count(122, 120, 30) == 31
    assert np.abs(slow.positions - source.positions[::4]).max() < 1e-5

    # Between source frames, rotations are slerped: bones keep their lengths (a linear blend of
    # positions would shorten them) and the root turns half-way.
    between = tmp_path / "between.bvh"
    assert not convert([source_path], between, fps=48).failed
    half = bvh.read(between)  # frame k is at source frame 2.5 k
    assert half.frame_count == resampled_frame_count(122, 120, 48)
    bones = np.linalg.norm(half.positions[:, 1:] - half.positions[:, NTU.parents[1:]], axis=-1)
    assert np.abs(bones - NTU.bone_lengths()[1:]).max() < 1e-5
    expected_root = R.quat_slerp(source.rotations[2, 0], source.rotations[3, 0], np.asarray(0.5))
    assert_same_rotations(half.rotations[1, 0], expected_root, tol_rad=1e-6)
    linear = 0.5 * (source.positions[2] + source.positions[3])
    assert np.abs(half.positions[1] - linear).max() > 1e-4  # not a blend of positions


def test_resampling_positions_is_linear(tmp_path):
    rng = np.random.default_rng(0)
    positions = (NTU.rest_positions() + rng.normal(0, 0.05, (31, 25, 3))).astype(np.float32)
    source = tmp_path / "positions.npy"  # plain [T, 25, 3]: ntu25 at its 30 fps
    np.save(source, positions)

    halved = convert([source], tmp_path / "half.npz", fps=15)
    motion = read_motion(halved.written[0])
    assert motion.fps == 15.0 and motion.frame_count == 16
    assert np.abs(motion.positions - positions[::2]).max() < 1e-6

    at_20 = read_motion(convert([source], tmp_path / "at20.npz", fps=20).written[0])  # t = 1.5 k
    assert at_20.frame_count == 21
    assert np.abs(at_20.positions[1] - 0.5 * (positions[1] + positions[2])).max() < 1e-6
    assert np.abs(at_20.positions[2] - positions[3]).max() < 1e-6


# --- folders, failures, nothing partial -----------------------------------------------------------

def test_folder_conversion_with_one_bad_file(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    ntu_file(inputs / "S001C001P001R001A001.skeleton", kinect_take(20))
    write_table(inputs / "walking_1.txt", walking_values(20))
    smplh_file(inputs / "01_01_poses.npz", 20)
    bad = inputs / "S001C001P001R001A002.skeleton"
    lines = ntu_file(bad, kinect_take(10)).read_text().splitlines()
    bad.write_text("\n".join(lines[: len(lines) // 2]) + "\n")  # truncated
    outputs = tmp_path / "out"
    seen: list[Path] = []

    result = convert([inputs], outputs, to="bvh", on_file=seen.append)

    assert sorted(seen) == sorted(p for p in inputs.iterdir())  # progress for every file, bad ones too
    assert sorted(p.name for p in result.written) == ["01_01_poses.bvh", "S001C001P001R001A001.bvh",
                                                      "walking_1.bvh"]
    assert [path for path, _ in result.failed] == [bad]
    assert bad.name in result.failed[0][1] and "line" in result.failed[0][1]
    assert sorted(p.name for p in outputs.iterdir()) == sorted(p.name for p in result.written)
    assert not (outputs / f"{bad.stem}.bvh").exists() and no_part_files(outputs)
    for path in result.written:
        assert_upright(bvh.read(path))


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    """A write that fails half-way (disk full, say) removes its temporary file; the rest convert."""
    inputs = [tmp_path / name for name in ("a_1.txt", "victim_1.txt", "z_1.txt")]
    for path in inputs:
        write_table(path, walking_values(10))
    real = _io.atomic_write

    @contextlib.contextmanager
    def failing_for_victim(path, binary=False):
        with real(path, binary) as stream:
            if Path(path).stem == "victim_1":
                stream.write("HIERARCHY\nROOT Hips\n")
                raise FormatError(path, "disk full (simulated)")
            yield stream

    monkeypatch.setattr(bvh, "atomic_write", failing_for_victim)
    outputs = tmp_path / "out"
    result = convert(inputs, outputs, to="bvh")
    assert sorted(p.name for p in result.written) == ["a_1.bvh", "z_1.bvh"]
    assert [p.name for p, _ in result.failed] == ["victim_1.txt"]
    assert sorted(p.name for p in outputs.iterdir()) == ["a_1.bvh", "z_1.bvh"]


# --- retargeting errors ---------------------------------------------------------------------------



def test_retarget_error_names_the_joint(tmp_path):
    skeleton_path = tmp_path / "talker.toml"
    skeleton_path.write_text(TALKER)
    source = ntu_file(tmp_path / "S001C001P001R001A001.skeleton", kinect_take(5))

    result = convert([source], tmp_path / "talk.npz", skeleton=str(skeleton_path))

    assert not result.written and len(result.failed) == 1
    message = result.failed[0][1]
    assert "'Jaw'" in message and "jaw" in message and "ntu25" in message and "talker" in message
    assert list(tmp_path.glob("talk.*")) == []
    with pytest.raises(SkeletonError, match="'Jaw' \\(jaw\\)"):
        convert_motion(ntu_skeleton.read(source), load_skeleton(str(skeleton_path)))


def test_cli_labels_a_bvh_and_resamples_it_to_the_ntu_array_rate(cmu_walk, tmp_path):
    """`--action` supplies the label NTU arrays need; their fixed 30 fps is applied by itself."""
    from typer.testing import CliRunner

    from motiongen.cli import app

    output = tmp_path / "train_data.npy"
    result = CliRunner().invoke(app, ["convert", str(cmu_walk), "-o", str(output), "--to", "ntu-array",
                                      "--layout", "stgcn", "--skeleton", "ntu25",
                                      "--action", "walking towards each other"])
    assert result.exit_code == 0, result.stderr
    [motion] = read_motions(output, layout="stgcn")
    assert motion.meta["label"] == 58 and motion.meta["action"] == "walking towards each other"
    assert motion.fps == 30.0 and motion.frame_count == 31  # 121 frames at 120 fps → 31 at 30 fps
    assert_upright(motion)
