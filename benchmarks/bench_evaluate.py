"""Speed of the evaluation pieces: recogniser features, FID, MMD_a / MMD_s, plausibility.

    python benchmarks/bench_evaluate.py [--device cpu|cuda] [--windows 1024]

Uses the shipped recogniser (cmu31, 64-frame windows) on random-walk windows; prints figures.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from motiongen.metrics import generation, plausibility
from motiongen.metrics.evaluation import load_recognizer


def timed(function, repeats: int = 3) -> float:
    function()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--windows", type=int, default=1024)
    args = parser.parse_args()
    recognizer = load_recognizer(device=args.device)
    rng = np.random.default_rng(0)
    joints = recognizer.skeleton.joint_count
    windows = (np.cumsum(rng.normal(scale=0.01, size=(args.windows, recognizer.frames, joints, 3)), axis=1)
               + np.array([0.0, 1.0, 0.0])).astype(np.float32)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {args.windows} windows "
          f"[{recognizer.frames}, {joints}, 3]")
    seconds = timed(lambda: recognizer.embed(windows))
    print(f"recogniser features: {seconds:.3f} s ({args.windows / seconds:,.0f} windows/s)")
    features, _ = recognizer.embed(windows)
    other = features + rng.normal(scale=0.1, size=features.shape)
    print(f"FID {features.shape[1]}-d, {len(features)} vs {len(other)}: {timed(lambda: generation.fid(features, other)) * 1e3:.1f} ms")
    subset, subset_other = windows[:500], windows[500:1000] if len(windows) >= 1000 else windows[:500]
    print(f"MMD_a 500 vs 500 windows: {timed(lambda: generation.mmd_action(subset, subset_other), 1):.2f} s")
    print(f"MMD_s 500 vs 500 windows: {timed(lambda: generation.mmd_sequence(subset, subset_other), 1) * 1e3:.0f} ms")
    feet = plausibility.foot_joints(recognizer.skeleton)
    seconds = timed(lambda: (plausibility.bone_length_variation(windows, recognizer.skeleton.parents),
                             plausibility.foot_skating_ratio(windows, feet, recognizer.fps),
                             plausibility.jitter(windows, recognizer.fps)))
    print(f"plausibility (bones, feet, jitter) of {args.windows} windows: {seconds * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
