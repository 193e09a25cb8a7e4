"""Posture over long LARNet samples, with and without anchored chaining: body height (highest joint
minus lowest) and stature (head above the lowest foot) in the first and the last 64-frame window of
FRAMES-frame samples, per action, as `sample` writes them to BVH (feet planted, IK onto the fixed
skeleton). A model without anchors is measured once.

    python benchmarks/larnet_long_posture.py RUN [--frames 1024] [--samples 4] [--actions walking,jumping]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from motiongen.api.evaluate import GeneratorSource, body_height, generated_positions
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--frames", type=int, default=1024)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--actions", default="walking,jumping,dancing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.run)
    source = GeneratorSource.from_checkpoint(checkpoint)
    generator = checkpoint.pair.generator
    head = checkpoint.skeleton.canonical_index().get("head", checkpoint.skeleton.joint_count - 1)
    window = int(checkpoint.frames)
    modes = (True, False) if getattr(generator, "anchor_bank", None) is not None else (False,)
    print(f"{'action':<12} {'anchored':>8}  {'height first → last (m)':>24}  {'stature first → last (m)':>25}")
    for action in args.actions.split(","):
        for anchored in modes:
            generator.anchoring = anchored
            clips = generated_positions(source, [action] * args.samples, args.frames, list(range(args.samples)),
                                        float(checkpoint.config.get("truncation", 1.0)), "cpu", checkpoint.skeleton,
                                        checkpoint.fps, as_bvh=True, plant_feet=True)
            height = body_height(clips)  # [N, T]
            stature = clips[:, :, head, 1] - clips[:, :, :, 1].min(axis=2)
            first, last = slice(0, window), slice(-window, None)
            print(f"{action:<12} {'yes' if anchored else 'no':>8}  "
                  f"{height[:, first].mean():>11.2f} → {height[:, last].mean():<10.2f}  "
                  f"{stature[:, first].mean():>12.2f} → {stature[:, last].mean():<10.2f}")


if __name__ == "__main__":
    main()
