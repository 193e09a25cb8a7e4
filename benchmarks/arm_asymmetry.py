"""Which arm moves, in a generator's clips of one action and in the real training windows: per
clip, how far each wrist moves about its shoulder (mean distance from its mean position over the
window, joints relative to the shoulder), and the asymmetry (R − L)/(R + L): +1 the right arm
alone, −1 the left alone, 0 both alike. Training mirrors half the windows, so a one-handed action
has both signs in the data a generator learns from.

    python benchmarks/arm_asymmetry.py MODEL ACTION [--data ../shared/data/cmu] [--samples 48]

Clips: the model's own window and frame rate, seeds 1000…, no foot planting; real: that action's
training windows (held-out subjects 08, 13, 16 left out), unmirrored.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from motiongen.api.evaluate import GeneratorSource, generated_positions
from motiongen.data import prepare_dataset
from motiongen.training.checkpoint import load_checkpoint


def wrist_motion(positions: np.ndarray, shoulder: int, wrist: int) -> np.ndarray:
    """``positions [N, T, J, 3]`` → per clip, the wrist's mean distance from its mean (about the shoulder)."""
    offset = positions[:, :, wrist] - positions[:, :, shoulder]
    return np.linalg.norm(offset - offset.mean(axis=1, keepdims=True), axis=-1).mean(axis=1)


def report(label: str, positions: np.ndarray, joints: list[int]) -> None:
    right, left = wrist_motion(positions, *joints[:2]), wrist_motion(positions, *joints[2:])
    asymmetry = (right - left) / np.maximum(right + left, 1e-9)
    print(f"{label:>10} {len(positions):>6} {right.mean():>8.3f} {left.mean():>8.3f} {asymmetry.mean():>+9.2f} "
          f"{asymmetry.min():>+7.2f} {asymmetry.max():>+7.2f} {int((asymmetry < 0).sum()):>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("action")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--holdout-subjects", default="08,13,16")
    parser.add_argument("--joints", default="RightArm,RightHand,LeftArm,LeftHand",
                        help="right shoulder, right wrist, left shoulder, left wrist (joint names)")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.model)
    names = list(checkpoint.skeleton.joint_names)
    wanted = args.joints.split(",")
    unknown = [n for n in wanted if n not in names]
    if len(wanted) != 4 or unknown:
        raise SystemExit(f"--joints wants four joints of {checkpoint.skeleton.name}; unknown: {', '.join(unknown)}")
    if args.action not in checkpoint.actions:
        raise SystemExit(f"{args.model} knows no action {args.action!r}")
    joints = [names.index(n) for n in wanted]
    source = GeneratorSource.from_checkpoint(checkpoint)
    generated = generated_positions(source, [args.action] * args.samples, checkpoint.frames,
                                    list(range(1000, 1000 + args.samples)), 1.0, "cpu", checkpoint.skeleton,
                                    checkpoint.fps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short clips and dropped actions: reported by `train`
        dataset = prepare_dataset(args.data, skeleton=checkpoint.skeleton, frames=checkpoint.frames,
                                  fps=checkpoint.fps, holdout_subjects=tuple(args.holdout_subjects.split(",")))
    train = dataset.split("train")
    real = np.asarray(train.windows)[np.array([dataset.actions[k] for k in train.labels]) == args.action]
    print(f"{args.model}, {args.action}: wrist motion about the shoulder (m)")
    print(f"{'':>10} {'clips':>6} {'right':>8} {'left':>8} {'asym':>9} {'min':>7} {'max':>7} {'below 0':>9}")
    report("real", real, joints)
    report("generated", generated, joints)


if __name__ == "__main__":
    main()
