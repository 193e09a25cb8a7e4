"""How often the shipped recogniser reads a generator's samples as the asked action, for every
action the generator knows (clips of the recogniser's 64 frames at 30 fps, resampled from the
model's own rate, at its default start and truncation, feet planted as `sample` plants them, seeds
1000… unless --first-seed): accuracy and the most frequent reading. Complements `motiongen
evaluate`, whose test set has only the held-out subjects' actions. With --real DATA it reads the
model's real training windows instead (same window, rate and path to the recogniser, drawn with
seed 0): the ceiling the judge allows each action at that window. "spread": the mean distance
between two of the action's clips in the recogniser's feature space (all distinct pairs; the
per-action term of Action2Motion's multimodality): a generator whose spread is far above the real
windows' (run again with --real) wanders beyond the action rather than covering it.

    python benchmarks/per_action_recognition.py RUN [--samples 64] [--real ../shared/data/cmu]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, onto_target, recognised
from motiongen.data import prepare_dataset
from motiongen.inference.sampling import positions_from_features
from motiongen.metrics.evaluation import load_recognizer
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--truncation", type=float, default=None, help="default: the model's")
    parser.add_argument("--first-seed", type=int, default=1000,
                        help="seeds first…first+samples−1 (pick snapshots on one range, report another)")
    parser.add_argument("--real", default=None, metavar="DATA",
                        help="read this dataset's training windows (model's skeleton, frames, fps) instead")
    parser.add_argument("--holdout-subjects", default="08,13,16", help="with --real: subjects left out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.run)
    truncation = float(checkpoint.config.get("truncation", 1.0)) if args.truncation is None else args.truncation
    recognizer = load_recognizer(None)
    source = GeneratorSource.from_checkpoint(checkpoint)
    scores, spreads = [], []
    print(f"{'action':<20} {'accuracy':>9} {'spread':>7}  most often read as")
    real = real_windows(args, checkpoint) if args.real else None
    for action in checkpoint.actions:
        if real is not None:
            positions = onto_target(real(action), checkpoint.skeleton, checkpoint.fps, recognizer.skeleton,
                                    recognizer.fps)[:, :recognizer.frames]
            features, logits = recognizer.embed(positions)
            read = [recognizer.actions[k] for k in logits.argmax(1)]
        else:
            features, read = recognised(source, recognizer, action,
                                        list(range(args.first_seed, args.first_seed + args.samples)), truncation)
        top = max(set(read), key=read.count)
        scores.append(read.count(action) / len(read))
        spreads.append(spread(features))
        print(f"{action:<20} {scores[-1]:>9.0%} {spreads[-1]:>7.2f}  {top} ({read.count(top) / len(read):.0%})")
    print(f"{'mean over actions':<20} {np.mean(scores):>9.0%} {np.mean(spreads):>7.2f}")


def spread(features: np.ndarray) -> float:
    """Mean Euclidean distance over all distinct pairs of rows of ``features`` ``[N, D]``."""
    distances = np.linalg.norm(features[:, None] - features[None], axis=-1)
    return float(distances.sum() / (len(features) * (len(features) - 1)))


def real_windows(args, checkpoint):
    """``action -> [samples, T, J, 3]`` real training windows in metres, as the model was trained on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_dataset(args.real, checkpoint.skeleton.name, frames=int(checkpoint.frames),
                                  fps=float(checkpoint.fps), holdout_subjects=args.holdout_subjects.split(","))
    train = dataset.split("train")
    rng = np.random.default_rng(0)

    def windows(action: str) -> np.ndarray:
        pool = np.flatnonzero(train.labels == train.actions.index(action))
        picks = rng.choice(pool, args.samples, replace=pool.size < args.samples)
        positions = positions_from_features(np.asarray(train.features(picks)), train.normalization, checkpoint.skeleton)
        return np.asarray(positions, dtype=np.float32)

    return windows


if __name__ == "__main__":
    main()
