"""``motiongen impute INPUT [--model CKPT]`` (default: the shipped HG-VAE) (and ``--evaluate`` / ``--calibrate`` on held-out data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from motiongen.cli.console import DeferredProgress, stderr, stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import JsonOption, QuietOption, SkeletonOption
from motiongen.errors import ConfigError


@handle_errors
def impute(
    input_path: Annotated[Optional[Path], typer.Argument(metavar="INPUT", help=".npy [T,J,3] / [N,T,J,3] with NaN where missing, or any motion file (with NaN joints or --mask).", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="HG-VAE: a checkpoint, run folder or shipped name (default: the shipped hgvae-cmu31).", show_default=False)] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output in the input's format (default INPUT.imputed.EXT; - for stdout).", show_default=False)] = None,
    mask: Annotated[Optional[Path], typer.Option("--mask", help=".npy bool [T,J] (or [N,T,J]): True where the joint is observed.", show_default=False)] = None,
    skeleton: SkeletonOption = None,
    steps: Annotated[int, typer.Option("--steps", help="Adam steps on the missing values per window.")] = 20,
    init: Annotated[str, typer.Option("--init", help="Start of the missing values: mean (training mean pose) or interp (linear in time).")] = "mean",
    lr: Annotated[float, typer.Option("--lr", help="Adam step size, in training standard deviations of each coordinate.")] = 0.05,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "cpu",
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Measure HG-VAE against the baselines on held-out clips (--data), instead of imputing INPUT.")] = False,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Store in the checkpoint the range of scores of held-out real clips (--data); inputs scoring outside it are flagged out of distribution.")] = False,
    data: Annotated[Optional[Path], typer.Option("--data", help="Held-out clips: a folder or manifest (for --evaluate / --calibrate).", show_default=False)] = None,
    subjects: Annotated[Optional[str], typer.Option("--subjects", help="Only these subjects of --data, comma-separated (e.g. the ones held out of training).", show_default=False)] = None,
    windows: Annotated[int, typer.Option("--windows", help="--evaluate: held-out windows per occlusion pattern (a seeded sample).")] = 256,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fill missing joints with an HG-VAE: gradient descent on the model's negative log posterior
    over the missing values only; observed values never change. Prints per sequence the missing
    fraction, the score before and after, and whether it looks out of distribution."""
    if model is None:
        from motiongen.pretrained import DEFAULT_IMPUTER

        model = DEFAULT_IMPUTER
    chosen = [name for name, on in (("--evaluate", evaluate), ("--calibrate", calibrate)) if on]
    if len(chosen) > 1:
        raise ConfigError("give --evaluate or --calibrate, not both")
    subject_list = None if subjects is None else [s.strip() for s in subjects.split(",") if s.strip()]
    if chosen:
        if data is None:
            raise ConfigError(f"{chosen[0]} needs --data (held-out clips)")
        if input_path is not None:
            raise ConfigError(f"{chosen[0]} works on --data; drop {input_path}")
        return _held_out(model, data, subject_list, calibrate, steps, init, lr, device, windows, json_output, quiet)
    if input_path is None:
        raise ConfigError("give an INPUT to impute (or --evaluate / --calibrate with --data)")
    from motiongen.api.impute import impute as impute_file

    with DeferredProgress("imputing", quiet or output == "-", unit="windows") as progress:
        result = impute_file(input_path, model, output=output, mask=mask, skeleton=skeleton, steps=steps, init=init,
                             lr=lr, device=device, on_start=progress.start, on_batch=progress.advance)
    if output == "-":
        if not quiet:
            _table(result, stderr)
        return
    if json_output:
        print(json.dumps(result.to_dict(), indent=2))
        return
    stdout.print(str(result.output), highlight=False)
    if not quiet:
        _table(result, stderr)


def _table(result, console) -> None:
    table = Table(title=f"imputed on {result.skeleton}", title_justify="left")
    for column in ("sequence", "frames", "missing", "score before", "score after", "out of distribution"):
        table.add_column(column, justify="left" if column == "sequence" else "right")
    for row in result.sequences:
        flag = "n/a" if row.out_of_distribution is None else ("YES" if row.out_of_distribution else "no")
        table.add_row(row.name, str(row.frames), f"{100 * row.missing_fraction:.1f}%", f"{row.score_before:.3f}",
                      f"{row.score_after:.3f}", flag)
    console.print(table)
    if result.typical_range is None:
        console.print("no out-of-distribution range in this checkpoint: set one with "
                      "motiongen impute --calibrate --data HELDOUT --model CKPT", highlight=False)
    else:
        low, high = result.typical_range
        console.print(f"score = negative ELBO per coordinate; out of distribution outside {low:.3f} … {high:.3f} "
                      "(too unlikely, or too simple to be real: frozen or over-smooth motion)", highlight=False)


def _held_out(model, data, subjects, calibrate, steps, init, lr, device, windows, json_output, quiet) -> None:
    from motiongen.api.impute_evaluation import calibrate_typical_range, evaluate_imputation

    if calibrate:
        result = calibrate_typical_range(model, data, subjects=subjects, device=device)
        if json_output:
            print(json.dumps(result, indent=2))
        else:
            low, high = result["typical_range"]
            stdout.print(f"{result['checkpoint']}: typical scores {low:.4f} … {high:.4f} (the central "
                         f"{result['coverage']:.0%} of {result['windows']} held-out windows)", highlight=False)
        return
    with DeferredProgress("evaluating", quiet, unit="patterns") as progress:
        report = evaluate_imputation(model, data, subjects=subjects, steps=steps, init=init, lr=lr, device=device,
                                     windows=windows, on_start=progress.start, on_pattern=progress.advance)
    if json_output:
        print(json.dumps(report, indent=2))
        return
    stdout.print(report["markdown"], highlight=False, markup=False)
