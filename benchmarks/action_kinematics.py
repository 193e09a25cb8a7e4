"""Does a generator's action move like the real action? Per action, the median of a few plain
measures over the model's real training windows and over generated clips of the same length
(seeds 5000… unless --first-seed), side by side. The recogniser (`per_action_recognition.py`) can
be satisfied by posture: the n_critic 5 Kinetic-GAN's kicking was read as kicking 98% of the time
with its feet together and barely moving (benchmarks/RESULTS.md, issue 3). These measures say what
the clips actually do:

- travel: horizontal distance of the root from the window's first frame to its last (m);
- foot lift: the most one ankle rises above the other within the window (m);
- foot reach: the farthest an ankle gets from the root horizontally (m);
- foot speed / hand speed: the fastest an ankle / wrist moves relative to the root (m/s);
- hands: the wrists' mean height relative to the root (m).

``--quantile 0.75`` prints that quantile instead of the median, for both sides: whether the
generator's upper quarter does what the real action's upper quarter does (a few clips that kick
among many that stand).

The last column, kicks, is a share rather than a quantile: the clips whose foot reach is at least
``KICK_REACH`` and whose foot speed is at least ``KICK_SPEED`` (59% of the real kicking windows;
the rest are the set-up and the recovery).

    python benchmarks/action_kinematics.py CHECKPOINT [--samples 128] [--quantile 0.5] [--data ../shared/data/cmu]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, generated_positions
from motiongen.data import prepare_dataset
from motiongen.training.checkpoint import load_checkpoint

MEASURES = ("travel", "foot lift", "foot reach", "foot speed", "hand speed", "hands")
KICK_REACH, KICK_SPEED = 0.5, 3.0  # m from the root horizontally, m/s relative to the root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--samples", type=int, default=128, help="generated clips per action")
    parser.add_argument("--first-seed", type=int, default=5000)
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--holdout-subjects", default="08,13,16", help="subjects left out of the training windows")
    parser.add_argument("--actions", default=None, help="comma-separated; default: all the model's")
    parser.add_argument("--quantile", type=float, default=0.5, help="the quantile printed (0.5: the median)")
    args = parser.parse_args()
    if not 0.0 <= args.quantile <= 1.0:
        parser.error(f"--quantile must be in [0, 1], got {args.quantile}")
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint)
    skeleton, frames, fps = checkpoint.skeleton, int(checkpoint.frames), float(checkpoint.fps)
    joints = skeleton.canonical_index()
    missing = [name for name in ("left_ankle", "right_ankle", "left_wrist", "right_wrist") if name not in joints]
    if missing:
        raise SystemExit(f"{args.checkpoint}: skeleton {skeleton.name} names no {', '.join(missing)} joint")
    ankles = [joints["left_ankle"], joints["right_ankle"]]
    wrists = [joints["left_wrist"], joints["right_wrist"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_dataset(args.data, skeleton.name, frames=frames, fps=fps,
                                  holdout_subjects=args.holdout_subjects.split(","))
    train = dataset.split("train")
    source = GeneratorSource.from_checkpoint(checkpoint)
    truncation = float(checkpoint.config.get("truncation", 1.0))
    seeds = list(range(args.first_seed, args.first_seed + args.samples))
    actions = args.actions.split(",") if args.actions else list(checkpoint.actions)
    which = "medians" if args.quantile == 0.5 else f"{args.quantile:g} quantiles"
    print(f"{which}, generated / real ({args.samples} clips per action, seeds {seeds[0]}…; all real training windows)")
    print(f"{'action':<18}" + "".join(f"{name:>17}" for name in MEASURES) + f"{'kicks':>17}")
    for action in actions:
        real = np.asarray(train.windows[np.flatnonzero(np.asarray(train.labels) == checkpoint.actions.index(action))])
        generated = generated_positions(source, [action] * len(seeds), frames, seeds, truncation, "cpu", skeleton, fps)
        generated_measures = measures(np.asarray(generated), ankles, wrists, fps)
        real_measures = measures(real, ankles, wrists, fps)
        columns = "".join(f"{float(np.quantile(g, args.quantile)):>8.2f} / {float(np.quantile(r, args.quantile)):<6.2f}"
                          for g, r in zip(generated_measures, real_measures))
        kicks = f"{kick_share(generated_measures):>7.0%} / {kick_share(real_measures):<7.0%}"
        print(f"{action:<18}" + columns + kicks)


def measures(positions: np.ndarray, ankles: list[int], wrists: list[int], fps: float) -> list[np.ndarray]:
    """The `MEASURES` of windows ``[N, T, J, 3]`` (metres, Y up, root = joint 0), one value per window."""
    root = positions[:, :, :1]
    relative = positions - root
    travel = np.linalg.norm(positions[:, -1, 0, [0, 2]] - positions[:, 0, 0, [0, 2]], axis=-1)
    lift = np.abs(positions[:, :, ankles[0], 1] - positions[:, :, ankles[1], 1]).max(1)
    reach = np.linalg.norm(relative[:, :, ankles][..., [0, 2]], axis=-1).max((1, 2))

    def peak_speed(chosen: list[int]) -> np.ndarray:
        return np.linalg.norm(np.diff(relative[:, :, chosen], axis=1), axis=-1).max((1, 2)) * fps

    hands = relative[:, :, wrists, 1].mean((1, 2))
    return [travel, lift, reach, peak_speed(ankles), peak_speed(wrists), hands]


def kick_share(window_measures: list[np.ndarray]) -> float:
    """The share of windows whose foot reach and foot speed (from `measures`) both pass the kick bars."""
    reach, speed = window_measures[MEASURES.index("foot reach")], window_measures[MEASURES.index("foot speed")]
    return float(np.mean((reach >= KICK_REACH) & (speed >= KICK_SPEED)))


if __name__ == "__main__":
    main()
