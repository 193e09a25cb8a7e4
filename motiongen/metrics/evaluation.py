"""Scoring generated motion with a frozen recogniser: the pieces `motiongen evaluate` and the
training loop's periodic evaluation share.

- `FrozenRecognizer`: a `recognizer` checkpoint in eval mode: penultimate features and logits of
  windows in batches (deterministic: no dropout, batch norm from its stored statistics), its
  SHA-256, and its training split (held-out subjects), so every evaluation cites the network and
  the data it used.
- `sliding_windows`: long clips cut into the recogniser's non-overlapping windows, so quality can
  be followed along a 1024-frame sample.
- `score_set`: every metric of one generated set against real reference sets (one repeat).

Features, FID, diversity and multimodality come from `motiongen.metrics.generation`;
plausibility from `motiongen.metrics.plausibility`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motiongen.errors import ConfigError
from motiongen.metrics import generation, plausibility

FEATURE_BATCH = 256
MMD_SAMPLES = 500  # MMD kernels are N×M over T·J·3-long vectors; subsets keep them cheap


# --- the frozen recogniser -----------------------------------------------------------------------

@dataclass
class FrozenRecognizer:
    model: torch.nn.Module
    checkpoint: object  # motiongen.training.checkpoint.LoadedCheckpoint
    device: torch.device

    @property
    def skeleton(self):
        return self.checkpoint.skeleton

    @property
    def frames(self) -> int:
        return int(self.checkpoint.frames)

    @property
    def fps(self) -> float:
        return float(self.checkpoint.fps)

    @property
    def actions(self) -> list[str]:
        return list(self.checkpoint.actions)

    @property
    def sha256(self) -> str:
        return str(self.checkpoint.meta.get("weights_sha256", "unknown"))

    @property
    def holdout_subjects(self) -> list[str]:
        options = (self.checkpoint.meta.get("training") or {}).get("options") or {}
        return [str(s) for s in options.get("holdout_subjects") or []]

    @torch.no_grad()
    def embed(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(features [N, D], logits [N, C])`` of windows ``[N, T, J, 3]`` (metres, T = frames)."""
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 4 or windows.shape[1] != self.frames or windows.shape[2] != self.skeleton.joint_count:
            raise ConfigError(f"the recogniser takes windows [N, {self.frames}, {self.skeleton.joint_count}, 3], "
                              f"got {list(windows.shape)}")
        features, logits = [], []
        for start in range(0, len(windows), FEATURE_BATCH):  # batches of windows
            batch = torch.as_tensor(windows[start:start + FEATURE_BATCH], device=self.device)
            feature = self.model.features(batch)
            features.append(feature.cpu().double().numpy())
            logits.append(self.model.classifier(feature).cpu().double().numpy())
        if not features:
            return np.zeros((0, self.model.feature_dim)), np.zeros((0, len(self.actions)))
        return np.concatenate(features), np.concatenate(logits)

    def labels_for(self, actions: list[str]) -> np.ndarray:
        """The recogniser's label of each action name (-1 where it does not know the action)."""
        index = {name: k for k, name in enumerate(self.actions)}
        return np.array([index.get(name, -1) for name in actions], dtype=np.int64)


def load_recognizer(path: str | Path | None = None, device: torch.device | str = "cpu") -> FrozenRecognizer:
    """A recogniser checkpoint (file, run folder or shipped name; None = the shipped default)."""
    from motiongen.pretrained import DEFAULT_RECOGNIZER
    from motiongen.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(DEFAULT_RECOGNIZER if path is None else path, device=device)
    if checkpoint.kind != "recognizer":
        raise ConfigError(f"{checkpoint.path}: a {checkpoint.kind} checkpoint, not a recogniser "
                          "(train one with: motiongen train recognizer --data ...)")
    model = checkpoint.pair.generator.eval()
    model.requires_grad_(False)
    return FrozenRecognizer(model=model, checkpoint=checkpoint, device=torch.device(device))


def sliding_windows(positions: np.ndarray, frames: int) -> np.ndarray:
    """``[N, P, frames, J, 3]``: clips ``[N, T, J, 3]`` cut into ``P = T // frames`` back-to-back
    windows (a tail shorter than a window is left out), each moved so its first-frame root is at
    x = z = 0 as training windows are."""
    positions = np.asarray(positions)
    count = positions.shape[1] // frames
    if count < 1:
        raise ConfigError(f"clips of {positions.shape[1]} frames are shorter than the recogniser's "
                          f"{frames}-frame window")
    windows = positions[:, :count * frames].reshape(positions.shape[0], count, frames, *positions.shape[2:])
    origin = windows[:, :, :1, :1, :] * np.array([1.0, 0.0, 1.0], dtype=positions.dtype)
    return windows - origin


# --- one set against the real ones ---------------------------------------------------------------

