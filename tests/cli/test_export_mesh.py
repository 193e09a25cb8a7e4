"""``motiongen export-mesh FILE -o out.glb|ply|obj``: files that reload in trimesh with the right
extent, frame choice and spacing, and one-line errors (exit 2) that leave no output behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")

import _cli  # noqa: E402
from _cli import assert_ok, assert_one_line_error  # noqa: E402
from motiongen.formats import read_motion  # noqa: E402
from motiongen.render.style import LEFT, RIGHT, SIDE_RGB  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WALK = REPO / "examples" / "data" / "cmu_02_01_walk.bvh"
WALK_FRAMES = 344
JOINT_SCALE = 1.4  # joint spheres are 1.4× the bone radius
RADIUS_FRACTION = 0.015  # default bone radius: 1.5 % of the rest height

def run(*args):
    return _cli.run("export-mesh", *args)


@pytest.fixture(scope="module")
def walk():
    return read_motion(WALK)


def widened(joints: np.ndarray, radius: float) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, 3)
    return np.array([joints.min(0) - radius, joints.max(0) + radius])


def rgb255(rgb) -> np.ndarray:
    return np.round(255 * np.asarray(rgb)).astype(np.uint8)


# --- files that work ------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".glb", ".ply", ".obj"])
def test_mesh_file_reloads_with_the_skeleton_extent(walk, tmp_path, suffix):
    out = tmp_path / f"walk{suffix}"
    result = run(WALK, "-o", out)
    assert_ok(result)
    assert result.stdout.strip() == str(out)
    back = trimesh.load(out, force="mesh")
    joint_radius = JOINT_SCALE * RADIUS_FRACTION * walk.skeleton.height_m()
    np.testing.assert_allclose(back.bounds, widened(walk.positions[0], joint_radius), atol=1e-4)
    colours = np.unique(np.asarray(back.visual.vertex_colors)[:, :3], axis=0)
    for side in (LEFT, RIGHT):
        assert (colours == rgb255(SIDE_RGB[side])).all(1).any(), f"no {SIDE_RGB[side]} vertices"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_frame_and_radius(walk, tmp_path):
    out = tmp_path / "frame.ply"
    assert_ok(run(WALK, "-o", out, "--frame", 200, "--radius", 0.01))
    back = trimesh.load(out, force="mesh")
    np.testing.assert_allclose(back.bounds, widened(walk.positions[200], JOINT_SCALE * 0.01), atol=1e-4)


def test_every_with_spacing_shifts_frames_one_metre_per_step(walk, tmp_path):
    out = tmp_path / "trail.ply"
    assert_ok(run(WALK, "-o", out, "--every", 30, "--spacing", 1, "--radius", 0.02))
    frames = np.arange(0, WALK_FRAMES, 30)
    assert len(frames) == 12
    trail = walk.positions[frames].astype(np.float64)
    trail[..., 0] += np.arange(len(frames))[:, None]
    back = trimesh.load(out, force="mesh", process=False)
    np.testing.assert_allclose(back.bounds, widened(trail, JOINT_SCALE * 0.02), atol=1e-4)
    # every frame's own sphere tops are there, each frame 1 m further along +X than the one before
    vertices = np.asarray(back.vertices)
    for k in (0, 5, 11):
        tops = trail[k] + [0.0, JOINT_SCALE * 0.02, 0.0]
        distance = np.linalg.norm(vertices[None] - tops[:, None], axis=-1).min(1)
        assert distance.max() < 1e-5, f"frame {frames[k]}: a joint sphere is not where it should be"


# --- errors ---------------------------------------------------------------------------------------

def broken_bvh(tmp_path: Path) -> Path:
    lines = WALK.read_text().splitlines()
    motion_at = lines.index("MOTION")
    lines[motion_at + 4] = " ".join(lines[motion_at + 4].split()[:-3])  # the second frame loses 3 values
    path = tmp_path / "broken.bvh"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name, args, fragments", [
    ("suffix", ["-o", "{out}.stl"], ["'.stl'", ".glb", ".ply", ".obj"]),
    ("no suffix", ["-o", "{out}"], [".glb", ".ply", ".obj"]),
    ("frame range", ["-o", "{out}.glb", "--frame", "344"], [f"has {WALK_FRAMES} frames; --frame 344 is out of range"]),
    ("negative frame", ["-o", "{out}.glb", "--frame", "-1"], ["--frame -1 is out of range"]),
    ("frame and every", ["-o", "{out}.glb", "--frame", "3", "--every", "2"], ["--frame", "--every"]),
    ("every zero", ["-o", "{out}.glb", "--every", "0"], ["--every must be at least 1"]),
    ("radius", ["-o", "{out}.glb", "--radius", "0"], ["--radius"]),
    ("output folder", ["-o", "{out}/missing/walk.glb"], ["does not exist"]),
])
def test_bad_options_exit_2_with_one_line_and_no_file(tmp_path, name, args, fragments):
    out = str(tmp_path / "mesh")
    result = run(WALK, *[a.format(out=out) for a in args])
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_missing_input_file(tmp_path):
    result = run(tmp_path / "nowhere.bvh", "-o", tmp_path / "mesh.glb")
    assert_one_line_error(result, "nowhere.bvh")
    assert list(tmp_path.iterdir()) == []


def test_malformed_bvh_names_the_file_and_line(tmp_path):
    source = broken_bvh(tmp_path)
    result = run(source, "-o", tmp_path / "mesh.glb")
    assert_one_line_error(result, "broken.bvh", "line")
    assert [p.name for p in tmp_path.iterdir()] == [source.name]


def test_importing_the_command_does_not_import_trimesh():
    code = "import sys, motiongen.cli.export_mesh; sys.exit('trimesh' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
