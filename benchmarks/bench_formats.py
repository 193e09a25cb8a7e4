"""BVH reading, forward kinematics and writing: motiongen against bvhio on one long CMU clip.

    python benchmarks/bench_formats.py [FILE.bvh] [--repeats 3] [--bvhio-frames 500]

FILE defaults to the longest clip of ../shared/data/cmu (by the manifest's ``frames`` column; it
must have at least 5,000 frames). Fast steps are timed ``--repeats`` times and the median is
printed. bvhio's per-frame world positions (``root.loadPose(f)`` then ``joint.PositionWorld`` for
every joint) are slow, so they are timed on the first ``--bvhio-frames`` frames and extrapolated
linearly to the whole clip (the output says so). The script also checks that both libraries give
the same joint positions (CMU files are in units of 0.056444 m; bvhio reports file units).
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bvhio
from motiongen.core.kinematics import skeleton_fk
from motiongen.formats import bvh

REPO = Path(__file__).resolve().parents[1]
CMU_DIR = REPO.parent / "shared" / "data" / "cmu"
CMU_METRES_PER_UNIT = 0.056444
MIN_FRAMES = 5000


# --- helpers --------------------------------------------------------------------------------------

def longest_cmu_clip() -> Path:
    manifest = CMU_DIR / "manifest.csv"
    if not manifest.is_file():
        sys.exit(f"no CMU manifest at {manifest}; pass a BVH file with at least {MIN_FRAMES} frames")
    with manifest.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    row = max(rows, key=lambda r: int(r["frames"]))
    if int(row["frames"]) < MIN_FRAMES:
        sys.exit(f"the longest CMU clip has {row['frames']} frames (< {MIN_FRAMES}); pass a longer file")
    return CMU_DIR / row["file"]


def median_seconds(function, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def bvhio_world_positions(root, frames: int) -> tuple[list[str], np.ndarray]:
    """``[frames, J, 3]`` world positions in file units, bvhio's own way: pose, then read back."""
    joints = [joint for joint, _, _ in root.layout()]
    out = np.empty((frames, len(joints), 3))
    for frame in range(frames):
        root.loadPose(frame)
        for j, joint in enumerate(joints):
            position = joint.PositionWorld
            out[frame, j] = (position.x, position.y, position.z)
    return [joint.Name for joint in joints], out


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"bvhio {importlib.metadata.version('bvhio')}, {platform.system()} {platform.release()}")


# --- benchmark ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="BVH file (default: the longest CMU clip)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per fast step (median)")
    parser.add_argument("--bvhio-frames", type=int, default=500,
                        help="frames on which bvhio's per-frame world positions are timed")
    args = parser.parse_args()
    path = args.file or longest_cmu_clip()
    size_mb = path.stat().st_size / 1e6

    print(f"machine: {machine()}")
    read_s, motion = median_seconds(lambda: bvh.read(path), args.repeats)
    frames, joints = motion.frame_count, motion.joint_count
    print(f"file:    {path} ({size_mb:.1f} MB, {frames} frames, {joints} joints, {motion.fps:g} fps)")
    print(f"timing:  median of {args.repeats} runs unless marked\n")

    fk_s, _ = median_seconds(lambda: skeleton_fk(motion.skeleton, motion.rotations, motion.root_translation),
                             args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.bvh"
        write_s, _ = median_seconds(lambda: bvh.write(motion, target), args.repeats)
    bvh_container_s, _ = median_seconds(lambda: bvhio.readAsBvh(str(path)), args.repeats)
    hierarchy_s, root = median_seconds(lambda: bvhio.readAsHierarchy(str(path)), args.repeats)

    sampled = min(args.bvhio_frames, frames)
    started = time.perf_counter()
    names, bvhio_positions = bvhio_world_positions(root, sampled)
    positions_sampled_s = time.perf_counter() - started
    positions_all_s = positions_sampled_s * frames / sampled
    bvhio_total_s = hierarchy_s + positions_all_s
    extrapolated = sampled < frames

    rows = [
        ("motiongen read (parse + FK -> positions)", read_s, ""),
        ("motiongen FK alone (skeleton_fk)", fk_s, ""),
        ("motiongen write (bvh.write)", write_s, ""),
        ("bvhio.readAsBvh (parse, no positions)", bvh_container_s, ""),
        ("bvhio.readAsHierarchy (no positions)", hierarchy_s, ""),
        ("bvhio world positions (loadPose + PositionWorld)", positions_all_s,
         f"1 run on {sampled} frames, x{frames / sampled:.2f} extrapolated" if extrapolated else "1 run"),
        ("bvhio readAsHierarchy + world positions", bvhio_total_s,
         "extrapolated (see above)" if extrapolated else ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'step':<{width}}  {'seconds':>9}  {'frames/s':>11}  note")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 11}  ----")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:9.4f}  {frames / seconds:11,.0f}  {note}")

    print(f"\nspeed-up, motiongen read+positions vs bvhio's fastest path to the same positions "
          f"(readAsHierarchy + per-frame world positions{', extrapolated' if extrapolated else ''}): "
          f"{bvhio_total_s / read_s:,.0f}x")

    # Same positions? Match joints by name (motiongen keeps the registry order, bvhio the file's).
    order = [names.index(n) for n in motion.skeleton.joint_names]
    theirs_m = bvhio_positions[:, order] * motion.meta["metres_per_unit"]
    ours_m = np.asarray(motion.positions[:sampled], dtype=np.float64)
    error_m = np.linalg.norm(ours_m - theirs_m, axis=-1)
    print(f"agreement on the first {sampled} frames x {joints} joints: max |motiongen - bvhio| = "
          f"{error_m.max():.2e} m (mean {error_m.mean():.2e} m; bvhio x {motion.meta['metres_per_unit']} m/unit)")
    if error_m.max() > 1e-4:
        sys.exit("positions disagree by more than 0.1 mm")


if __name__ == "__main__":
    main()
