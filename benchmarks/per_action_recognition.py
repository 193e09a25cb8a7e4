"""How often the shipped recogniser reads a generator's samples as the asked action, for every
action the generator knows (clips of the recogniser's 64 frames at 30 fps, resampled from the
model's own rate, at its default start and truncation, feet planted as `sample` plants them, seeds
1000… unless --first-seed): accuracy and the most frequent reading. Complements `motiongen
evaluate`, whose test set has only the held-out subjects' actions.

    python benchmarks/per_action_recognition.py RUN [--samples 64]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, generated_positions
from motiongen.metrics.evaluation import load_recognizer
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--truncation", type=float, default=None, help="default: the model's")
    parser.add_argument("--first-seed", type=int, default=1000,
                        help="seeds first…first+samples−1 (pick snapshots on one range, report another)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.run)
    truncation = float(checkpoint.config.get("truncation", 1.0)) if args.truncation is None else args.truncation
    recognizer = load_recognizer(None)
    source = GeneratorSource.from_checkpoint(checkpoint)
    native = int(np.ceil(recognizer.frames * checkpoint.fps / recognizer.fps))  # the window at the model's fps
    scores = []
    print(f"{'action':<20} {'accuracy':>9}  most often read as")
    for label, action in enumerate(checkpoint.actions):
        seeds = list(range(args.first_seed, args.first_seed + args.samples))
        positions = generated_positions(source, [action] * args.samples, native, seeds, truncation, "cpu",
                                        recognizer.skeleton, recognizer.fps, plant_feet=True)[:, :recognizer.frames]
        _, logits = recognizer.embed(positions)
        read = [recognizer.actions[k] for k in logits.argmax(1)]
        top = max(set(read), key=read.count)
        scores.append(read.count(action) / len(read))
        print(f"{action:<20} {scores[-1]:>9.0%}  {top} ({read.count(top) / len(read):.0%})")
    print(f"{'mean over actions':<20} {np.mean(scores):>9.0%}")


if __name__ == "__main__":
    main()
