"""Skeleton mesh building (`motiongen.render.mesh.skeleton_mesh`) on every frame of a CMU clip.

    python benchmarks/bench_mesh.py [FILE] [--repeats 5]

FILE defaults to the CMU walk in examples/data (344 frames, 31 joints). The whole clip goes into
one mesh (what ``export-mesh --every 1`` builds); the median of ``--repeats`` runs is printed with
vertices per second. Placement is batched over all (frame, bone) capsules and (frame, joint)
spheres, so the time grows with the vertex count, not with a Python loop per instance.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from motiongen.formats import read_motion
from motiongen.render.mesh import skeleton_mesh

REPO = Path(__file__).resolve().parents[1]
WALK = REPO / "examples" / "data" / "cmu_02_01_walk.bvh"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=WALK, help="motion file (default: the CMU walk)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is printed")
    args = parser.parse_args()

    motion = read_motion(args.file)
    frames = np.arange(motion.frame_count)
    skeleton_mesh(motion, frames[:1])  # builds the two templates and imports trimesh, not timed
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        mesh = skeleton_mesh(motion, frames)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    vertices, faces = len(mesh.vertices), len(mesh.faces)
    print(f"{args.file.name}: {motion.frame_count} frames, {motion.joint_count} joints "
          f"(Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()})")
    print(f"skeleton_mesh, every frame: {vertices:,} vertices, {faces:,} faces in {median:.3f} s "
          f"(median of {args.repeats}) = {vertices / median:,.0f} vertices/s, "
          f"{motion.frame_count / median:,.0f} frames/s")


if __name__ == "__main__":
    main()
