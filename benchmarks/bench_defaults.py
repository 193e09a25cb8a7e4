"""Wall time of the shipped defaults from the shell, imports included (issue 7): the README's
`motiongen sample --action walking --frames 1024 -o walk.bvh`, and `motiongen impute` of a
1024-frame [T, J, 3] clip with the default steps.

The impute clip is real CMU motion (the longest clip of ../shared/data/cmu at 30 fps, repeated to
1024 frames) with the left leg hidden in every frame and the right arm for 100 frames; without
../shared it is the sampled walk, with the same joints hidden.

    python benchmarks/bench_defaults.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CMU = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu"
FRAMES = 1024


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def clip_1024(folder: Path) -> tuple[np.ndarray, str]:
    from motiongen.core.ops import resample
    from motiongen.formats import read_motion

    if CMU.is_dir():
        longest = max(CMU.glob("*/*.bvh"), key=lambda p: p.stat().st_size)
        positions, origin = resample(read_motion(longest)[1:], 30.0).positions, f"CMU {longest.parent.name}/{longest.name}"
    else:
        positions, origin = read_motion(folder / "walk.bvh").positions, "the sampled walk"
    repeats = -(-FRAMES // len(positions))
    clip = np.concatenate([positions] * repeats)[:FRAMES].astype(np.float32)
    clip[:, 2:6] = np.nan  # the left leg (cmu31: LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase)
    clip[300:400, 25:28] = np.nan  # the right arm for 100 frames
    return clip, origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    motiongen = [sys.executable, "-m", "motiongen"]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sample = motiongen + ["sample", "--action", "walking", "--frames", str(FRAMES), "-o", "walk.bvh", "-q"]
        timed(sample, folder)  # warm the file cache
        sample_times = [timed(sample, folder) for _ in range(args.repeats)]
        clip, origin = clip_1024(folder)
        np.save(folder / "noisy.npy", clip)
        impute = motiongen + ["impute", "noisy.npy", "-q"]
        impute_times = [timed(impute, folder) for _ in range(args.repeats)]
    cpu = platform.processor() or platform.machine()
    print(f"CPU ({cpu}, {os.cpu_count()} cores), Python {platform.python_version()}; wall seconds from the shell, "
          f"imports included, median (min–max) of {args.repeats}")
    for label, times in ((f"sample --action walking --frames {FRAMES} -o walk.bvh", sample_times),
                         (f"impute noisy.npy ({FRAMES} frames of {origin}, {np.isnan(clip).any(-1).mean():.0%} "
                          "of joints hidden, default steps)", impute_times)):
        print(f"{label}: {statistics.median(times):.2f} s ({min(times):.2f}–{max(times):.2f})")


if __name__ == "__main__":
    main()
