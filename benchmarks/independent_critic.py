"""The Wasserstein distance from a GAN run's samples to its data, read at several snapshots by
one yardstick: a fresh critic (same architecture, same initialisation, same data, augmentation
and losses as the run's) trained alone for a fixed number of steps against the snapshot's EMA
generator, frozen. Its gap E[D(x)] − E[D(G(z))] over its last quarter of steps is the estimate
(the "independent critic" of Im et al., "Quantitatively Evaluating GANs with Divergences Proposed
for Training", ICLR 2018; Danihelka et al. 2017).

Why: the gap a run logs is read by a critic that keeps getting stronger alongside the generator, so
it can rise while the generator improves. A critic of fixed budget, the same for every snapshot,
separates the two: its gap falls when the samples come closer to the data.

    python benchmarks/independent_critic.py RUN… [--every 3000] [--critic-steps 600] [--steps 1000,6000]
        [--seed S] [--n-critic N] [--plot gaps.png] [--tables SAVED_OUTPUT…]

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
        "betas", "n_critic", "gp_weight", "drift_weight", "grad_clip_norm", "seed", "augment",
        "mirror_probability", "keep_handedness", "balance_actions")


def independent_gap(run: Path, snapshot: Path, critic_steps: int, work: Path,
                    seed: int | None = None, n_critic: int | None = None) -> tuple[float, float, float]:
    """(mean gap over the last quarter of the fresh critic's steps, its gradient penalty there, the
    mean gap over the quarter before: still rising much means the budget is short). ``seed``: the
    fresh critic's initialisation and data order (default the run's): another seed shows the
    yardstick's own noise. ``n_critic``: its updates per step (default the run's); runs trained
    with different n_critic are read on one yardstick only when it is the same for both."""
    options = json.loads((run / "config.json").read_text())["options"]
    if seed is not None:
        options["seed"] = seed
    if n_critic is not None:
        options["n_critic"] = n_critic
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


def read_table(path: Path) -> list[tuple[int, float]]:
    """(step, independent gap) rows from this script's printed table (to redraw without retraining)."""
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(row[0]), float(row[1])) for row in rows if len(row) == 5 and row[0].isdigit()]


def measure(run: Path, args) -> list[tuple[int, float]]:
    """Train a fresh critic against each chosen snapshot of ``run``; print and return the readings."""
    wanted = {int(s) for s in args.steps.split(",")} if args.steps else None
    chosen = [(s, p) for s, p in kept_snapshots(run) if (s in wanted if wanted else s % args.every == 0)]
    if not chosen:
        raise SystemExit(f"{run}: no step-*.safetensors snapshot matches")
    logged = logged_gaps(run)
    print(f"{run}: a fresh critic, {args.critic_steps} steps against each snapshot's EMA generator")
    print(f"{'step':>7} {'independent_gap':>16} {'quarter_before':>15} {'its_penalty':>12} {'logged_gap':>11}")
    readings = []
    for step, path in chosen:
        with tempfile.TemporaryDirectory() as work:
            gap, penalty, before = independent_gap(run, path, args.critic_steps, Path(work), args.seed, args.n_critic)
        near = logged[1][(logged[0] > step - 250) & (logged[0] <= step)]
        logged_gap = near.mean() if len(near) else float("nan")
        print(f"{step:>7} {gap:>16.3f} {before:>15.3f} {penalty:>12.4f} {logged_gap:>11.3f}", flush=True)
        readings.append((step, gap))
    return readings


def logged_gaps(run: Path) -> tuple[np.ndarray, np.ndarray]:
    records = [r for r in read_log(run / "log.jsonl") if "wasserstein_gap" in r and not r.get("partial")]
    return np.array([r["step"] for r in records]), np.array([r["wasserstein_gap"] for r in records])


def plot(runs: list[Path], readings: list[list[tuple[int, float]]], output: Path) -> None:
    """One panel per run: the gap it logged (thin, and its running mean) and the fresh critics'."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from motiongen.formats._io import atomic_write
    from motiongen.render.curves import LINE_RGB, TREND_RGB, running_mean

    figure = Figure(figsize=(4.2 * len(runs), 3.4), dpi=100)
    FigureCanvasAgg(figure)
    for k, (run, points) in enumerate(zip(runs, readings)):
        axes = figure.add_subplot(1, len(runs), k + 1)
        steps, gaps = logged_gaps(run)
        axes.plot(steps, gaps, color=LINE_RGB, alpha=0.3, linewidth=0.7)
        axes.plot(steps, running_mean(gaps, max(1, len(gaps) // 20)), color=LINE_RGB, linewidth=1.5,
                  label="logged (the run's own critic)")
        axes.plot(*zip(*points), "o-", color=TREND_RGB, linewidth=1.5, markersize=5,
                  label="fresh critic, fixed budget")
        axes.axhline(0.0, color="0.5", linewidth=0.6)
        model = json.loads((run / "config.json").read_text())["model"]
        axes.set_title(f"{model} ({run.name})", fontsize=9)
        axes.set_xlabel("generator step", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        if k == 0:
            axes.set_ylabel("Wasserstein gap", fontsize=8)
            axes.legend(fontsize=7)
    figure.tight_layout()
    with atomic_write(output, binary=True) as stream:
        figure.savefig(stream, format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--every", type=int, default=3000, help="snapshots whose step is a multiple of this")
    parser.add_argument("--steps", default=None, help="or these snapshot steps (comma-separated)")
    parser.add_argument("--critic-steps", type=int, default=600, help="the fresh critic's steps (× n_critic updates)")
    parser.add_argument("--seed", type=int, default=None, help="the fresh critic's seed (default: the run's)")
    parser.add_argument("--n-critic", type=int, default=None,
                        help="the fresh critic's updates per step (default: the run's; fix it to compare runs)")
    parser.add_argument("--tables", type=Path, nargs="+", default=None,
                        help="this script's earlier output, one per run: redraw those readings, train nothing")
    parser.add_argument("--plot", type=Path, default=None, help="draw the logged and the fresh critics' gaps (PNG)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tables is not None and len(args.tables) != len(args.runs):
        raise SystemExit(f"--tables needs one table per run ({len(args.runs)}), got {len(args.tables)}")
    readings = ([read_table(table) for table in args.tables] if args.tables is not None
                else [measure(run, args) for run in args.runs])
    if args.plot is not None:
        plot(args.runs, readings, args.plot)


if __name__ == "__main__":
    main()
