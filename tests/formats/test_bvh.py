"""BVH: every real CMU file parses, round trips, agrees with bvhio; malformed files fail cleanly."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.errors import ConfigError, FormatError
from motiongen.formats import bvh

from _data import cmu_files, cmu_manifest, needs_cmu

CMU_SCALE = 0.056444


# --- real files -------------------------------------------------------------------------------

@needs_cmu
@pytest.mark.parametrize("row", cmu_manifest(), ids=lambda r: r["file"])
def test_every_cmu_file_parses(row, cmu_dir):
    motion = bvh.read(cmu_dir / row["file"])
    assert motion.skeleton.name == "cmu31" and motion.joint_count == int(row["joints"]) == 31
    assert motion.frame_count == int(row["frames"])
    assert motion.fps == float(row["fps"]) == 120.0  # Frame Time 0.0083333 is 120 fps printed to 7 decimals
    assert motion.meta["metres_per_unit"] == CMU_SCALE
    assert 1.2 < motion.skeleton.height_m() < 2.0  # metres, not CMU units
    assert np.isfinite(motion.positions).all()


@needs_cmu
@pytest.mark.parametrize("path", cmu_files(), ids=lambda p: p.name)
def test_read_write_read_reproduces_positions(path, tmp_path):
    motion = bvh.read(path)
    out = tmp_path / "copy.bvh"
    bvh.write(motion, out)
    again = bvh.read(out)
    assert again.skeleton.name == "cmu31" and again.meta["metres_per_unit"] == 1.0
    assert again.frame_count == motion.frame_count and again.fps == pytest.approx(motion.fps, rel=1e-9)
    assert np.abs(again.positions - motion.positions).max() < 1e-6


def _trimmed_copy(path, out, frames: np.ndarray) -> None:
    """The file with only some of its frames (bvhio parses whole clips slowly: ~5 min for all)."""
    text = path.read_bytes().decode("latin-1")
    head, _, rest = text.partition("MOTION")
    lines = rest.splitlines()
    body = [line for line in lines[3:] if line.strip()]
    chosen = [body[f] for f in frames]
    out.write_text(head + "MOTION\nFrames: %d\nFrame Time: %s\n" % (len(chosen), lines[2].split(":")[1].strip())
                   + "\n".join(chosen) + "\n", encoding="latin-1")


@needs_cmu
@pytest.mark.parametrize("path", cmu_files(), ids=lambda p: p.name)
def test_positions_agree_with_bvhio(path, tmp_path):
    """motiongen's FK against bvhio (independent) on 24 frames spread over every file, 1e-4 m."""
    bvhio = pytest.importorskip("bvhio")
    motion = bvh.read(path)
    frames = np.unique(np.linspace(0, motion.frame_count - 1, 24).round().astype(int))
    trimmed = tmp_path / path.name
    _trimmed_copy(path, trimmed, frames)
    root = bvhio.readAsHierarchy(str(trimmed))
    layout = root.layout()
    order = [motion.skeleton.index(joint.Name) for joint, _, _ in layout]
    for k, frame in enumerate(frames):
        root.loadPose(k)
        theirs = np.array([[j.PositionWorld.x, j.PositionWorld.y, j.PositionWorld.z] for j, _, _ in layout])
        assert np.abs(theirs * CMU_SCALE - motion.positions[frame, order]).max() < 1e-4


# --- synthetic files: channel orders, 3/6 channels, End Sites, line endings ----------------------

MIXED = """HIERARCHY
ROOT Hips
{
  OFFSET 1.0 2.0 3.0
  CHANNELS 6 Zposition Xposition Yposition Xrotation Zrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    JOINT Head
    {
      OFFSET 0 8 1
      CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
      End Site
      {
        OFFSET 0 5 0
      }
    }
  }
  JOINT LeftLeg
  {
    OFFSET 4 -2 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
3 1 90 10 20 30 5 -5 45 0 8 1 -30 60 -10 90 0 0
3.5 1.2 91 -170 80 10 0 0 0 0 8 1 0 0 0 -45 45 89
4 1.5 92 0 0 0 179 -89 30 0 8 1 15 15 15 0 0 0
"""


