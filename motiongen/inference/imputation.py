"""Imputation by gradient descent on HG-VAE's negative log posterior (DESIGN §6.4).

For a window x = (x_obs, x_mis), ``p(x_mis | x_obs) ∝ p(x_obs, x_mis)``, so the negative log
posterior of the missing values is ``−log p(x)`` up to a constant, and Adam on x_mis alone
(observed values fixed) descends it. Its gradient is taken by Fisher's identity,
``∇ₓ log p(x) = E_{p(z|x)}[∇ₓ log p(x|z)]``: the likelihood's gradient with the latents held at
their posterior means (`HGVAE.posterior_energy`). Differentiating the ELBO through the encoder
as well (tried first) rewards fills the autoencoder reproduces, and almost any fill is then a fixed
point: on 32 held-out CMU windows with one hidden joint (a half-trained model) it stayed at 70 mm
after 20 steps where the likelihood gradient reached 67 mm and, after 100, 34 mm. The descent is
only as good as the model's density: on random single coordinates the trained model scores fills
far from the truth as more probable, and more steps make those worse (benchmarks/RESULTS.md). Which step to keep is judged by
`HGVAE.score`, the negative ELBO with latents at their posterior means (deterministic). The public code of the paper arranges its input as
frames × coordinates, starts missing values from noise and barely moves them; here the missing
values start from the training mean (or temporal interpolation) in the window's own place, live in
normalised units (one Adam learning rate fits every coordinate), and every window keeps the
step with the lowest score, so more steps can never make a window worse by that score.

Long sequences are cut into windows overlapping by half, imputed together in batches, and blended
with triangular weights; a sequence shorter than the window is padded by repeating its ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from motiongen.errors import ConfigError

INITS = ("mean", "interp")
DEFAULT_STEPS = 20
DEFAULT_LR = 0.05  # in units of each coordinate's training standard deviation
BATCH_WINDOWS = 256


@dataclass
class WindowImputation:
    filled: np.ndarray  # float32 [W, T, J, 3]
    score_before: np.ndarray  # [W] score of the initial fill
    score_after: np.ndarray  # [W] score of the kept (best) step
    best_step: np.ndarray  # [W] which step was kept (0 = the initial fill)


def mean_pose_fill(windows: np.ndarray, missing: np.ndarray, mean_pose: np.ndarray) -> np.ndarray:
    """The training mean pose, translated in every frame to fit that frame's observed coordinates
    (least squares: the mean residual), at the missing entries.

    ``mean_pose [J, 3]`` (or one per window, ``[W, J, 3]``) is HG-VAE's ``position_mean`` (facing
    each window's way: `HGVAE.start_pose`): joints 1.. as offsets from the root, the root's entry
    its mean place in a window (height = mean root height). A frame with nothing
    observed in a coordinate takes the translation interpolated from its neighbours, and a window
    with nothing observed in it the mean root height and the origin."""
    from motiongen.inference.baselines import linear_interpolation

    offsets = np.array(mean_pose, dtype=np.float64)
    if offsets.ndim == 2:
        offsets = np.broadcast_to(offsets, (len(windows), *offsets.shape)).copy()
    offsets[:, 0] = 0.0  # the root sits on the translation itself
    observed = ~missing
    residual = np.where(observed, windows - offsets[:, None], 0.0).sum(axis=2)  # [W, T, 3]
    counts = observed.sum(axis=2)
    seen = counts > 0
    translation = np.where(seen, residual / np.maximum(counts, 1), 0.0)
    some = seen.any(axis=1, keepdims=True)  # [W, 1, 3]
    gaps = ~seen & np.broadcast_to(some, seen.shape)
    if gaps.any():
        translation = linear_interpolation(translation[:, :, None, :], gaps[:, :, None, :])[:, :, 0, :]
    height = np.asarray(mean_pose, dtype=np.float64)[..., 0, 1]
    default = np.stack(np.broadcast_arrays(0.0, height, 0.0), axis=-1).reshape(-1, 1, 3)
    translation = np.where(np.broadcast_to(some, seen.shape), translation, default)
    fill = translation[:, :, None, :] + offsets[:, None]
    return np.where(missing, fill, windows)


def initial_fill(windows: np.ndarray, missing: np.ndarray, mean_pose: np.ndarray, init: str) -> np.ndarray:
    """Missing entries from the training mean pose fitted to each frame's observed joints ("mean",
    `mean_pose_fill`), or from linear interpolation in time with that as the fallback for a
    coordinate hidden in the whole window ("interp")."""
    if init not in INITS:
        raise ConfigError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    filled = mean_pose_fill(windows, missing, mean_pose)
    if init == "interp":
        from motiongen.inference.baselines import linear_interpolation

        never_seen = missing.all(axis=1, keepdims=True)  # a coordinate missing in the whole window
        interpolated = linear_interpolation(np.where(missing, 0.0, windows), missing & ~never_seen)
        filled = np.where(missing & ~never_seen, interpolated, filled)
    return filled.astype(np.float32)


def impute_windows(model, windows: np.ndarray, steps: int = DEFAULT_STEPS, init: str = "mean",
                   lr: float = DEFAULT_LR, labels: np.ndarray | None = None, device: torch.device | str = "cpu",
                   on_batch: Callable[[int], None] | None = None) -> WindowImputation:
    """Impute NaN entries of ``windows [W, T, J, 3]`` (metres, T = the model's window)."""
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ConfigError(f"--steps must be a whole number ≥ 1, got {steps!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ConfigError(f"the learning rate must be positive, got {lr}")
    windows = np.asarray(windows, dtype=np.float32)
    missing = ~np.isfinite(windows)
    start = initial_fill(windows, missing, model.start_pose(windows, missing), init)
    results = [_impute_batch(model, start[k:k + BATCH_WINDOWS], missing[k:k + BATCH_WINDOWS], int(steps), float(lr),
                             None if labels is None else labels[k:k + BATCH_WINDOWS], torch.device(device), on_batch)
               for k in range(0, len(windows), BATCH_WINDOWS)]  # batches of windows, not single windows
    return WindowImputation(*(np.concatenate(parts) for parts in zip(*results)))


def _impute_batch(model, start, missing, steps, lr, labels, device, on_batch):
    model = model.to(device).eval()
    std = model.position_std.detach().to(device)
    base = torch.as_tensor(start, device=device)
    hole = torch.as_tensor(missing, device=device)
    label_tensor = None if labels is None else torch.as_tensor(labels, device=device)
    # the missing values, in units of their coordinate's standard deviation, as offsets from the start
    delta = torch.zeros(int(hole.sum()), device=device, requires_grad=True)
    scale = std.expand_as(base)[hole]
    optimizer = _Adam(delta, lr)

    def current() -> torch.Tensor:
        values = base.clone()
        values[hole] = base[hole] + delta * scale
        return values

    # Each pass scores the current fill and gives the gradient that moves it, so step k's fill is
    # judged in pass k + 1 (one forward pass per step; the last fill gets a pass of its own).
    best, best_score = base.clone(), None
    best_step = torch.zeros(len(base), dtype=torch.long, device=device)
    needs_work = hole.flatten(1).any(1)
    steps = steps if bool(needs_work.any()) else 0
    for step in range(steps + 1):  # optimiser steps: the loop is the method
        values = current()
        if step == steps:
            with torch.no_grad():
                score = model.score(values, label_tensor)
        else:
            energy, score = model.energy_and_score(values, label_tensor)
            # the gradient of the fill alone: the weights' gradients are never formed
            (gradient,) = torch.autograd.grad(energy.sum(), delta)
        with torch.no_grad():
            if best_score is None:
                before = best_score = score.clone()
            else:
                better = (score < best_score) & needs_work
                best = torch.where(better[:, None, None, None], values.detach(), best)
                best_score = torch.where(better, score, best_score)
                best_step = torch.where(better, torch.full_like(best_step, step), best_step)
        if step < steps:
            optimizer.step(gradient)
    if on_batch is not None:
        on_batch(len(base))
    return (best.detach().cpu().numpy(), before.detach().cpu().numpy(), best_score.detach().cpu().numpy(),
            best_step.cpu().numpy())


class _Adam:
    """Adam (Kingma & Ba; torch's defaults: β 0.9, 0.999, ε 1e-8) on one tensor, in place.
    ``torch.optim`` is not used here because constructing one imports TorchDynamo, which costs
    `motiongen impute` 1.5–4 s of start-up on a CPU for nothing it needs."""

    def __init__(self, parameter: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.parameter, self.lr, self.betas, self.eps = parameter, float(lr), betas, float(eps)
        self.first = torch.zeros_like(parameter)
        self.second = torch.zeros_like(parameter)
        self.count = 0

    @torch.no_grad()
    def step(self, gradient: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        self.count += 1
        self.first.mul_(beta1).add_(gradient, alpha=1.0 - beta1)
        self.second.mul_(beta2).addcmul_(gradient, gradient, value=1.0 - beta2)
        denominator = (self.second / (1.0 - beta2 ** self.count)).sqrt_().add_(self.eps)
        self.parameter.addcdiv_(self.first, denominator, value=-self.lr / (1.0 - beta1 ** self.count))


# --- sequences of any length ---------------------------------------------------------------------

def window_starts(frames: int, window: int) -> np.ndarray:
    """Starts of windows overlapping by half that cover ``frames`` (the last one flush with the end)."""
    if frames <= window:
        return np.zeros(1, dtype=np.int64)
    hop = max(1, window // 2)
    starts = np.arange(0, frames - window + 1, hop)
    if starts[-1] != frames - window:
        starts = np.append(starts, frames - window)
    return starts.astype(np.int64)


@dataclass
class SequenceImputation:
    positions: np.ndarray  # float32 [T, J, 3], observed entries exactly as given
    score_before: float  # mean window score of the initial fill
    score_after: float  # mean window score after imputation
    missing_fraction: float
    window_scores: np.ndarray  # [W] after


def impute_sequence(model, positions: np.ndarray, **options) -> SequenceImputation:
    """Impute one sequence ``[T, J, 3]`` (NaN = missing) of any length."""
    return impute_sequences(model, [positions], **options)[0]


def impute_sequences(model, sequences: list[np.ndarray], steps: int = DEFAULT_STEPS, init: str = "mean",
                     lr: float = DEFAULT_LR, labels: list[int] | None = None, device="cpu",
                     on_batch: Callable[[int], None] | None = None) -> list[SequenceImputation]:
    """Every sequence's windows imputed in shared batches, then blended back per sequence."""
    window = int(model.config.frames)
    cut, owners, starts_all = [], [], []
    for k, sequence in enumerate(sequences):
        sequence = np.asarray(sequence, dtype=np.float32)
        padded = _pad(sequence, window)
        starts = window_starts(len(padded), window)
        index = starts[:, None] + np.arange(window)[None, :]
        cut.append(padded[index])
        owners += [k] * len(starts)
        starts_all.append(starts)
    windows = np.concatenate(cut)
    window_labels = None if labels is None else np.asarray([labels[k] for k in owners])
    result = impute_windows(model, windows, steps=steps, init=init, lr=lr, labels=window_labels, device=device,
                            on_batch=on_batch)
    owners = np.asarray(owners)
    out = []
    weight = _blend_weights(window)
    for k, sequence in enumerate(sequences):
        sequence = np.asarray(sequence, dtype=np.float32)
        mine = owners == k
        starts = starts_all[k]
        length = max(len(sequence), window)
        total = np.zeros((length,) + sequence.shape[1:])
        weights = np.zeros(length)
        index = (starts[:, None] + np.arange(window)[None, :]).ravel()
        np.add.at(total, index, (result.filled[mine] * weight[None, :, None, None]).reshape(-1, *sequence.shape[1:]))
        np.add.at(weights, index, np.tile(weight, len(starts)))
        blended = (total / weights[:, None, None])[:len(sequence)]
        missing = ~np.isfinite(sequence)
        filled = np.where(missing, blended, sequence).astype(np.float32)
        out.append(SequenceImputation(positions=filled, score_before=float(result.score_before[mine].mean()),
                                      score_after=float(result.score_after[mine].mean()),
                                      missing_fraction=float(missing.mean()), window_scores=result.score_after[mine]))
    return out


def _pad(sequence: np.ndarray, window: int) -> np.ndarray:
    if len(sequence) >= window:
        return sequence
    extra = window - len(sequence)
    return np.concatenate([sequence, np.repeat(sequence[-1:], extra, axis=0)])


def _blend_weights(window: int) -> np.ndarray:
    """Triangular weights, never zero, so every frame of every window counts a little."""
    t = (np.arange(window) + 0.5) / window
    return 1.0 - np.abs(2.0 * t - 1.0) + 1e-3


def check_sequence(positions: np.ndarray, name: str, joints: int) -> None:
    """The problems `impute` refuses, as one-line errors naming the input."""
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ConfigError(f"{name}: expected positions [T, J, 3] or [N, T, J, 3], got shape {list(positions.shape)}")
    if positions.shape[1] != joints:
        raise ConfigError(f"{name}: {positions.shape[1]} joints, but the model knows {joints}-joint skeletons")
    if len(positions) == 0:
        raise ConfigError(f"{name}: no frames")
    if not np.isfinite(positions).any():
        raise ConfigError(f"{name}: every value is missing (all NaN); there is nothing to impute from")
