"""The ``motiongen`` command line (DESIGN §8): exit codes, stdout/stderr, ``-o -``, one-line errors
that name the file (and line), no tracebacks unless MOTIONGEN_DEBUG is set, no partial outputs."""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import typer

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "formats"))  # the dataset-layout builders

from _builders import walking_values, write_table  # noqa: E402
from _ntu_fixtures import two_people  # noqa: E402
from _cli import assert_ok, assert_one_line_error, run  # noqa: E402
from motiongen import __version__  # noqa: E402
from motiongen.cli import app  # noqa: E402
from motiongen.core.motion import Motion  # noqa: E402
from motiongen.formats import bvh, read_motion  # noqa: E402
from motiongen.skeletons import list_skeletons, load_skeleton, skeleton_from_toml_text  # noqa: E402

REGISTRY = ["cmu31", "h36m16", "h36m17", "h36m32", "ntu25", "smpl22", "smpl24", "smplh52"]
REPO = TESTS.parent
CMU_DIR = REPO.parent / "shared" / "data" / "cmu"


# --- builders -------------------------------------------------------------------------------------

def standing_motion(frames: int = 10, fps: float = 30.0) -> Motion:
    """ntu25 in its rest pose, drifting forward (a registry skeleton, so BVH reads need no unit guess)."""
    skeleton = load_skeleton("ntu25")
    rotations = np.zeros((frames, 25, 4))
    rotations[..., 0] = 1.0
    root = skeleton.offsets[0] + np.outer(np.arange(frames) / fps, [0.0, 0.0, 1.0])
    return Motion.from_rotations(rotations, root, skeleton, fps)


def bvh_lines(frames: int = 10) -> list[str]:
    return bvh.format_bvh(standing_motion(frames)).splitlines()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def line_of(lines: list[str], predicate) -> int:
    """1-based number of the first line for which ``predicate`` holds."""
    return next(k for k, line in enumerate(lines, start=1) if predicate(line))


def good_bvh(path: Path, frames: int = 10) -> Path:
    return write_lines(path, bvh_lines(frames))


def ntu_skeleton_file(path: Path) -> Path:
    path.write_text(two_people(frame_count=12, second_frames=range(3, 6)).text)
    return path


STICK = """
name = "stick"
description = "a user skeleton: legs, spine and head"
fps = 30.0
symmetry = [["LHip", "RHip"], ["LKnee", "RKnee"], ["LAnkle", "RAnkle"]]

[[joints]]
name = "Root"
offset = [0.0, 0.95, 0.0]
canonical = "pelvis"

[[joints]]
name = "Chest"
parent = "Root"
offset = [0.0, 0.45, 0.0]
canonical = "neck_base"

[[joints]]
name = "Head"
parent = "Chest"
offset = [0.0, 0.2, 0.0]
canonical = "head"

[[joints]]
name = "LHip"
parent = "Root"
offset = [0.1, -0.05, 0.0]
canonical = "left_hip"

[[joints]]
name = "LKnee"
parent = "LHip"
offset = [0.0, -0.42, 0.0]
canonical = "left_knee"

[[joints]]
name = "LAnkle"
parent = "LKnee"
offset = [0.0, -0.42, 0.0]
canonical = "left_ankle"

[[joints]]
name = "RHip"
parent = "Root"
offset = [-0.1, -0.05, 0.0]
canonical = "right_hip"

[[joints]]
name = "RKnee"
parent = "RHip"
offset = [0.0, -0.42, 0.0]
canonical = "right_knee"

[[joints]]
name = "RAnkle"
parent = "RKnee"
offset = [0.0, -0.42, 0.0]
canonical = "right_ankle"
"""


# --- help, version ----------------------------------------------------------------------------------