def _reference_positions(text: str, scale: float) -> dict[str, np.ndarray]:
    """Positions by bvhio, the independent implementation."""
    bvhio = pytest.importorskip("bvhio")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.bvh"
        path.write_text(text)
        root = bvhio.readAsHierarchy(str(path))
        result = {}
        frames = int(re.search(r"Frames:\s*(\d+)", text).group(1))
        for frame in range(frames):
            root.loadPose(frame)
            for joint, _, _ in root.layout():
                p = joint.PositionWorld
                result.setdefault(joint.Name, []).append([p.x * scale, p.y * scale, p.z * scale])
    return {k: np.asarray(v) for k, v in result.items()}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_any_channel_order_and_six_channel_joints(newline, tmp_path):
    path = tmp_path / "mixed.bvh"
    path.write_bytes(MIXED.replace("\n", newline).encode())
    motion = bvh.read(path, metres_per_unit=0.01)
    assert motion.skeleton.joint_names == ("Hips", "Chest", "Head", "LeftLeg")
    assert motion.fps == pytest.approx(25.0)
    reference = _reference_positions(MIXED, 0.01)
    for j, name in enumerate(motion.skeleton.joint_names):
        assert np.abs(motion.positions[:, j] - reference[name]).max() < 1e-6, name
    assert np.allclose(motion.skeleton.end_sites[2], [0, 0.05, 0])
    assert np.allclose(motion.root_translation[0], [0.01, 0.9, 0.03])  # channels replace the OFFSET


def test_writer_profile_is_blender_safe(tmp_path):
    path = tmp_path / "mixed.bvh"
    path.write_text(MIXED)
    motion = bvh.read(path, metres_per_unit=0.01)
    out = tmp_path / "out.bvh"
    bvh.write(motion, out)
    text = out.read_text()
    assert "\r" not in text
    assert re.search(r"ROOT Hips\n\{\n\tOFFSET 0\.0+ 0\.0+ 0\.0+\n\tCHANNELS 6 Xposition Yposition Zposition "
                     r"Zrotation Yrotation Xrotation\n", text)
    assert text.count("CHANNELS 3 Zrotation Yrotation Xrotation") == 3
    for block in re.findall(r"End Site\s*\{\s*OFFSET ([^\n]+)", text):
        assert np.linalg.norm([float(v) for v in block.split()]) > 1e-3
    assert text.count("End Site") == 2
    assert re.search(r"Frame Time: 0\.0400000000\n", text)
    first_row = text.split("Frame Time: 0.0400000000\n")[1].splitlines()[0].split()
    assert len(first_row) == 6 + 3 * 3 and all(len(v.split(".")[1]) >= 6 for v in first_row)
    again = bvh.read(out, metres_per_unit=1.0)
    assert np.abs(again.positions - motion.positions).max() < 1e-6


def test_writer_order_option_and_stdout(capsys):
    local = R.axis_angle_to_quat(np.random.default_rng(0).normal(size=(4, 3, 3)))
    from motiongen.core.skeleton import Skeleton

    skeleton = Skeleton("tiny", ("a", "b", "c"), np.array([-1, 0, 0]),
                        np.array([[0, 1, 0], [0, 0.3, 0], [0.2, 0, 0]]))
    motion = Motion.from_rotations(local, np.zeros((4, 3)), skeleton, 30.0)
    for order in R.EULER_ORDERS:
        text = bvh.format_bvh(motion, order)
        again = bvh.parse(text.encode(), "x.bvh", metres_per_unit=1.0)
        assert np.abs(again.positions - motion.positions).max() < 1e-6
    bvh.write(motion, "-")
    assert capsys.readouterr().out.startswith("HIERARCHY\nROOT a\n")


def test_writer_puts_joints_depth_first_and_reader_restores_registry_order(tmp_path):
    """smpl22's joint order is not depth first; a BVH of it must still read back as smpl22."""
    from motiongen.skeletons import load_skeleton

    skeleton = load_skeleton("smpl22")
    local = R.axis_angle_to_quat(np.random.default_rng(1).normal(scale=0.4, size=(5, 22, 3)))
    motion = Motion.from_rotations(local, np.random.default_rng(2).normal(size=(5, 3)), skeleton, 30.0)
    out = tmp_path / "smpl.bvh"
    bvh.write(motion, out)
    again = bvh.read(out)
    assert again.skeleton.name == "smpl22" and again.skeleton.joint_names == skeleton.joint_names
    assert np.abs(again.positions - motion.positions).max() < 1e-6


def test_writer_refuses_motion_without_rotations_and_writes_nothing(tmp_path):
    from motiongen.skeletons import load_skeleton

    skeleton = load_skeleton("ntu25")
    motion = Motion(positions=np.tile(skeleton.rest_positions(), (3, 1, 1)), skeleton=skeleton, fps=30)
    out = tmp_path / "x.bvh"
    with pytest.raises(ConfigError):
        bvh.write(motion, out)
    assert list(tmp_path.iterdir()) == []


