"""``motiongen evaluate CHECKPOINT --data HELDOUT --recognizer R``: classifier FID, accuracy,
diversity, multimodality, MMD and plausibility of a generator, next to real clips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from motiongen.cli.console import DeferredProgress, stderr, stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import JsonOption, QuietOption
from motiongen.errors import ConfigError


@handle_errors
def evaluate(
    model: Annotated[str, typer.Argument(metavar="CHECKPOINT", help="Generator checkpoint (kinetic-gan, csgn or larnet) or its run folder.", show_default=False)],
    data: Annotated[Optional[Path], typer.Option("--data", help="Real clips: a folder or manifest; the test set is its held-out subjects.", show_default=False)] = None,
    recognizer: Annotated[Optional[str], typer.Option("--recognizer", help="Frozen recogniser: a checkpoint (motiongen train recognizer ...) or a shipped name (default recognizer-cmu31).", show_default=False)] = None,
    samples: Annotated[int, typer.Option("--samples", help="Generated clips per round.")] = 500,
    repeats: Annotated[int, typer.Option("--repeats", help="Rounds with fresh samples; figures are mean ± 95% interval over them.")] = 20,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Length of the generated clips (default the generator's training window, at least the recogniser's); longer clips are also scored window by window.", show_default=False)] = None,
    subjects: Annotated[Optional[str], typer.Option("--subjects", help="Test subjects, comma-separated (default: the ones the recogniser was trained without).", show_default=False)] = None,
    truncation: Annotated[Optional[float], typer.Option("--truncation", help="Truncation ψ (default the checkpoint's).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sample k of round r uses seed SEED + r·samples + k.")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    plot: Annotated[Optional[Path], typer.Option("--plot", help="PNG of FID per window along the clip.", show_default=False)] = None,
    as_bvh: Annotated[bool, typer.Option("--as-bvh", help="Score the clips as sample writes them to BVH (feet planted, IK onto the generator's skeleton: fixed bone lengths).")] = False,
    plant_feet: Annotated[Optional[bool], typer.Option("--plant-feet/--no-plant-feet", help="Hold feet on the floor still as sample does (default: with --as-bvh).", show_default=False)] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Measure a generator the way action-conditioned generation papers do, with motiongen's own
    frozen ST-GCN recogniser: FID (and the real train-vs-test floor), recognition accuracy,
    diversity, multimodality, MMD_a / MMD_s, bone-length variation, foot skating and jitter, each
    beside the figure for real clips."""
    from motiongen.api.evaluate import evaluate as run_evaluation

    if data is None:
        raise ConfigError("--data is required: the real clips (the recogniser's held-out subjects are the test set)")
    subject_list = None if subjects is None else [s.strip() for s in subjects.split(",") if s.strip()]
    with DeferredProgress("evaluating", quiet, unit="rounds") as progress:
        report = run_evaluation(model, data, recognizer, samples=samples, repeats=repeats, frames=frames,
                                subjects=subject_list, truncation=truncation, seed=seed, device=device, plot=plot, as_bvh=as_bvh,
                                plant_feet=plant_feet, on_start=progress.start, on_step=progress.advance)
    if json_output:
        print(json.dumps({k: v for k, v in report.items() if k != "markdown"}, indent=2))
        return
    _tables(report)
    if plot is not None and not quiet:
        stderr.print(f"per-window FID: {report['plot']}", highlight=False)


def _tables(report: dict) -> None:
    from motiongen.api.evaluate import LABELS, METRICS, format_figure

    table = Table(title=f"{report['generator_kind']} {Path(report['generator']).name} · {report['repeats']} rounds × "
                        f"{report['samples']} clips of {report['frames']} frames · test subjects "
                        f"{', '.join(report['test_subjects'])} ({report['test_windows']} windows)",
                  title_justify="left", caption=f"recogniser {report['recognizer']} sha256 {report['recognizer_sha256']}",
                  caption_justify="left")
    table.add_column("metric")
    table.add_column("generated", justify="right")
    table.add_column("real", justify="right")
    for key in METRICS:
        value = report["metrics"][key]
        table.add_row(LABELS[key], format_figure(value["generated"]), format_figure(value["real"]))
    stdout.print(table)
    rows = report["per_window_fid"]
    if len(rows) > 1:
        along = Table(title="FID per window along the clip", title_justify="left")
        along.add_column("window start (s)", justify="right")
        along.add_column("FID", justify="right")
        along.add_column("body height (m)", justify="right")
        for row in rows:
            along.add_row(f"{row['start_s']:.1f}", f"{row['fid']:.2f} ± {row['interval']:.2f}", f"{row['height_m']:.2f}")
        stdout.print(along)
        stdout.print(f"last / first window FID: {report['last_to_first_fid']:.2f}; body height: "
                     f"{report['last_to_first_height']:.2f} (real clips {report['real_height_m']:.2f} m)", highlight=False)
    if report["actions_skipped"]:
        stdout.print(f"test actions the generator does not know (left out): {', '.join(report['actions_skipped'])}",
                     highlight=False)
