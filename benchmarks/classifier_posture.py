"""Can posture alone satisfy a GAN critic's auxiliary action classifier? For every action, how
often the classifier (among the actions, "generated" left out) and the shipped recogniser read the
model's real training windows as their action, moving and frozen at their first pose. A classifier
that reads frozen windows as their action far more often than the recogniser does can be satisfied
by a generator that holds the action's posture without its motion (the Kinetic-GAN's basketball,
benchmarks/RESULTS.md, issue 3); a motion-only classifier (`classifier_motion_only`) reads every
frozen window alike, so at most one action's frozen windows come out right. "P frozen": the
classifier's mean probability of the window's own action on the frozen windows (1/K: no reading at
all) — a classifier taught that stills are no action (`classifier_rejects_stills`) may still rank
the right action first by a hair, which is what the argmax column counts.

    python benchmarks/classifier_posture.py CHECKPOINT [--data ../shared/data/cmu]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import onto_target
from motiongen.data import prepare_dataset
from motiongen.data.features import to_channels_first, to_features
from motiongen.metrics.evaluation import load_recognizer
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--holdout-subjects", default="08,13,16", help="subjects left out of the training windows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint)
    critic = checkpoint.pair.critic
    if critic is None or getattr(critic, "action_classifier", None) is None:
        raise SystemExit(f"{args.checkpoint}: its critic has no auxiliary action classifier")
    critic.eval()
    recognizer = load_recognizer(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_dataset(args.data, checkpoint.skeleton.name, frames=int(checkpoint.frames),
                                  fps=float(checkpoint.fps), holdout_subjects=args.holdout_subjects.split(","))
    train = dataset.split("train")
    # The recogniser reads its own window length: shorter windows are held on their last frame.
    native = int(np.ceil(recognizer.frames * checkpoint.fps / recognizer.fps))
    print(f"{'action':<20} {'classifier moving / frozen':>27} {'P frozen':>9} {'recogniser moving / frozen':>27}")
    rows = []
    for index, action in enumerate(checkpoint.actions):
        moving = np.asarray(train.windows[np.flatnonzero(train.labels == index)])
        frozen = np.repeat(moving[:, :1], moving.shape[1], axis=1)
        row, probabilities = [], []
        for windows in (moving, frozen):
            features = to_channels_first(train.normalization.normalize(to_features(windows)).astype(np.float32))
            with torch.no_grad():
                logits = critic.classify(torch.as_tensor(features))[:, :len(checkpoint.actions)]
            row.append(float((logits.argmax(1) == index).float().mean()))
            probabilities.append(float(logits.softmax(1)[:, index].mean()))
        frozen_probability = probabilities[1]
        for windows in (moving, frozen):
            held = np.concatenate([windows, np.repeat(windows[:, -1:], max(0, native - windows.shape[1]), 1)], 1)
            positions = onto_target(held, checkpoint.skeleton, checkpoint.fps, recognizer.skeleton,
                                    recognizer.fps)[:, :recognizer.frames]
            _, logits = recognizer.embed(positions)
            row.append(float((logits.argmax(1) == recognizer.actions.index(action)).mean()))
        rows.append([*row, frozen_probability])
        print(f"{action:<20} {row[0]:>13.0%} / {row[1]:<11.0%} {frozen_probability:>9.0%} {row[2]:>13.0%} / {row[3]:.0%}")
    mean = np.mean(rows, axis=0)
    print(f"{'mean over actions':<20} {mean[0]:>13.0%} / {mean[1]:<11.0%} {mean[4]:>9.0%} {mean[2]:>13.0%} / {mean[3]:.0%}")


if __name__ == "__main__":
    main()