def test_unknown_skeleton_units_are_guessed_from_height(tmp_path):
    path = tmp_path / "cm.bvh"
    path.write_text(MIXED.replace("OFFSET 0 -40 0", "OFFSET 0 -150 0"))
    with pytest.warns(UserWarning, match="no units"):
        motion = bvh.read(path)
    assert motion.meta["metres_per_unit"] == 0.01
    assert motion.skeleton.canonical[0] == "pelvis" and motion.skeleton.canonical[3] == "left_knee"


# --- malformed files --------------------------------------------------------------------------

def _cmu_like(frames: int = 3) -> str:
    rows = "\n".join(" ".join(["0.5"] * 18) for _ in range(frames))
    return MIXED.split("MOTION")[0] + f"MOTION\nFrames: {frames}\nFrame Time: 0.04\n{rows}\n"


CASES = {
    "truncated": (lambda t: t[: t.rindex("0.5") - 40], r"line 3[3-5].*truncated"),
    "wrong_count": (lambda t: t.replace(" 0.5\n", "\n", 1), r"line 33: expected 18 values, got 17"),
    "bad_channel": (lambda t: t.replace("Yrotation Xrotation Zrotation", "Yrotation Xrot Zrotation"),
                    r"line 9: bad channel name 'Xrot'"),
    "nan_offset": (lambda t: t.replace("OFFSET 0 10 0", "OFFSET 0 nan 0"), r"line 8: OFFSET has a non-finite"),
    "zero_frames": (lambda t: t.replace("Frames: 3", "Frames: 0"), r"line 31: the file has no frames"),
    "huge_count": (lambda t: t.replace("Frames: 3", "Frames: 10000000000"), r"line 31: frame count"),
    "million_count": (lambda t: t.replace("Frames: 3", "Frames: 1000000"), r"header says 1000000 frames"),
    "text_value": (lambda t: t.replace("0.5 0.5\n", "0.5 abc\n", 1), r"line 33: 'abc' is not a number"),
    "nan_value": (lambda t: t.replace("0.5 0.5\n", "0.5 nan\n", 1), r"line 33: non-finite"),
    "no_motion": (lambda t: t.split("MOTION")[0], r"no MOTION"),
    "unbalanced": (lambda t: t.replace("  }\n}\nMOTION", "  }\nMOTION"), r"unclosed"),
    "count_mismatch": (lambda t: t.replace("CHANNELS 3 Xrotation Yrotation Zrotation", "CHANNELS 4 Xrotation Yrotation Zrotation"),
                       r"line 2[0-9]: CHANNELS says 4"),
    "extra_frame": (lambda t: t + " ".join(["1"] * 18) + "\n", r"line 36: header says 3 frames, found 4"),
    "bad_frame_time": (lambda t: t.replace("Frame Time: 0.04", "Frame Time: -1"), r"line 32: bad frame time"),
    "empty": (lambda t: "", r"no MOTION"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_files_raise_format_error_with_file_and_line(case, tmp_path):
    mutate, pattern = CASES[case]
    path = tmp_path / f"{case}.bvh"
    path.write_text(mutate(_cmu_like()))
    started = time.perf_counter()
    with pytest.raises(FormatError) as info:
        bvh.read(path, metres_per_unit=0.01)
    assert time.perf_counter() - started < 2.0  # no allocation for absurd headers
    message = str(info.value)
    assert message.startswith(str(path)) and re.search(pattern, message), message


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_files_give_a_motion_or_a_format_error(data):
    text = _cmu_like(4)
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["drop", "dup", "swap_token", "truncate", "garbage"]))
        index = data.draw(st.integers(0, len(lines) - 1))
        if kind == "drop" and len(lines) > 1:
            del lines[index]
        elif kind == "dup":
            lines.insert(index, lines[index])
        elif kind == "swap_token":
            tokens = lines[index].split() or [""]
            k = data.draw(st.integers(0, len(tokens) - 1))
            tokens[k] = data.draw(st.sampled_from(["{", "}", "nan", "-", "1e999", "JOINT", "End", "x", "", "7"]))
            lines[index] = " ".join(tokens)
        elif kind == "truncate":
            lines = "\n".join(lines)[: data.draw(st.integers(0, len(text)))].split("\n")
        else:
            lines[index] = data.draw(st.text(max_size=30))
    raw = "\n".join(lines).encode("utf-8", "replace")
    try:
        motion = bvh.parse(raw, "fuzz.bvh", metres_per_unit=0.01)
    except FormatError:
        return
    assert isinstance(motion, Motion) and np.isfinite(motion.positions).all()


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    path = tmp_path / "mixed.bvh"
    path.write_text(MIXED)
    out = tmp_path / "out.bvh"
    bvh.write(bvh.read(path, metres_per_unit=0.01), out)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