def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under ``command`` (a Click group: anything with ``commands``)."""
    paths = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, path + (name,))
    return paths


COMMAND_PATHS = _command_paths(typer.main.get_command(app))


def test_the_app_has_the_commands_we_know():
    assert {("convert",), ("info",), ("skeletons",), ("skeletons", "list"), ("skeletons", "show"), ("train",),
            ("sample",), ("render",), ("export-mesh",)} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=[" ".join(p) or "(root)" for p in COMMAND_PATHS])
def test_help_of_every_command(path):
    result = run(*path, "--help")
    assert_ok(result)
    assert "Usage" in result.stdout and result.stderr == ""


def test_version():
    result = run("--version")
    assert_ok(result)
    assert result.stdout.strip() == f"motiongen {__version__}"


def test_python_dash_m_help_in_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "motiongen", "--help"], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "convert" in done.stdout and "skeletons" in done.stdout


def test_console_script_version():
    script = shutil.which("motiongen") or str(Path(sys.executable).with_name("motiongen"))
    if not Path(script).is_file():
        pytest.skip("the motiongen console script is not installed (pip install -e .)")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"motiongen {__version__}"


# --- skeletons ----------------------------------------------------------------------------------------

def test_skeletons_list_table_and_json():
    table = run("skeletons", "list")
    assert_ok(table)
    for name in REGISTRY:
        assert name in table.stdout
    as_json = run("skeletons", "list", "--json")
    assert_ok(as_json)
    rows = json.loads(as_json.stdout)
    assert set(REGISTRY) <= {row["name"] for row in rows}
    assert {row["name"]: row["joints"] for row in rows}["ntu25"] == 25


def test_skeletons_show_table_json_and_toml():
    table = run("skeletons", "show", "ntu25")
    assert_ok(table)
    assert "SpineBase" in table.stdout and "HandTipRight" in table.stdout

    as_json = run("skeletons", "show", "ntu25", "--json")
    assert_ok(as_json)
    info = json.loads(as_json.stdout)
    assert info["name"] == "ntu25" and len(info["joints"]) == 25
    assert info["joints"][0]["canonical"] == "pelvis" and info["joints"][0]["parent"] is None

    as_toml = run("skeletons", "show", "ntu25", "--toml")
    assert_ok(as_toml)
    again, original = skeleton_from_toml_text(as_toml.stdout, "<stdout>"), load_skeleton("ntu25")
    assert again.same_layout(original) and again.name == "ntu25"
    assert np.allclose(again.offsets, original.offsets)
    assert again.canonical == original.canonical and again.symmetry == original.symmetry
    assert again.derived == original.derived
    assert np.array_equal(again.dataset_index, original.dataset_index)
    assert (again.up, again.forward, again.fps) == (original.up, original.forward, original.fps)


def test_skeletons_show_unknown_name():
    assert_one_line_error(run("skeletons", "show", "nosuch"), "unknown skeleton 'nosuch'")
    assert_one_line_error(run("skeletons", "show", "ntu52"), "'ntu52'", "did you mean ntu25")


def test_user_skeleton_on_the_search_path(tmp_path):
    (tmp_path / "stick.toml").write_text(STICK)
    env = {"MOTIONGEN_SKELETON_PATH": str(tmp_path)}
    listed = run("skeletons", "list", "--json", env=env)
    assert_ok(listed)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(REGISTRY) | {"stick"} <= set(rows) and rows["stick"]["joints"] == 9
    assert "stick" in run("skeletons", "list", env=env).stdout
    shown = run("skeletons", "show", "stick", "--json", env=env)
    assert_ok(shown)
    assert len(json.loads(shown.stdout)["joints"]) == 9
    assert "stick" not in list_skeletons()  # the environment was the runner's only


def test_convert_to_a_user_skeleton_file(tmp_path):
    skeleton = tmp_path / "stick.toml"
    skeleton.write_text(STICK)
    source = ntu_skeleton_file(tmp_path / "S001C001P001R001A001.skeleton")
    output = tmp_path / "stick.npz"
    result = run("convert", source, "--skeleton", skeleton, "-o", output)
    assert_ok(result)
    motion = read_motion(output)
    assert motion.skeleton.name == "stick" and motion.joint_count == 9 and motion.frame_count == 12
    y = motion.positions[..., 1]
    assert np.all(y[:, 2] > y[:, 0]) and np.all(y[:, 0] > y[:, 5])  # head above root above ankle


BROKEN = {
    "syntax": (STICK.replace('offset = [0.0, 0.45, 0.0]', 'offset = [0.0, 0.45, 0.0'), "line"),
    "parent": (STICK.replace('parent = "LHip"', 'parent = "Lhip"'), "parent 'Lhip' must be defined before it"),
    "canonical": (STICK.replace('canonical = "head"', 'canonical = "haed"'), "did you mean head"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_skeleton_toml(tmp_path, case):
    text, fragment = BROKEN[case]
    path = tmp_path / "broken.toml"
    path.write_text(text)
    lines = text.splitlines()
    shown = assert_one_line_error(run("skeletons", "show", path), str(path), fragment)
    line = int(shown.split(" line ")[1].split(":")[0])
    if case == "parent":
        assert lines[line - 1] == 'name = "LKnee"'
    if case == "canonical":
        assert lines[line - 1] == 'name = "Head"'
    source = good_bvh(tmp_path / "walk.bvh")
    output = tmp_path / "out.npz"
    assert_one_line_error(run("convert", source, "--skeleton", path, "-o", output), str(path), f"line {line}")
    assert not output.exists()
    # On the search path, a broken file is named too.
    listed = run("skeletons", "list", env={"MOTIONGEN_SKELETON_PATH": str(tmp_path)})
    assert_one_line_error(listed, "broken.toml", f"line {line}")


# --- info -----------------------------------------------------------------------------------------

def test_info_on_a_real_cmu_file():
    path = CMU_DIR / "walking" / "02_01.bvh"
    if not path.is_file():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    with (CMU_DIR / "manifest.csv").open(newline="") as stream:
        frames = int(next(row["frames"] for row in csv.DictReader(stream) if row["file"] == "walking/02_01.bvh"))
    table = run("info", path)
    assert_ok(table)
    assert "cmu31" in table.stdout and str(frames) in table.stdout and "120" in table.stdout
    as_json = run("info", path, "--json")
    assert_ok(as_json)
    info = json.loads(as_json.stdout)
    assert info["skeleton"] == "cmu31" and info["joints"] == 31 and info["format"] == "bvh"
    assert info["frames"] == frames and info["fps"] == 120.0
    assert info["duration_s"] == pytest.approx(frames / 120.0)
    assert info["has_rotations"] and info["missing_values"] == 0 and info["missing_by_joint"] == {}


def test_info_counts_missing_joints(tmp_path):
    skeleton = load_skeleton("ntu25")
    positions = np.broadcast_to(skeleton.rest_positions(), (12, 25, 3)).astype(np.float32).copy()
    positions[2:5, skeleton.index("HandLeft")] = np.nan
    positions[7, skeleton.index("FootRight")] = np.nan
    path = tmp_path / "occluded.npy"
    np.save(path, positions)

    as_json = run("info", path, "--json")
    assert_ok(as_json)
    info = json.loads(as_json.stdout)
    assert info["skeleton"] == "ntu25" and info["frames"] == 12 and info["fps"] == 30.0
    assert info["duration_s"] == pytest.approx(0.4) and not info["has_rotations"]
    assert info["missing_values"] == 4 and info["missing_by_joint"] == {"HandLeft": 3, "FootRight": 1}

    table = run("info", path)
    assert_ok(table)
    assert "12" in table.stdout and "HandLeft 3" in table.stdout and "FootRight 1" in table.stdout
    assert "4 joint-frames" in table.stdout


# --- convert ---------------------------------------------------------------------------------------

def test_convert_file_to_file(tmp_path):
    source = ntu_skeleton_file(tmp_path / "S001C001P001R001A001.skeleton")
    output = tmp_path / "take.bvh"
    result = run("convert", source, "-o", output)
    assert_ok(result)
    assert result.stdout.strip() == str(output) and result.stderr == ""
    motion = bvh.read(output)
    assert motion.skeleton.name == "ntu25" and motion.frame_count == 12 and motion.fps == 30.0


def test_convert_several_files_into_a_folder(tmp_path):
    sources = [good_bvh(tmp_path / "a.bvh"), ntu_skeleton_file(tmp_path / "S001C001P001R001A001.skeleton")]
    write_table(tmp_path / "walking_1.txt", walking_values(10))
    sources.append(tmp_path / "walking_1.txt")
    folder = tmp_path / "out"
    result = run("convert", *sources, "--to", "bvh", "-o", folder)
    assert_ok(result)
    expected = sorted(folder / f"{p.stem}.bvh" for p in sources)
    assert sorted(Path(line) for line in result.stdout.splitlines()) == expected
    assert sorted(folder.iterdir()) == expected
    assert "converted 3 of 3 files" in result.stderr


def test_convert_several_files_with_a_bad_one(tmp_path):
    good = good_bvh(tmp_path / "good.bvh")
    bad = write_lines(tmp_path / "bad.bvh", bvh_lines()[:-4])
    folder = tmp_path / "out"
    result = run("convert", good, bad, "--to", "bvh", "-o", folder, "--quiet")
    assert result.exit_code == 2
    assert result.stdout.strip() == str(folder / "good.bvh")
    assert result.stderr.startswith("error: ") and "bad.bvh" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["good.bvh"]


def test_convert_to_stdout(tmp_path):
    source = good_bvh(tmp_path / "walk.bvh", frames=7)
    result = run("convert", source, "--to", "bvh", "-o", "-")
    assert_ok(result)
    assert result.stderr == ""
    assert result.stdout.startswith("HIERARCHY\n")
    motion = bvh.parse(result.stdout_bytes, "<stdout>")
    assert motion.skeleton.name == "ntu25" and motion.frame_count == 7
    assert np.abs(motion.positions - bvh.read(source).positions).max() < 1e-6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.bvh"]


def test_several_files_cannot_go_to_stdout(tmp_path):
    sources = [good_bvh(tmp_path / "a.bvh"), good_bvh(tmp_path / "b.bvh")]
    result = run("convert", *sources, "--to", "bvh", "-o", "-")
    assert_one_line_error(result, "-o -")
    assert result.stdout == "" and not (tmp_path / "-").exists()


# --- malformed input: one line, exit 2, file and line named, nothing written -------------------------

def _bvh_case(name: str, tmp_path: Path):
    """(path of a malformed file, fragments the message must hold)."""
    lines = bvh_lines()
    motion_at = lines.index("MOTION")  # 0-based
    frames_line, first_data = motion_at + 2, motion_at + 4  # 1-based
    path = tmp_path / f"{name}.bvh"
    if name == "truncated":
        write_lines(path, lines[: first_data + 3])  # 4 of 10 frames
        return path, [f"line {first_data + 4}", "10 frames", "truncated"]
    if name == "truncated-hierarchy":
        write_lines(path, lines[:20])
        return path, ["line 20", "no MOTION"]
    if name == "value-count":
        lines[first_data + 4] = " ".join(lines[first_data + 4].split()[:-1])
        write_lines(path, lines)
        return path, [f"line {first_data + 5}", "expected 78 values, got 77"]
    if name == "channel-name":
        at = line_of(lines, lambda s: s.strip().startswith("CHANNELS 3"))
        lines[at - 1] = lines[at - 1].replace("Xrotation", "Xrotatoin")
        write_lines(path, lines)
        return path, [f"line {at}", "'Xrotatoin'"]
    if name == "nan-offset":
        at = line_of(lines, lambda s: s.strip() == "OFFSET 0.00000000 0.26000000 -0.01000000")
        lines[at - 1] = "\t\tOFFSET nan 0.26 -0.01"
        write_lines(path, lines)
        return path, [f"line {at}", "non-finite"]
    if name == "zero-frames":
        write_lines(path, lines[: motion_at + 1] + ["Frames: 0", "Frame Time: 0.0333333"])
        return path, [f"line {frames_line}", "no frames"]
    if name == "huge-frames":
        lines[frames_line - 1] = "Frames: 10000000000"
        write_lines(path, lines)
        return path, [f"line {frames_line}", "10000000000"]
    raise KeyError(name)


BVH_CASES = ["truncated", "truncated-hierarchy", "value-count", "channel-name", "nan-offset", "zero-frames",
             "huge-frames"]


@pytest.mark.parametrize("case", BVH_CASES)
def test_malformed_bvh(tmp_path, case):
    path, fragments = _bvh_case(case, tmp_path)
    output = tmp_path / "out.npz"
    tracemalloc.start()  # numpy reports its buffers to tracemalloc too
    started = time.perf_counter()
    try:
        result = run("convert", path, "-o", output)
    finally:
        elapsed_s = time.perf_counter() - started
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert_one_line_error(result, f"{path}", *fragments)
    assert not output.exists() and not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".out*"))
    if case == "huge-frames":
        # Refused from the header alone: no time spent, nothing allocated for 10^10 frames.
        assert elapsed_s < 5.0, f"a huge Frames header took {elapsed_s:.1f} s"
        assert peak_bytes < 20e6, f"a huge Frames header allocated {peak_bytes / 1e6:.0f} MB"
    # info says the same.
    assert_one_line_error(run("info", path), f"{path}", *fragments)


def test_malformed_ntu_skeleton_names_the_line(tmp_path):
    lines = two_people(frame_count=4, second_frames=range(1, 2)).text.splitlines()
    # Line 5 is the first joint line of frame 1 (frame count, body count, body line, joint count).
    tokens = lines[4].split()
    tokens[1] = "0.3x1"
    lines[4] = " ".join(tokens)
    path = write_lines(tmp_path / "S001C001P001R001A001.skeleton", lines)
    output = tmp_path / "out.bvh"
    assert_one_line_error(run("convert", path, "-o", output), str(path), "line 5", "'0.3x1'")
    assert not output.exists() and not list(tmp_path.glob("*.part"))


def test_npy_of_wrong_shape(tmp_path):
    path = tmp_path / "wrong.npy"
    np.save(path, np.zeros((10, 25, 4), dtype=np.float32))
    output = tmp_path / "out.bvh"
    assert_one_line_error(run("convert", path, "-o", output), str(path), "[10, 25, 4]")
    assert not output.exists()


def test_object_array_npy_is_never_unpickled(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"positions": 1}, None], dtype=object), allow_pickle=True)
    output = tmp_path / "out.npz"
    assert_one_line_error(run("convert", path, "-o", output), str(path), "pickle")
    assert not output.exists()


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_label_pickle_importing_os_system_is_refused(tmp_path):
    data = tmp_path / "train_data.npy"
    array = np.zeros((1, 3, 20, 25, 2), dtype=np.float32)
    array[0, 1, :, :, 0] = 1.0  # an observed (non-zero) body
    np.save(data, array)
    marker = tmp_path / "pwned"
    (tmp_path / "train_label.pkl").write_bytes(pickle.dumps((["S001C001P001R001A001.skeleton"], [_Exploit(marker)])))
    output = tmp_path / "out.npz"
    result = run("convert", data, "--layout", "stgcn", "-o", output)
    assert_one_line_error(result, "train_label.pkl", "system", "refusing")
    assert not marker.exists() and not output.exists()


def test_unknown_output_suffix(tmp_path):
    source = good_bvh(tmp_path / "walk.bvh")
    assert_one_line_error(run("convert", source, "-o", tmp_path / "walk.xyz"), "walk.xyz", "--to")
    assert not (tmp_path / "walk.xyz").exists()


def test_unknown_output_format(tmp_path):
    source = good_bvh(tmp_path / "walk.bvh")
    assert_one_line_error(run("convert", source, "--to", "fbx", "-o", tmp_path / "walk.fbx"), "'fbx'", "bvh")
    assert not (tmp_path / "walk.fbx").exists()


@pytest.mark.parametrize("fps", ["0", "-5"])
def test_impossible_fps(tmp_path, fps):
    source = good_bvh(tmp_path / "walk.bvh")
    output = tmp_path / "walk_out.bvh"
    assert_one_line_error(run("convert", source, "--fps", fps, "-o", output), "--fps", fps)
    assert not output.exists()


def test_missing_input_file(tmp_path):
    assert_one_line_error(run("convert", tmp_path / "nope.bvh", "-o", tmp_path / "out.npz"), "nope.bvh")


@pytest.mark.parametrize("command", ["convert", "info"])
def test_debug_variable_shows_the_traceback(tmp_path, command):
    path, _ = _bvh_case("value-count", tmp_path)
    output = tmp_path / "out.npz"
    argv = [sys.executable, "-m", "motiongen", command, str(path)]
    argv += ["-o", str(output)] if command == "convert" else []
    plain_env = {k: v for k, v in os.environ.items() if k != "MOTIONGEN_DEBUG"}
    quiet = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, env=plain_env)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    debug = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO,
                           env={**plain_env, "MOTIONGEN_DEBUG": "1"})
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "FormatError" in debug.stderr and "_parse_motion" in debug.stderr
    assert not output.exists()
