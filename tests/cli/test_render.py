"""``motiongen render``: pictures from real files, and one-line errors that leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _cli import assert_ok, assert_one_line_error, run

REPO = Path(__file__).resolve().parents[2]
WALK = REPO / "examples" / "data" / "cmu_02_01_walk.bvh"


def test_render_a_real_bvh_to_gif(tmp_path):
    out = tmp_path / "walk.gif"
    result = run("render", WALK, "-o", out, "--size", "64x48", "--start", "40", "--end", "100", "--fps", "10", "-q")
    assert_ok(result)
    assert result.stdout.strip() == str(out)
    with Image.open(out) as gif:
        assert gif.size == (64, 48)
        assert gif.n_frames == 5  # 60 frames at 120 fps = 0.5 s at 10 fps


def test_render_several_files_side_by_side_and_a_sheet(tmp_path):
    arrays = tmp_path / "two.npy"
    from motiongen.formats import read_motion

    walk = read_motion(WALK)[:60]
    np.save(arrays, np.stack([walk.positions, walk.positions[::-1]]))  # [N, T, J, 3]: two panels
    out = tmp_path / "grid.png"
    assert_ok(run("render", WALK, arrays, "-o", out, "--size", "50", "--sheet", "3", "-q"))
    with Image.open(out) as image:
        assert image.size == (150, 150)  # 3 motions (the .npy holds two) × 3 moments
    still = tmp_path / "still.png"
    assert_ok(run("render", WALK, arrays, "-o", still, "--size", "40", "--frame", "10", "--grid", "2", "-q"))
    with Image.open(still) as image:
        assert image.size == (80, 80)


@pytest.mark.parametrize("args, fragments", [
    (["-o", "{tmp}/walk.avi"], ["walk.avi", ".gif, .mp4, .png"]),
    (["-o", "-"], ["writes a file"]),
    (["-o", "{tmp}/nowhere/walk.gif"], ["does not exist"]),
    (["-o", "{tmp}/walk.gif", "--size", "big"], ["--size"]),
    (["-o", "{tmp}/walk.gif", "--size", "8x8"], ["--size"]),
    (["-o", "{tmp}/walk.png", "--frame", "5000"], ["cmu_02_01_walk.bvh has 344 frames", "--frame 5000"]),
    (["-o", "{tmp}/walk.gif", "--start", "400"], ["--start 400"]),
    (["-o", "{tmp}/walk.gif", "--fps", "0"], ["--fps"]),
    (["-o", "{tmp}/walk.gif", "--grid", "0"], ["--grid"]),
])
def test_bad_options_are_one_line_errors(tmp_path, args, fragments):
    result = run("render", WALK, *[a.format(tmp=tmp_path) for a in args], "-q")
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_one_line_errors(tmp_path):
    broken = tmp_path / "broken.bvh"
    broken.write_text(WALK.read_text().replace("Frames: 344", "Frames: many"))
    out = tmp_path / "x.gif"
    assert_one_line_error(run("render", broken, "-o", out), "broken.bvh", "line")
    assert_one_line_error(run("render", tmp_path / "absent.bvh", "-o", out), "absent.bvh")
    empty = tmp_path / "empty.npy"
    np.save(empty, np.full((4, 22, 3), np.nan, np.float32))
    assert_one_line_error(run("render", empty, "-o", out), "empty.npy", "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.bvh", "empty.npy"]
