"""Baseline imputers (`motiongen.inference.baselines`) on a batch of 50-frame NTU-sized windows.

    python benchmarks/bench_baselines.py [--batch 256] [--frames 50] [--pattern random-25%] [--repeats 7]

A smooth synthetic motion ``[batch, frames, 25, 3]`` (ntu25's joint count) is hidden by one
standard occlusion pattern (`motiongen.inference.occlusion.PATTERNS`), then each baseline fills
it; the median of ``--repeats`` runs is printed as milliseconds per batch and windows per second.
Every baseline is index arithmetic over the whole batch, so the time grows with the batch size,
not with a Python loop per window, frame or joint.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from motiongen.inference.baselines import BASELINES
from motiongen.inference.occlusion import PATTERNS, make_missing
from motiongen.skeletons import load_skeleton


def synthetic_windows(batch: int, frames: int, joints: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth float32 positions in metres: a rest pose plus per-coordinate sinusoids."""
    rest = rng.normal(scale=0.4, size=(1, 1, joints, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 1, joints, 3))
    time_s = np.arange(frames).reshape(1, -1, 1, 1) / 30.0
    return (rest + 0.1 * np.sin(2 * np.pi * time_s + phase)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="windows per batch")
    parser.add_argument("--frames", type=int, default=50, help="frames per window")
    parser.add_argument("--pattern", default="random-25%", choices=list(PATTERNS), help="occlusion pattern")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per baseline; the median is printed")
    args = parser.parse_args()

    skeleton = load_skeleton("ntu25")
    rng = np.random.default_rng(0)
    positions = synthetic_windows(args.batch, args.frames, skeleton.joint_count, rng)
    missing = make_missing(args.pattern, skeleton, positions.shape, rng)
    hidden = np.where(missing, np.nan, positions)
    print(f"{list(positions.shape)} float32, pattern {args.pattern} ({missing.mean():.1%} missing) "
          f"(Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()})")
    for name, fill in BASELINES.items():
        fill(hidden, missing)  # warm-up, not timed
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fill(hidden, missing)
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        print(f"{name:>7}: {median * 1e3:8.2f} ms per batch = {args.batch / median:>12,.0f} windows/s")


if __name__ == "__main__":
    main()
