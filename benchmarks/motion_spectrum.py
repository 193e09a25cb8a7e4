"""How much of a generator's motion sits at which tempo, per action, next to real training windows:
the amplitude of the pose (every joint relative to the root) in three frequency bands, generated
over real. Slow: under 0.7 Hz (drift over the window); rhythm: 0.7–2.5 Hz (steps, swings, a
dribble); fast: over 3.5 Hz (jitter — real motion has little there). A ratio of 1 matches the data.
This showed the Kinetic-GAN's basketball without its dribble and every action with too much fast
motion (benchmarks/RESULTS.md, issue 3).

    python benchmarks/motion_spectrum.py CHECKPOINT [CHECKPOINT ...] [--data ../shared/data/cmu]

Clips: each checkpoint's own window at its own frame rate, seeds 5000… unless --first-seed, at the
model's default truncation, no foot planting; real: every training window of the action.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, generated_positions
from motiongen.data import prepare_dataset
from motiongen.training.checkpoint import load_checkpoint

BANDS = {"slow": (0.0, 0.7), "rhythm": (0.7, 2.5), "fast": (3.5, np.inf)}  # Hz; the DC bin is left out


def band_amplitudes(positions: np.ndarray, fps: float) -> np.ndarray:
    """``positions [N, T, J, 3]`` → mean Hann-windowed amplitude per band ``[len(BANDS)]`` of the
    pose's coordinates (root-relative, each clip's mean removed), averaged over clips and joints."""
    pose = positions - positions[:, :, :1]
    pose = pose - pose.mean(1, keepdims=True)
    frames = pose.shape[1]
    spectrum = np.abs(np.fft.rfft(pose * np.hanning(frames)[None, :, None, None], axis=1)).mean((0, 2, 3))
    frequencies = np.fft.rfftfreq(frames, 1.0 / fps)
    return np.array([spectrum[(frequencies > low) & (frequencies < high)].mean() for low, high in BANDS.values()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--samples", type=int, default=64, help="generated clips per action")
    parser.add_argument("--first-seed", type=int, default=5000)
    parser.add_argument("--holdout-subjects", default="08,13,16")
    args = parser.parse_args()
    torch.set_num_threads(1)
    prepared = {}  # (skeleton, frames, fps) → the real windows' amplitudes per action
    for path in args.checkpoints:
        checkpoint = load_checkpoint(path)
        key = (checkpoint.skeleton.name, int(checkpoint.frames), float(checkpoint.fps))
        if key not in prepared:  # each checkpoint against windows cut as it was trained
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                train = prepare_dataset(args.data, key[0], frames=key[1], fps=key[2],
                                        holdout_subjects=args.holdout_subjects.split(",")).split("train")
            prepared[key] = {action: band_amplitudes(train.windows[train.labels == k], key[2])
                             for k, action in enumerate(train.actions)}
        real = prepared[key]
        source = GeneratorSource.from_checkpoint(checkpoint)
        seeds = list(range(args.first_seed, args.first_seed + args.samples))
        truncation = float(checkpoint.config.get("truncation", 1.0))
        print(f"{path}: generated / real amplitude ({args.samples} clips per action, seeds {seeds[0]}…)")
        print(f"{'action':<20}" + "".join(f"{name + ' ' + _hz(band):>21}" for name, band in BANDS.items()))
        ratios = []
        for action in checkpoint.actions:
            clips = generated_positions(source, [action] * len(seeds), int(checkpoint.frames), seeds, truncation,
                                        "cpu", checkpoint.skeleton, checkpoint.fps)
            ratios.append(band_amplitudes(clips, checkpoint.fps) / real[action])
            print(f"{action:<20}" + "".join(f"{ratio:>21.2f}" for ratio in ratios[-1]))
        print(f"{'mean over actions':<20}" + "".join(f"{ratio:>21.2f}" for ratio in np.mean(ratios, 0)) + "\n")


def _hz(band: tuple[float, float]) -> str:
    low, high = band
    if np.isinf(high):
        return f"(>{low:g} Hz)"
    return f"(<{high:g} Hz)" if low == 0 else f"({low:g}–{high:g} Hz)"


if __name__ == "__main__":
    main()
