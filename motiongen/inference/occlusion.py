"""Occlusion patterns for imputation experiments: which coordinates of a batch of motion windows
are hidden from the imputer.

Every pattern returns a bool *missing* array ``[N, T, J, 3]`` (True = missing) for a batch of N
sequences of T frames and J joints: missingness is per coordinate, so HG-VAE's "random single
coordinates" experiment (Li et al., *Hierarchical Graph-Convolutional Variational AutoEncoding for
Generative Modelling of Human Motion*, 2022; rates 1 %–90 %) is expressible next to whole joints,
whole limbs and spans of time. Every pattern draws from the `numpy.random.Generator` it is given,
so a seed reproduces it, and every pattern leaves something observed in each sequence (a request
that would hide a whole sequence is a `ConfigError`).

`PATTERNS` names the standard evaluation set; `make_missing` builds one of them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError

# Limb name → (canonical name of its top joint). A limb is that joint and all its descendants.
LIMB_ROOTS = {
    "left_arm": "left_shoulder",
    "right_arm": "right_shoulder",
    "left_leg": "left_hip",
    "right_leg": "right_hip",
}


# --- checks ---------------------------------------------------------------------------------
def _check_shape(shape) -> tuple[int, int, int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4 or shape[3] != 3 or min(shape) < 1:
        raise ConfigError(f"a missing array is [N, T, J, 3] with every size ≥ 1, got {list(shape)}")
    return shape  # type: ignore[return-value]


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"occlusion patterns need a numpy.random.Generator "
                          f"(e.g. np.random.default_rng(0)), got {type(rng).__name__}")
    return rng


def _check_observed(missing: np.ndarray, what: str) -> np.ndarray:
    """The safety net behind each pattern's own argument checks."""
    if missing.reshape(missing.shape[0], -1).all(axis=1).any():
        raise ConfigError(f"{what} would hide every coordinate of a sequence")
    return missing


def _per_sequence(hidden: np.ndarray, shape: tuple[int, int, int, int], axes: str) -> np.ndarray:
    """Spread a per-sequence mask over ``[N, T, J, 3]``: ``hidden`` is ``[N, J]`` (axes "joints")
    or ``[N, T]`` (axes "frames")."""
    if axes == "joints":
        hidden = hidden[:, None, :, None]
    else:
        hidden = hidden[:, :, None, None]
    return np.ascontiguousarray(np.broadcast_to(hidden, shape))