@dataclass
class RealReference:
    """What generated sets are compared with: the real test windows (features, logits, labels,
    positions) and, for the real floor, the training windows' features, labels and positions.
    MMD bandwidths are fixed from the test windows, so every set is measured on one scale."""

    test_windows: np.ndarray  # [N, T, J, 3]
    test_features: np.ndarray  # [N, D]
    test_logits: np.ndarray  # [N, C]
    test_labels: np.ndarray  # [N] recogniser labels
    train_windows: np.ndarray
    train_features: np.ndarray
    train_labels: np.ndarray
    sigma_pose: float = 1.0  # MMD_a kernel width (one pose, J·3 values)
    sigma_sequence: float = 1.0  # MMD_s kernel width (one window, T·J·3 values)

    def __post_init__(self):
        windows = self.test_windows[:MMD_SAMPLES].astype(np.float64)
        # poses of every other frame keep the pose kernel's reference set small
        poses = windows[:, ::max(1, windows.shape[1] // 8)].reshape(-1, windows.shape[2] * 3)
        self.sigma_pose = generation.median_bandwidth(poses[:2000])
        self.sigma_sequence = generation.median_bandwidth(windows.reshape(len(windows), -1))

    def train_like_test(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``size`` training windows with the test windows' action mix (a floor that
        compares like with like: the training set holds actions the test subjects never do)."""
        wanted = rng.choice(self.test_labels, size=int(size), replace=True)
        picks = []
        for label in np.unique(wanted):  # a handful of actions
            pool = np.flatnonzero(self.train_labels == label)
            if len(pool):
                count = int((wanted == label).sum())
                picks.append(rng.choice(pool, size=count, replace=count > len(pool)))
        if not picks:
            raise ConfigError("the training windows hold none of the test windows' actions")
        return np.concatenate(picks)


def plausibility_of(positions: np.ndarray, skeleton, fps: float) -> dict[str, float]:
    """Bone-length variation (mm), foot-skating ratio and jitter (m/s³) of clips ``[N, T, J, 3]``."""
    return {"bone_variation_mm": plausibility.bone_length_variation(positions, skeleton.parents),
            "foot_skating": plausibility.foot_skating_ratio(positions, plausibility.foot_joints(skeleton), fps),
            "jitter": plausibility.jitter(positions, fps)}


def score_set(features: np.ndarray, logits: np.ndarray, labels: np.ndarray, windows: np.ndarray,
              reference: RealReference, rng: np.random.Generator) -> dict[str, float]:
    """FID, accuracy, diversity, multimodality and MMD of one set of windows (generated or real)
    against the real test windows. ``labels``: the recogniser label each window should show."""
    known = labels >= 0
    scores = {
        "fid": generation.fid(features, reference.test_features),
        "accuracy": generation.accuracy(logits[known], labels[known]) if known.any() else float("nan"),
        "diversity": generation.diversity(features, rng=rng),
        "multimodality": _multimodality(features, labels, rng),
    }
    scores.update(mmd_scores(windows, reference, rng))
    return scores


def mmd_scores(windows: np.ndarray, reference: RealReference, rng: np.random.Generator) -> dict[str, float]:
    """MMD_a and MMD_s of ``windows`` against (a subset of) the test windows, fixed bandwidths."""
    ours = windows[rng.permutation(len(windows))[:MMD_SAMPLES]]
    theirs = reference.test_windows[rng.permutation(len(reference.test_windows))[:MMD_SAMPLES]]
    return {"mmd_a": generation.mmd_action(theirs, ours, bandwidth=reference.sigma_pose),
            "mmd_s": generation.mmd_sequence(theirs, ours, bandwidth=reference.sigma_sequence)}


def score_real(reference: RealReference, size: int, rng: np.random.Generator) -> dict[str, float]:
    """The real column: FID and MMD of ``size`` training windows with the test set's action mix
    against the test windows (the floor a perfect generator of this data would reach), diversity
    and multimodality of the test windows."""
    subset = reference.train_like_test(size, rng)
    return {"fid": generation.fid(reference.train_features[subset], reference.test_features),
            "diversity": generation.diversity(reference.test_features, rng=rng),
            "multimodality": _multimodality(reference.test_features, reference.test_labels, rng),
            **mmd_scores(reference.train_windows[subset], reference, rng)}


def _multimodality(features: np.ndarray, labels: np.ndarray, rng) -> float:
    try:
        return generation.multimodality(features, labels, rng=rng)
    except ConfigError:  # no action with two samples
        return float("nan")


def summarise(repeats: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "interval"}}`` over repeats (mean ± 1.96·std/√n)."""
    out = {}
    for key in repeats[0]:
        values = np.array([r[key] for r in repeats], dtype=np.float64)
        if np.isnan(values).all():
            out[key] = {"mean": float("nan"), "interval": float("nan")}
            continue
        mean, half = generation.mean_interval(values[~np.isnan(values)])
        out[key] = {"mean": float(mean), "interval": float(half)}
    return out
