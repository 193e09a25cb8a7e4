"""``impute --evaluate`` and ``impute --calibrate``: HG-VAE on held-out clips, honestly measured.

Evaluation repeats the HG-VAE paper's experiment — random single coordinates hidden at 1–90% —
plus the structured cases users meet (whole joints, a whole limb, every joint for a time span),
on non-overlapping windows of held-out clips, and scores HG-VAE (started from the training mean,
as the paper, and from temporal interpolation) against zero-fill, mean-fill (the training mean
pose at the window's place: HG-VAE's own starting point), last-observed value and linear
interpolation (the last two fall back to mean-fill for a coordinate hidden in its whole window).
Errors are over the hidden coordinates only: MSE (mm²) and mean per-joint position
error (mm) over joints with any hidden coordinate.

Out-of-distribution is a typicality test on the same score (Nalisnick et al., "Detecting
out-of-distribution inputs to deep generative models using typicality", 2019): a window is flagged
when its score falls outside the central range of real held-out windows' scores. Two-sided because
a likelihood model finds frozen or over-smooth motion *more* probable than real motion (measured
here: a held pose scores below nearly every real window), so an upper threshold alone never flags
it. The range is set on one half of the clean held-out windows (central 95%) and the flag rates
are measured on the other half: clean, with Gaussian noise, with the second half of each window
frozen, and with the whole window frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from motiongen.errors import ConfigError
from motiongen.inference.imputation import DEFAULT_LR, impute_windows, initial_fill

SEED = 20221
OOD_COVERAGE = 0.95  # evaluation: the central 95% of the calibration half
CALIBRATION_COVERAGE = 0.99  # --calibrate: the central 99% (1% of real windows flagged)
NOISE_M = 0.03  # standard deviation of the noise added for the OOD check, metres
METHODS = ("hgvae", "hgvae-interp", "zero", "mean", "last", "interp")


def held_out_windows(checkpoint, data: str | Path, subjects=None) -> np.ndarray:
    """Non-overlapping windows ``[N, T, J, 3]`` of the clips in ``data`` on the model's skeleton,
    frame rate and window length (every clip counted; no action dropped)."""
    from motiongen.data import prepare_dataset

    dataset = prepare_dataset(data, skeleton=checkpoint.skeleton, frames=int(checkpoint.frames), fps=checkpoint.fps,
                              stride=int(checkpoint.frames), subjects=subjects)
    return np.asarray(dataset.windows, dtype=np.float32)


def typical_range(scores: np.ndarray, coverage: float) -> tuple[float, float]:
    """The central ``coverage`` of ``scores``."""
    tail = (1.0 - coverage) / 2.0
    low, high = np.quantile(scores, [tail, 1.0 - tail])
    return float(low), float(high)


def calibrate_typical_range(model_path: str | Path, data: str | Path, subjects=None, device: str = "cpu") -> dict:
    """Store the central 99% of clean held-out windows' scores in the checkpoint as the range of
    typical scores; `impute` flags inputs outside it."""
    import torch

    from motiongen.api.impute import load_imputer
    from motiongen.training.checkpoint import update_metadata

    model, checkpoint = load_imputer(model_path, device)
    windows = held_out_windows(checkpoint, data, subjects)
    with torch.no_grad():
        scores = _scores(model, windows, device)
    low, high = typical_range(scores, CALIBRATION_COVERAGE)
    update_metadata(checkpoint.path, ood_typical_range=[low, high],
                    ood_calibration={"data": str(data), "subjects": subjects, "windows": int(len(windows)),
                                     "coverage": CALIBRATION_COVERAGE})
    return {"checkpoint": str(checkpoint.path), "typical_range": [low, high], "windows": int(len(windows)),
            "coverage": CALIBRATION_COVERAGE}


def _scores(model, windows: np.ndarray, device) -> np.ndarray:
    import torch

    out = []
    for start in range(0, len(windows), 256):  # batches of windows
        batch = torch.as_tensor(windows[start:start + 256], device=device)
        out.append(model.score(batch).cpu().numpy())
    return np.concatenate(out)


def evaluate_imputation(model_path: str | Path, data: str | Path, subjects=None, steps: int = 20, init: str = "mean",
                        lr: float = DEFAULT_LR, device: str = "cpu", windows: int = 256,
                        on_start: Callable[[int], None] | None = None,
                        on_pattern: Callable[[], None] | None = None) -> dict:
    """The table of errors per occlusion pattern and method, the OOD rates, and a markdown rendering."""
    from motiongen.api.impute import load_imputer
    from motiongen.api.sample import resolve_device
    from motiongen.inference.baselines import BASELINES
    from motiongen.inference.occlusion import PATTERNS, make_missing
    from motiongen.metrics.imputation import imputation_errors

    if isinstance(windows, bool) or int(windows) != windows or windows < 2:
        raise ConfigError(f"--windows must be a whole number ≥ 2, got {windows!r}")
    torch_device = resolve_device(device)
    model, checkpoint = load_imputer(model_path, torch_device)
    everything = held_out_windows(checkpoint, data, subjects)
    rng = np.random.default_rng(SEED)
    if len(everything) > windows:
        everything = everything[np.sort(rng.choice(len(everything), int(windows), replace=False))]
    truth = everything
    names = list(PATTERNS)
    if on_start is not None:
        on_start(len(names) + 1)
    rows = []
    for name in names:
        missing = make_missing(name, checkpoint.skeleton, truth.shape, np.random.default_rng([SEED, names.index(name)]))
        corrupted = np.where(missing, np.nan, truth).astype(np.float32)
        # A coordinate hidden in its whole window (a hidden joint or limb) has no time series to
        # carry or interpolate: last-observed and interpolation then use mean-fill's value for it,
        # the training mean pose at the window's place, not a mean from other windows.
        mean_pose = model.start_pose(corrupted, missing)
        mean_fill = initial_fill(corrupted, missing, mean_pose, "mean")
        never_seen = np.broadcast_to(missing.all(axis=1, keepdims=True), missing.shape)
        filled = {
            "hgvae": impute_windows(model, corrupted, steps=steps, init="mean", lr=lr, device=torch_device).filled,
            "hgvae-interp": impute_windows(model, corrupted, steps=steps, init="interp", lr=lr,
                                           device=torch_device).filled,
            "zero": BASELINES["zero"](corrupted, missing),
            "mean": mean_fill,
            "last": np.where(never_seen, mean_fill, BASELINES["last"](corrupted, missing)),
            "interp": initial_fill(corrupted, missing, mean_pose, "interp"),
        }
        errors = {method: imputation_errors(truth, filled[method], missing) for method in METHODS}
        rows.append({"pattern": name, "missing_fraction": float(missing.mean()), "errors": errors})
        if on_pattern is not None:
            on_pattern()
    ood = _ood_rates(model, truth, torch_device, rng)
    if on_pattern is not None:
        on_pattern()
    report = {"checkpoint": str(checkpoint.path), "data": str(data), "subjects": subjects, "windows": int(len(truth)),
              "frames": int(checkpoint.frames), "fps": checkpoint.fps, "skeleton": checkpoint.skeleton.name,
              "steps": int(steps), "lr": float(lr), "rows": rows, "ood": ood}
    report["markdown"] = to_markdown(report)
    return report


def _ood_rates(model, windows: np.ndarray, device, rng) -> dict:
    import torch

    order = rng.permutation(len(windows))
    calibration, test = windows[order[: len(order) // 2]], windows[order[len(order) // 2:]]
    noisy = test + rng.normal(0.0, NOISE_M, test.shape).astype(np.float32)
    frozen = test.copy()
    half = test.shape[1] // 2
    frozen[:, half:] = test[:, half:half + 1]
    still = np.repeat(test[:, :1], test.shape[1], axis=1)
    with torch.no_grad():
        low, high = typical_range(_scores(model, calibration, device), OOD_COVERAGE)
        scores = {kind: _scores(model, data, device) for kind, data in
                  (("clean", test), ("noise", noisy), ("frozen_half", frozen), ("frozen", still))}
    rates = {kind: float(((s < low) | (s > high)).mean()) for kind, s in scores.items()}
    medians = {kind: float(np.median(s)) for kind, s in scores.items()}
    return {"typical_range": [low, high], "coverage": OOD_COVERAGE, "noise_m": NOISE_M, "windows": int(len(test)),
            "flagged": rates, "median_score": medians}


def to_markdown(report: dict) -> str:
    """The evaluation as markdown tables (what goes into benchmarks/RESULTS.md)."""
    header = "| pattern | hidden | " + " | ".join(METHODS) + " |"
    lines = [f"Held-out windows: {report['windows']} × {report['frames']} frames at {report['fps']:g} fps on "
             f"{report['skeleton']}; HG-VAE {report['steps']} Adam steps.", "",
             "Mean per-joint position error over joints with a hidden coordinate (mm; lower is better):", "",
             header, "|" + " --- |" * (len(METHODS) + 2)]
    for row in report["rows"]:
        values = [row["errors"][m]["mpjpe_mm"] for m in METHODS]
        best = min(values)
        cells = [f"**{v:.1f}**" if v == best else f"{v:.1f}" for v in values]
        lines.append(f"| {row['pattern']} | {100 * row['missing_fraction']:.1f}% | " + " | ".join(cells) + " |")
    lines += ["", "MSE over hidden coordinates (mm²):", "", header, "|" + " --- |" * (len(METHODS) + 2)]
    for row in report["rows"]:
        values = [row["errors"][m]["mse_mm2"] for m in METHODS]
        best = min(values)
        cells = [f"**{v:.0f}**" if v == best else f"{v:.0f}" for v in values]
        lines.append(f"| {row['pattern']} | {100 * row['missing_fraction']:.1f}% | " + " | ".join(cells) + " |")
    ood = report["ood"]
    low, high = ood["typical_range"]
    lines += ["", f"Out-of-distribution flag (score outside {low:.3f} … {high:.3f}, the central "
                  f"{ood['coverage']:.0%} of half the clean windows; rates on the other {ood['windows']}):", "",
              "| windows | flagged | median score |", "| --- | ---: | ---: |"]
    for kind, label in (("clean", "real, clean"), ("noise", f"Gaussian noise σ = {100 * ood['noise_m']:.0f} cm"),
                        ("frozen_half", "second half frozen"), ("frozen", "whole window frozen")):
        lines.append(f"| {label} | {100 * ood['flagged'][kind]:.0f}% | {ood['median_score'][kind]:.4g} |")
    return "\n".join(lines)