# --- patterns -------------------------------------------------------------------------------
def random_coordinates(shape, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Each coordinate missing independently with probability ``rate`` (0 < rate < 1).

    A sequence that the draw happens to hide completely (only likely for tiny windows at high
    rates) gets one coordinate, chosen at random, revealed again, so it still has an anchor."""
    shape, rng = _check_shape(shape), _check_rng(rng)
    rate = float(rate)
    if not 0.0 < rate < 1.0:
        raise ConfigError(f"the missing rate must be between 0 and 1 (exclusive), got {rate:g}")
    missing = rng.random((shape[0], shape[1] * shape[2] * 3)) < rate  # one row per sequence
    hidden = np.flatnonzero(missing.all(axis=1))
    if hidden.size:
        missing[hidden, rng.integers(missing.shape[1], size=hidden.size)] = False
    return missing.reshape(shape)


def whole_joints(shape, count: int, rng: np.random.Generator) -> np.ndarray:
    """Per sequence, ``count`` distinct joints (chosen at random) missing in every frame."""
    shape, rng = _check_shape(shape), _check_rng(rng)
    sequences, _, joints, _ = shape
    count = int(count)
    if not 1 <= count < joints:
        raise ConfigError(f"can hide 1 to {joints - 1} of {joints} joints, not {count}")
    # The `count` smallest of J uniform keys are a uniformly random subset, for every row at once.
    chosen = np.argpartition(rng.random((sequences, joints)), count - 1, axis=1)[:, :count]
    hidden = np.zeros((sequences, joints), dtype=bool)
    np.put_along_axis(hidden, chosen, True, axis=1)
    return _check_observed(_per_sequence(hidden, shape, "joints"), f"hiding {count} joints")


def limbs(skeleton: Skeleton) -> dict[str, np.ndarray]:
    """Limb name (``left_arm``, ``right_arm``, ``left_leg``, ``right_leg``) → sorted joint indices:
    the joint with canonical name ``*_shoulder`` / ``*_hip`` and all of its descendants (elbow,
    wrist, hand, fingers, thumb / knee, ankle, toes). A limb whose top joint has no canonical name
    in this skeleton is left out of the result."""
    parents_padded = np.append(skeleton.parents, -1)  # index -1 (the root's parent) stays -1
    by_name = skeleton.canonical_index()
    result = {}
    for limb, top in LIMB_ROOTS.items():  # four limbs; inside each, all joints at once
        if top not in by_name:
            continue
        ancestor = np.arange(skeleton.joint_count)
        inside = ancestor == by_name[top]
        for _ in range(int(skeleton.depth().max())):  # walk every joint up one level at a time
            ancestor = parents_padded[ancestor]
            inside |= ancestor == by_name[top]
        result[limb] = np.flatnonzero(inside)
    return result


def whole_limb(skeleton: Skeleton, shape, rng: np.random.Generator) -> np.ndarray:
    """Per sequence, one limb of `limbs` (chosen uniformly) missing in every frame."""
    shape, rng = _check_shape(shape), _check_rng(rng)
    if shape[2] != skeleton.joint_count:
        raise ConfigError(f"skeleton {skeleton.name!r} has {skeleton.joint_count} joints, "
                          f"the missing array {shape[2]}")
    found = limbs(skeleton)
    if not found:
        raise ConfigError(f"skeleton {skeleton.name!r} names no canonical shoulder or hip, "
                          f"so it has no limbs to hide")
    table = np.zeros((len(found), skeleton.joint_count), dtype=bool)  # [limb, J]
    for row, joints in enumerate(found.values()):
        table[row, joints] = True
    hidden = table[rng.integers(len(found), size=shape[0])]
    return _check_observed(_per_sequence(hidden, shape, "joints"), "hiding a limb")


def time_span(shape, length: int, rng: np.random.Generator) -> np.ndarray:
    """Per sequence, every joint missing for ``length`` consecutive frames starting at a random
    frame (uniform over the starts that keep the span inside the window)."""
    shape, rng = _check_shape(shape), _check_rng(rng)
    sequences, frames = shape[:2]
    length = int(length)
    if not 1 <= length < frames:
        raise ConfigError(f"a hidden span of a {frames}-frame window is 1 to {frames - 1} frames, "
                          f"not {length}")
    start = rng.integers(frames - length + 1, size=sequences)[:, None]
    time = np.arange(frames)[None, :]
    hidden = (time >= start) & (time < start + length)  # [N, T]
    return _check_observed(_per_sequence(hidden, shape, "frames"), f"hiding {length} frames")


# --- the standard evaluation set ------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    """One entry of the standard evaluation set."""

    name: str  # what make_missing and result tables call it
    kind: str  # "random", "joints", "limb" or "span"
    amount: float = 0.0  # random: rate per coordinate; joints: joint count; span: fraction of T


def span_frames(frames: int, fraction: float) -> int:
    """Frames in a span that is ``fraction`` of a ``frames``-frame window (rounded down, ≥ 1)."""
    return max(1, int(np.floor(frames * fraction + 1e-9)))


PATTERNS: dict[str, Pattern] = {
    pattern.name: pattern
    for pattern in (
        *(Pattern(f"random-{round(rate * 100)}%", "random", rate) for rate in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9)),
        Pattern("joints-1", "joints", 1),
        Pattern("joints-3", "joints", 3),
        Pattern("limb", "limb"),
        Pattern("span-25%", "span", 0.25),
        Pattern("span-50%", "span", 0.5),
    )
}


def make_missing(pattern_name: str, skeleton: Skeleton | None, shape, rng: np.random.Generator) -> np.ndarray:
    """The missing array ``[N, T, J, 3]`` of the standard pattern called ``pattern_name``
    (see `PATTERNS`). ``skeleton`` is needed by "limb" only, and checked against J when given."""
    pattern = PATTERNS.get(pattern_name)
    if pattern is None:
        raise ConfigError(f"unknown occlusion pattern {pattern_name!r}; known: {', '.join(PATTERNS)}")
    shape = _check_shape(shape)
    if skeleton is not None and shape[2] != skeleton.joint_count:
        raise ConfigError(f"skeleton {skeleton.name!r} has {skeleton.joint_count} joints, "
                          f"the missing array {shape[2]}")
    if pattern.kind == "random":
        return random_coordinates(shape, pattern.amount, rng)
    if pattern.kind == "joints":
        return whole_joints(shape, int(pattern.amount), rng)
    if pattern.kind == "span":
        return time_span(shape, span_frames(shape[1], pattern.amount), rng)
    if skeleton is None:
        raise ConfigError(f"occlusion pattern {pattern_name!r} needs the skeleton")
    return whole_limb(skeleton, shape, rng)
