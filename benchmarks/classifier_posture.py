"""Can posture alone satisfy a GAN critic's auxiliary action classifier? For every action, how
often the classifier (among the actions, "generated" left out) and the shipped recogniser read the
model's real training windows as their action, moving and frozen at their first pose. A classifier
that reads frozen windows as their action far more often than the recogniser does can be satisfied
by a generator that holds the action's posture without its motion (the Kinetic-GAN's basketball,
benchmarks/RESULTS.md, issue 3); a motion-only classifier (`classifier_motion_only`) reads every
frozen window alike, so at most one action's frozen windows come out right. "P frozen": the
classifier's mean probability of the window's own action on the frozen windows (1/K: no reading at
all) — a classifier taught that stills are no action (`classifier_rejects_stills`) may still rank
the right action first by a hair, which is what the argmax column counts. "Held": the windows with
their busiest limb pair (legs or arms, `nn.action_classifier.hold_busiest_limbs`) held at the first
frame, the rest moving — a reading of those is a reading of the other limbs and the root; "P held"
as "P frozen" for them (`classifier_rejects_held_limbs` teaches them as no action). "Jittered": the
windows with white noise added, every feature's at ``--jitter`` times its frame-change spread
(the middle of `nn.jitter.JITTER_AMPLITUDE` by default; `classifier_rejects_jitter`
teaches such windows as no action) — a recogniser that reads them as their action does not mind
the jitter a generator adds.

    python benchmarks/classifier_posture.py CHECKPOINT [--data ../shared/data/cmu] [--jitter 0.4]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.api.evaluate import onto_target
from motiongen.data import prepare_dataset
from motiongen.data.features import from_features, to_channels_first, to_channels_last, to_features
from motiongen.metrics.evaluation import load_recognizer
from motiongen.nn.action_classifier import hold_busiest_limbs, limb_masks
from motiongen.nn.jitter import JITTER_AMPLITUDE, jitter_scale
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--holdout-subjects", default="08,13,16", help="subjects left out of the training windows")
    parser.add_argument("--jitter", type=float, default=sum(JITTER_AMPLITUDE) / 2,
                        help="the jittered windows' noise, in frame-change spreads")
    args = parser.parse_args()
    torch.set_num_threads(1)
    noise = torch.Generator().manual_seed(0)
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
    limbs = torch.as_tensor(limb_masks(checkpoint.skeleton))
    spread = jitter_scale(np.asarray(train.windows), train.normalization)  # [3, 1, V]
    print(f"{'action':<18} {'classifier moving / frozen / held / jittered':>44} {'P frozen / held / jittered':>27} "
          f"{'recogniser moving / frozen / held / jittered':>45}")
    rows = []
    for index, action in enumerate(checkpoint.actions):
        moving = np.asarray(train.windows[np.flatnonzero(train.labels == index)])
        frozen = np.repeat(moving[:, :1], moving.shape[1], axis=1)
        features = torch.as_tensor(to_channels_first(train.normalization.normalize(to_features(moving)))).float()
        held = hold_busiest_limbs(features, limbs, torch.zeros(len(features), dtype=torch.long))
        jittered = features + args.jitter * spread * torch.randn(features.shape, generator=noise, dtype=torch.float64)
        held_windows, jittered_windows = (
            from_features(train.normalization.denormalize(to_channels_last(changed.double().numpy())),
                          start_xz=moving[:, 0, 0, 0::2]) for changed in (held, jittered))
        reads, probabilities, recognised = [], [], []
        for windows in (moving, frozen, held_windows, jittered_windows):
            seen = to_channels_first(train.normalization.normalize(to_features(windows)).astype(np.float32))
            with torch.no_grad():
                logits = critic.classify(torch.as_tensor(seen))[:, :len(checkpoint.actions)]
            reads.append(float((logits.argmax(1) == index).float().mean()))
            probabilities.append(float(logits.softmax(1)[:, index].mean()))
            padded = np.concatenate([windows, np.repeat(windows[:, -1:], max(0, native - windows.shape[1]), 1)], 1)
            positions = onto_target(padded, checkpoint.skeleton, checkpoint.fps, recognizer.skeleton,
                                    recognizer.fps)[:, :recognizer.frames]
            _, recognizer_logits = recognizer.embed(positions)
            recognised.append(float((recognizer_logits.argmax(1) == recognizer.actions.index(action)).mean()))
        rows.append([*reads, *probabilities[1:], *recognised])
        print(f"{action:<18} {_slashed(reads):>44} {_slashed(probabilities[1:]):>27} {_slashed(recognised):>45}")
    mean = np.mean(rows, axis=0)
    print(f"{'mean over actions':<18} {_slashed(mean[:4]):>44} {_slashed(mean[4:7]):>27} {_slashed(mean[7:]):>45}")


def _slashed(fractions) -> str:
    return " / ".join(f"{value:.0%}" for value in fractions)


if __name__ == "__main__":
    main()
