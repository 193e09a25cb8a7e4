"""Has the critic of a GAN run memorised its training windows? For each snapshot of a run
(`--keep-snapshots`), the WGAN-GP gap read on the training windows and on the held-out subjects'
windows, each against generated clips of the same actions (`motiongen.training.overfitting`):

    step  train_gap  heldout_gap  memorised (= train − held-out)  D(train)  D(held-out)

A gap that grows on the training windows but not on the held-out ones is the critic learning the
data by heart (Karras et al. 2020), not the generator falling behind. The data, window, rate,
skeleton and held-out subjects are the run's own (its config.json).

    python benchmarks/critic_overfitting.py RUN [--every 1000] [--first 0] [--last N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from motiongen.data import prepare_dataset
from motiongen.training.checkpoint import kept_snapshots
from motiongen.training.overfitting import WindowSet, comparable_sets, read_critic


def run_windows(run: Path, stride_divisor: int) -> tuple[WindowSet, WindowSet]:
    """The run's training and held-out windows (as positions, a window every 1/stride_divisor of
    one: the held-out subjects have few clips), restricted to the actions both have."""
    config = json.loads((run / "config.json").read_text())
    options, dataset_info = config["options"], config["dataset"]
    holdout = tuple(options["holdout_subjects"] or ())
    if not holdout:
        raise SystemExit(f"{run}: the run was trained without --holdout-subjects; nothing is held out")
    dataset = prepare_dataset(options["data"], skeleton=dataset_info["skeleton"], frames=dataset_info["frames"],
                              fps=dataset_info["fps"], stride=max(1, dataset_info["frames"] // stride_divisor),
                              holdout_subjects=holdout)

    def windows(split: str) -> WindowSet:
        part = dataset.split(split)
        return WindowSet(np.asarray(part.windows, dtype=np.float32), [dataset.actions[k] for k in part.labels])

    return comparable_sets(windows("train"), windows("test"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--every", type=int, default=1000, help="read snapshots whose step is a multiple of this")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--last", type=int, default=None)
    parser.add_argument("--stride-divisor", type=int, default=8, help="a window every frames/this frames")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = [(s, p) for s, p in kept_snapshots(args.run)
              if s % args.every == 0 and s >= args.first and (args.last is None or s <= args.last)]
    if not chosen:
        raise SystemExit(f"{args.run}: no step-*.safetensors snapshot at a multiple of {args.every}")
    train, heldout = run_windows(args.run, args.stride_divisor)
    shared = sorted(set(heldout.actions))
    print(f"{args.run}: {len(train.actions)} training and {len(heldout.actions)} held-out windows "
          f"of {len(shared)} shared actions ({', '.join(shared)})")
    print(f"{'step':>7} {'train_gap':>10} {'heldout_gap':>12} {'memorised':>10} {'D(train)':>9} {'D(held-out)':>12}")
    for step, path in chosen:
        r = read_critic(path, train, heldout)
        print(f"{step:>7} {r.train_gap:>10.3f} {r.heldout_gap:>12.3f} {r.memorised:>10.3f} "
              f"{r.real_train:>9.3f} {r.real_heldout:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
