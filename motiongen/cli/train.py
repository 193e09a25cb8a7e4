"""``motiongen train MODEL --data PATH ...`` (also under ``torchrun --nproc_per_node N -m motiongen``)."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from motiongen.cli.console import RateColumn, progress_bar, stderr, stdout
from motiongen.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, handle_errors, report
from motiongen.cli.options import FpsOption, JsonOption, LabelsOption, LayoutOption, QuietOption, SkeletonOption
from motiongen.errors import ConfigError

EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process ended by it
LOSS_NAMES = {"critic_loss": "D", "wasserstein_gap": "gap", "gradient_penalty": "gp", "generator_loss": "G",
              "elbo": "-ELBO", "nll": "NLL", "kl": "KL", "classify_loss": "CE", "train_accuracy": "accuracy"}


def _csv_numbers(value: str | None, flag: str, kind: type = int) -> list | None:
    if value is None:
        return None
    try:
        return [kind(part) for part in value.split(",") if part.strip()]
    except ValueError:
        what = "whole numbers" if kind is int else "numbers"
        raise ConfigError(f"{flag} takes comma-separated {what}, got {value!r}") from None


def _model_options(pairs: list[str] | None) -> dict:
    config = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--model-option takes KEY=VALUE, got {pair!r}")
        try:
            config[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            config[key.strip()] = text  # a bare word is a string
    return config


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def _one_line_warnings(show: bool):
    """Library warnings (dropped actions, bf16 on CPU, …) as ``warning: …`` lines on stderr, once,
    from rank 0 only."""
    original = warnings.showwarning

    def display(message, category, filename, lineno, file=None, line=None):
        if show:
            stderr.print(f"warning: {message}", highlight=False, markup=False)

    warnings.showwarning = display
    try:
        yield
    finally:
        warnings.showwarning = original


class _Display:
    """Rich progress on stderr, started on the first update (a cached dataset shows no bar):
    clips while the dataset is read, then steps with step rate, ETA and the latest losses."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.data_bar: Progress | None = None
        self.bar: Progress | None = None
        self.task = None

    def data(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.data_bar is None:
            self.data_bar = progress_bar(unit="clips")
            self.data_bar.start()
            self.data_task = self.data_bar.add_task("reading data", total=total)
        self.data_bar.update(self.data_task, completed=done, total=total)

    def __call__(self, status) -> None:
        if self.quiet:
            return
        self._stop_data()
        if self.bar is None:
            self.bar = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), RateColumn("steps"),
                                TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=stderr)
            self.bar.start()
            self.task = self.bar.add_task("training", total=status.total_steps, completed=status.step, losses="")
        losses = "  ".join(f"{short} {status.losses[key]:.3g}" for key, short in LOSS_NAMES.items()
                           if key in status.losses)
        self.bar.update(self.task, completed=status.step, losses=losses)

    def _stop_data(self) -> None:
        if self.data_bar is not None:
            self.data_bar.stop()
            self.data_bar = None

    def stop(self) -> None:
        self._stop_data()
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@handle_errors
def train(
    model: Annotated[Optional[str], typer.Argument(help="Model to train: kinetic-gan, csgn, larnet, hgvae or recognizer (optional with --resume or --init-from).", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", "-d", help="Dataset: a folder of motion files (with manifest.csv, or labelled by folder names), a manifest .csv, or NTU arrays (.npy/.npz).", show_default=False)] = None,
    skeleton: SkeletonOption = None,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Training window length in frames (default 64).", show_default=False)] = None,
    fps: FpsOption = None,
    stride: Annotated[Optional[int], typer.Option("--stride", help="Frames between window starts (default frames/2).", show_default=False)] = None,
    layout: LayoutOption = None,
    labels: LabelsOption = None,
    holdout_subjects: Annotated[Optional[str], typer.Option("--holdout-subjects", help="Comma-separated subjects kept out of training (e.g. 06,35).", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Windows per process per step (default 32).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Generator steps to train for (default 10000).", show_default=False)] = None,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Train for this many passes of the critic over the data (instead of --steps).", show_default=False)] = None,
    lr_generator: Annotated[Optional[float], typer.Option("--lr-g", help="Generator learning rate (Adam) (default 2e-4).", show_default=False)] = None,
    lr_critic: Annotated[Optional[float], typer.Option("--lr-d", help="Critic learning rate (Adam) (default 2e-4).", show_default=False)] = None,
    lr_decay_steps: Annotated[Optional[int], typer.Option("--lr-decay-steps", help="Both learning rates fall linearly to 0 over the last N steps (default 0: constant).", show_default=False)] = None,
    critic_warmup_steps: Annotated[Optional[int], typer.Option("--critic-warmup-steps", help="Train the critic alone for the first N steps, the generator waiting: for a fine-tune (--init-from) of a file without a critic (default 0).", show_default=False)] = None,
    betas: Annotated[Optional[str], typer.Option("--betas", help="Adam's β1,β2 for both networks (default 0.5,0.999, the recogniser 0.9,0.999; WGAN-GP's paper used 0,0.9).", show_default=False)] = None,
    n_critic: Annotated[Optional[int], typer.Option("--n-critic", help="Critic steps per generator step (default 5).", show_default=False)] = None,
    gp_weight: Annotated[Optional[float], typer.Option("--gp-weight", help="WGAN-GP gradient-penalty weight λ (default 10).", show_default=False)] = None,
    mapping_depth: Annotated[Optional[int], typer.Option("--mapping-depth", help="Kinetic-GAN mapping-network depth (model default: 4).", show_default=False)] = None,
    channels: Annotated[Optional[str], typer.Option("--channels", help="Generator widths, comma-separated (model default when absent).", show_default=False)] = None,
    model_option: Annotated[Optional[list[str]], typer.Option("--model-option", help="Any model config field as KEY=VALUE (JSON value), repeatable.", show_default=False)] = None,
    precision: Annotated[Optional[str], typer.Option("--precision", help="fp32, or bf16 (autocast; CUDA only) (default fp32).", show_default=False)] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the networks' forwards (default off).", show_default=False)] = None,
    ema_halflife_steps: Annotated[Optional[float], typer.Option("--ema-halflife-steps", help="Half-life of the generator's moving average, in steps (default 500).", show_default=False)] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="auto, cpu or cuda (default auto).", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of initialisation, data order, latents and augmentation (default 0).", show_default=False)] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Mirror and rotate real windows (default on).", show_default=False)] = None,
    keep_handedness: Annotated[Optional[str], typer.Option("--keep-handedness", help="Comma-separated actions never mirrored (one-handed ones, e.g. wash_window,punching); the rest at --mirror-probability.", show_default=False)] = None,
    mirror_probability: Annotated[Optional[float], typer.Option("--mirror-probability", help="With --augment: the share of real windows mirrored left/right (default 0.5; 0 keeps each clip's handedness, e.g. one-handed actions).", show_default=False)] = None,
    balance_actions: Annotated[Optional[float], typer.Option("--balance-actions", help="Draw each action in proportion to its windows^(1 − B): 0 = as the data has them (default), 1 = every action equally often (rare actions repeat their windows).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder (default runs/MODEL).", show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the run in this folder exactly where it stopped.", show_default=False)] = None,
    init_from: Annotated[Optional[str], typer.Option("--init-from", help="Fine-tune: start a new run from this checkpoint's weights (same model, skeleton and actions; --model-option may switch losses).", show_default=False)] = None,
    snapshot_every: Annotated[Optional[int], typer.Option("--snapshot-every", help="Write last.safetensors every N steps (default 1000).", show_default=False)] = None,
    keep_snapshots: Annotated[Optional[bool], typer.Option("--keep-snapshots/--no-keep-snapshots", help="Also keep step-XXXXXXX.safetensors at each snapshot.", show_default=False)] = None,
    render_every: Annotated[Optional[int], typer.Option("--render-every", help="Draw samples/step-N.png (one row per action) every N steps; 0 = never (default 1000).", show_default=False)] = None,
    recognizer: Annotated[Optional[str], typer.Option("--recognizer", help="Frozen recogniser for --eval-every (motiongen train recognizer ...).", show_default=False)] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every", help="Every N steps log FID, accuracy, diversity and multimodality of 256 EMA samples against the recogniser's held-out clips; 0 = never (default).", show_default=False)] = None,
    log_every: Annotated[Optional[int], typer.Option("--log-every", help="One log.jsonl line every N steps (default 50).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved configuration (JSON) and exit without training.")] = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train a motion model on your motion data: the GANs (WGAN-GP), LARNet, HG-VAE (for impute) or the
    ST-GCN recogniser (for evaluate); resumable, multi-GPU with torchrun."""
    model_config = _model_options(model_option)
    if mapping_depth is not None:
        model_config["mapping_depth"] = mapping_depth
    widths = _csv_numbers(channels, "--channels")
    if widths is not None:
        model_config["channels"] = widths
    holdout = None if holdout_subjects is None else [s.strip() for s in holdout_subjects.split(",") if s.strip()]
    # torch loads here, not at CLI start-up, so `motiongen convert` and `--help` stay quick
    from motiongen.api.train import train_from_options
    from motiongen.training.loop import TrainingDiverged

    main_process = _is_main_process()
    quiet = quiet or not main_process
    display = _Display(quiet or dry_run)
    try:
        with _one_line_warnings(main_process):
            result = train_from_options(
                model, data, out=out, resume=resume, dry_run=dry_run, progress=display, data_progress=display.data,
                skeleton=skeleton, frames=frames, fps=fps, stride=stride, layout=layout,
                labels=None if labels is None else str(labels), holdout_subjects=holdout, batch_size=batch_size,
                steps=steps, epochs=epochs, lr_generator=lr_generator, lr_critic=lr_critic,
                lr_decay_steps=lr_decay_steps, critic_warmup_steps=critic_warmup_steps,
                betas=_csv_numbers(betas, "--betas", float), n_critic=n_critic,
                gp_weight=gp_weight, model_config=model_config or None, precision=precision, compile=compile,
                ema_halflife_steps=ema_halflife_steps, device=device, seed=seed, augment=augment, mirror_probability=mirror_probability,
                keep_handedness=None if keep_handedness is None else [a.strip() for a in keep_handedness.split(",") if a.strip()],
                balance_actions=balance_actions,
                snapshot_every_steps=snapshot_every, keep_snapshots=keep_snapshots, log_every_steps=log_every,
                render_every_steps=render_every, recognizer=recognizer, evaluate_every_steps=eval_every,
                init_from=init_from)
    except TrainingDiverged as exc:  # the run failed, not the request: exit 1
        display.stop()
        report(str(exc))
        raise typer.Exit(EXIT_FAILURE) from None
    finally:
        display.stop()
    if dry_run:
        if main_process:
            print(json.dumps(result.to_dict(), indent=2))
        return
    _finish(result, main_process, quiet, json_output)


def _finish(result, main_process: bool, quiet: bool, json_output: bool) -> None:
    if main_process:
        if json_output:
            print(json.dumps({"run_dir": str(result.run_dir), "checkpoint": str(result.checkpoint),
                              "step": result.step, "interrupted": result.interrupted, "losses": result.losses,
                              "seconds": round(result.seconds, 3)}))
        else:
            stdout.print(str(result.checkpoint), highlight=False)
        if not quiet:
            losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items() if k in LOSS_NAMES)
            stderr.print(f"step {result.step} in {result.seconds:.1f} s; {losses}", highlight=False)
    if result.interrupted:
        if main_process:
            what = {"SIGINT": "interrupted", "SIGTERM": "terminated"}.get(result.interrupted, "stopped")
            stderr.print(f"{what} at step {result.step}; checkpoint {result.checkpoint} written; "
                         f"continue with: motiongen train --resume {result.run_dir}", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED if result.interrupted == "SIGINT" else EXIT_TERMINATED)

