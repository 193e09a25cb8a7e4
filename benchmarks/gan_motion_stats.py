"""How a generator's clips move next to real training windows: root travel per clip, joint speed,
pose motion (joints relative to the root), joint acceleration and top joint height — what showed
the CPU-trained GANs gliding, freezing or jittering (benchmarks/RESULTS.md, issue 3).

    python benchmarks/gan_motion_stats.py RUN_OR_CHECKPOINT [--data ../shared/data/cmu --per-action 8]

Clips: the checkpoint's own window at its own frame rate, seeds 0…, every action alike, no foot
planting (the raw root path); real: about 96 training windows prepared the same way.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, generated_positions
from motiongen.data import prepare_dataset
from motiongen.training.checkpoint import load_checkpoint


def motion_figures(positions: np.ndarray, fps: float) -> dict[str, float]:
    """``positions [N, T, J, 3]`` (metres) → mean figures per clip/frame."""
    velocity = np.diff(positions, axis=1) * fps
    acceleration = np.diff(positions, 2, axis=1) * fps * fps
    travel = np.linalg.norm(positions[:, -1, 0, [0, 2]] - positions[:, 0, 0, [0, 2]], axis=-1)
    relative = positions - positions[:, :, :1]
    return {"root travel (m)": float(travel.mean()),
            "joint speed (m/s)": float(np.linalg.norm(velocity, axis=-1).mean()),
            "pose motion (m/s)": float(np.linalg.norm(np.diff(relative, axis=1), axis=-1).mean() * fps),
            "acceleration (m/s²)": float(np.linalg.norm(acceleration, axis=-1).mean()),
            "top joint (m)": float(positions[..., 1].max(-1).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--per-action", type=int, default=8)
    parser.add_argument("--holdout-subjects", default="08,13,16")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.run)
    source = GeneratorSource.from_checkpoint(checkpoint)
    actions = [action for action in checkpoint.actions for _ in range(args.per_action)]
    fake = generated_positions(source, actions, checkpoint.frames, list(range(len(actions))), 1.0, "cpu",
                               checkpoint.skeleton, checkpoint.fps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_dataset(args.data, frames=checkpoint.frames, fps=checkpoint.fps,
                                  holdout_subjects=tuple(args.holdout_subjects.split(",")))
    real = np.asarray(dataset.windows)[::max(1, len(dataset) // 96)]
    generated, measured = motion_figures(fake, checkpoint.fps), motion_figures(real, checkpoint.fps)
    print(f"{'figure':<22} {'generated':>10} {'real':>10}   ({len(fake)} clips, {len(real)} real windows)")
    for name in generated:
        print(f"{name:<22} {generated[name]:>10.2f} {measured[name]:>10.2f}")


if __name__ == "__main__":
    main()
