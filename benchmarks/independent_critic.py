"""The Wasserstein distance from a GAN run's samples to its data, read at several snapshots by
one yardstick: a fresh critic (same architecture, same initialisation, same data, augmentation
and losses as the run's) trained alone for a fixed number of steps against the snapshot's EMA
generator, frozen. Its gap E[D(x)] − E[D(G(z))] over its last quarter of steps is the estimate
(the "independent critic" of Im et al., "Quantitatively Evaluating GANs with Divergences Proposed
for Training", ICLR 2018; Danihelka et al. 2017).

Why: the gap a run logs is read by a critic that keeps getting stronger alongside the generator, so
it can rise while the generator improves. A critic of fixed budget, the same for every snapshot,
separates the two: its gap falls when the samples come closer to the data.

    python benchmarks/independent_critic.py RUN [--every 3000] [--critic-steps 1000] [--steps 1000,6000] [--seed S]

Each reading trains through `motiongen train --init-from SNAPSHOT --critic-warmup-steps K
--steps K` (the generator waits the whole run) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from motiongen.api.train import train_from_options
from motiongen.training.checkpoint import export_for_inference, kept_snapshots
from motiongen.training.log import read_log

# options of the run that an independent critic keeps (the rest: its own length, no snapshots)
KEPT = ("skeleton", "frames", "fps", "stride", "layout", "labels", "holdout_subjects", "batch_size", "lr_critic",
        "betas", "n_critic", "gp_weight", "drift_weight", "grad_clip_norm", "seed", "augment", "balance_actions")


def independent_gap(run: Path, snapshot: Path, critic_steps: int, work: Path,
                    seed: int | None = None) -> tuple[float, float, float]:
    """(mean gap over the last quarter of the fresh critic's steps, its gradient penalty there, the
    mean gap over the quarter before: still rising much means the budget is short). ``seed``: the
    fresh critic's initialisation and data order (default the run's): another seed shows the
    yardstick's own noise."""
    options = json.loads((run / "config.json").read_text())["options"]
    if seed is not None:
        options["seed"] = seed
    generator = export_for_inference(snapshot, work / "generator.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the critic starts untrained": that is the point
        train_from_options(None, options["data"], out=work / "critic", init_from=str(generator),
                           critic_warmup_steps=critic_steps, steps=critic_steps, snapshot_every_steps=critic_steps,
                           log_every_steps=max(1, critic_steps // 40), render_every_steps=0,
                           evaluate_every_steps=0, keep_snapshots=False, device="cpu",
                           **{k: options[k] for k in KEPT if k in options})
    records = [r for r in read_log(work / "critic" / "log.jsonl") if "wasserstein_gap" in r and not r.get("partial")]
    tail = [r for r in records if r["step"] > critic_steps * 3 // 4]
    before = [r for r in records if critic_steps // 2 < r["step"] <= critic_steps * 3 // 4]
    return (float(np.mean([r["wasserstein_gap"] for r in tail])), float(np.mean([r["gradient_penalty"] for r in tail])),
            float(np.mean([r["wasserstein_gap"] for r in before])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--every", type=int, default=3000, help="snapshots whose step is a multiple of this")
    parser.add_argument("--steps", default=None, help="or these snapshot steps (comma-separated)")
    parser.add_argument("--critic-steps", type=int, default=1000, help="the fresh critic's steps (× n_critic updates)")
    parser.add_argument("--seed", type=int, default=None, help="the fresh critic's seed (default: the run's)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = {int(s) for s in args.steps.split(",")} if args.steps else None
    chosen = [(s, p) for s, p in kept_snapshots(args.run) if (s in wanted if wanted else s % args.every == 0)]
    if not chosen:
        raise SystemExit(f"{args.run}: no step-*.safetensors snapshot matches")
    logged = [r for r in read_log(args.run / "log.jsonl") if "wasserstein_gap" in r and not r.get("partial")]
    print(f"{args.run}: a fresh critic, {args.critic_steps} steps against each snapshot's EMA generator")
    print(f"{'step':>7} {'independent_gap':>16} {'quarter_before':>15} {'its_penalty':>12} {'logged_gap':>11}")
    for step, path in chosen:
        with tempfile.TemporaryDirectory() as work:
            gap, penalty, before = independent_gap(args.run, path, args.critic_steps, Path(work), args.seed)
        near = [r["wasserstein_gap"] for r in logged if step - 250 < r["step"] <= step]
        logged_gap = np.mean(near) if near else float("nan")
        print(f"{step:>7} {gap:>16.3f} {before:>15.3f} {penalty:>12.4f} {logged_gap:>11.3f}", flush=True)


if __name__ == "__main__":
    main()
