"""The examples/ tour runs top to bottom (small sizes, a few training steps), so it never rots:
every step's files exist and hold what the step promises; with Blender available, the piped
sample arrives in a .blend with the right frame range."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TOUR = REPO / "examples" / "tour.sh"


def _bpy_python() -> str:
    """The bpy venv's Python when it exists or can be built, else '' (the tour then skips Blender)."""
    spec = importlib.util.spec_from_file_location("_motiongen_bpy_env", REPO / "tests" / "_bpy_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return str(module.ensure_bpy_python(log=lambda message: None))
    except module.BpyUnavailable:
        return ""


@pytest.mark.skipif(shutil.which("bash") is None, reason="the tour is a bash script")
def test_the_tour_runs_top_to_bottom(tmp_path):
    out = tmp_path / "tour"
    scripts = Path(sys.executable).parent  # where pip put the motiongen command
    blender = _bpy_python()
    env = {**os.environ, "TOUR_OUT": str(out), "TOUR_STEPS": "2", "TOUR_SIZE": "64", "PYTHON": sys.executable,
           "TOUR_BLENDER": blender, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", str(TOUR)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"the tour failed:\n{done.stderr[-4000:]}"

    from motiongen.formats import read_motion

    converted = read_motion(out / "walk_smpl22.bvh")
    assert converted.skeleton.name == "smpl22" and converted.fps == 30
    with Image.open(out / "walk.gif") as gif:
        assert gif.size == (3 * 64, 64) and gif.n_frames > 1  # three panels side by side
    with Image.open(out / "walk_sheet.png") as sheet:
        assert sheet.size == (6 * 64, 64)
    import trimesh

    strip = trimesh.load(out / "walk_strip.glb", force="mesh")
    assert strip.extents[0] > 0.6 * (converted.frame_count // 15)  # poses 0.6 m apart along X
    assert (out / "run" / "samples" / "step-0000002.png").is_file()
    samples = [read_motion(out / f"sample_00{k}.bvh") for k in range(2)]
    assert all(s.frame_count == 256 for s in samples)
    with Image.open(out / "sample.gif") as gif:
        assert gif.n_frames == 256 and gif.size == (640, 320)
    hidden, imputed = read_motion(out / "walk_hidden_leg.npz"), read_motion(out / "walk_hidden_leg.imputed.npz")
    assert np.isnan(hidden.positions[30:60]).any() and not np.isnan(hidden.positions[:30]).any()
    assert np.isfinite(imputed.positions).all()
    observed = np.isfinite(hidden.positions)
    np.testing.assert_array_equal(imputed.positions[observed], hidden.positions[observed])
    assert (~imputed.mask[30:60]).sum() == 4 * 30  # the filled joints stay marked, drawn orange
    with Image.open(out / "hidden_leg.gif") as gif:
        assert gif.size == (3 * 64, 64) and gif.n_frames == 50  # before, hidden, imputed; frames 20-69
    assert (out / "hidden_leg.png").is_file()
    if blender:
        assert (out / "walk.blend").is_file()
        assert "240 frames (1..240), 30 fps" in done.stdout
    else:
        assert "skipped" in done.stderr
