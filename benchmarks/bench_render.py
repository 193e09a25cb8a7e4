"""Stick-figure rendering speed (issue 8): output frames per second for a GIF of the CMU walk,
one panel and four side by side, at 320×320 pixels a panel.

    python benchmarks/bench_render.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from motiongen.formats import read_motion
from motiongen.render.pictures import RenderOptions, render_motions

WALK = Path(__file__).resolve().parents[1] / "examples" / "data" / "cmu_02_01_walk.bvh"


def main() -> None:
    walk = read_motion(WALK)
    print(f"CMU walk: {walk.frame_count} frames at {walk.fps:g} fps → GIF at 30 fps; {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as folder:
        for panels in (1, 4):
            start = time.perf_counter()
            result = render_motions([walk] * panels, ["walk"] * panels, Path(folder) / "walk.gif", RenderOptions())
            seconds = time.perf_counter() - start
            print(f"{panels} panel(s), {result.size[0]}×{result.size[1]} px: {result.frame_count} frames in "
                  f"{seconds:.2f} s = {result.frame_count / seconds:.1f} frames/s")


if __name__ == "__main__":
    main()
