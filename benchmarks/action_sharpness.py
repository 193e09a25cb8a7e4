"""How sharp a generator's motion is against the data's, per action: the smoothness term's measure
(`motiongen.nn.smoothness`), whether or not the model was trained with it.

For each action, s_v = mean over clips of log E_v − the training windows' mean log E_v, E_v joint
v's mean squared second difference in metres (0 = the data's sharpness, +1.1 = three times its
energy, −1.4 = a quarter). Printed: the mean of s over the joints, its largest joint, the hinge
mean relu(s) that ``smoothness_weight`` trains on, and the same mean for the real training windows
(slightly below 0: each joint's target is the larger of its own and its mirror's).

    python benchmarks/action_sharpness.py RUN/step-0002000.safetensors [--samples 32]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, generated_positions
from motiongen.data import prepare_dataset
from motiongen.data.features import to_features
from motiongen.nn.smoothness import fit_smoothness_target, log_sharpness
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--samples", type=int, default=32, help="generated clips per action")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--holdout-subjects", default="08,13,16", help="subjects left out of the training windows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint)
    skeleton, frames, fps = checkpoint.skeleton, int(checkpoint.frames), float(checkpoint.fps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_dataset(args.data, skeleton.name, frames=frames, fps=fps,
                                  holdout_subjects=args.holdout_subjects.split(","))
    train = dataset.split("train")
    labels = np.asarray(train.labels)
    target, _ = fit_smoothness_target(np.asarray(train.windows), labels, dataset.normalization,
                                      len(checkpoint.actions), skeleton.mirror_index())
    source = GeneratorSource.from_checkpoint(checkpoint)
    truncation = float(checkpoint.config.get("truncation", 1.0))
    seeds = list(range(args.first_seed, args.first_seed + args.samples))
    print(f"sharpness s (log energy, generated − data; {args.samples} clips per action, seeds {seeds[0]}…)")
    print(f"{'action':<18}{'mean s':>8}{'max s':>8}{'hinge':>8}{'real mean s':>13}")
    excess = []
    for index, action in enumerate(checkpoint.actions):
        generated = generated_positions(source, [action] * len(seeds), frames, seeds, truncation, "cpu", skeleton, fps)
        action_excess = _excess(np.asarray(generated), target[index])
        real = _excess(np.asarray(train.windows[np.flatnonzero(labels == index)]), target[index])
        excess.append(action_excess)
        print(f"{action:<18}{float(action_excess.mean()):8.2f}{float(action_excess.max()):8.2f}"
              f"{float(torch.relu(action_excess).mean()):8.2f}{float(real.mean()):13.2f}")
    every = torch.stack(excess)
    print(f"{'mean over actions':<18}{float(every.mean()):8.2f}{'':>8}{float(torch.relu(every).mean()):8.2f}")


def _excess(positions: np.ndarray, target: torch.Tensor) -> torch.Tensor:
    """s ``[V]`` of windows ``[N, T, V, 3]`` (metres) against one action's target ``[V]``."""
    features = torch.as_tensor(to_features(positions.astype(np.float64))).permute(0, 3, 1, 2)
    return (log_sharpness(features).float() - target).mean(0)


if __name__ == "__main__":
    main()
