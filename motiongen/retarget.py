"""Retargeting between registry skeletons through canonical joint names (DESIGN §4–§5).

Each target joint gets its position from, in order:
1. the source joint with the same canonical name;
2. the first of the target's ``[[derived]]`` rules (then the source's) whose canonical sources
   the source skeleton has — an affine combination, e.g. a neck from two shoulders;
3. the joint it always coincides with: its parent when its bone is shorter than 1 mm (CMU's
   LHipJoint, H3.6M's 0.1 mm Spine), or a sibling with the same offset (H3.6M's LeftShoulder
   sits where its sibling Neck does).
Anything else is an error that names the joint: there is never a silent zero-fill. A target joint
is observed (mask) only where every source joint it was made from is.

The mapping is computed once per (source, target) pair as a weight matrix ``[J_target, J_source]``
and applied to all frames in one matrix product.
"""

from __future__ import annotations

import numpy as np

from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import SkeletonError

COINCIDENT_M = 1e-3  # rest offsets closer than this put two joints at the same point


def retarget_weights(source: Skeleton, target: Skeleton) -> np.ndarray:
    """``[J_target, J_source]`` weights so that ``target_positions = W @ source_positions``."""
    available = source.canonical_index()
    rules = [*target.derived, *source.derived]
    weights = np.zeros((target.joint_count, source.joint_count))
    lengths = np.linalg.norm(target.offsets, axis=-1)
    resolved = np.zeros(target.joint_count, dtype=bool)
    for j, name in enumerate(target.joint_names):
        canonical = target.canonical[j]
        resolved[j] = True
        if canonical in available:
            weights[j, available[canonical]] = 1.0
            continue
        rule = next((r for r in rules if r.canonical == canonical and all(s in available for s in r.sources)),
                    None) if canonical else None
        if rule is not None:
            for source_name, weight in zip(rule.sources, rule.weights):
                weights[j, available[source_name]] += weight
        elif j > 0 and lengths[j] <= COINCIDENT_M:
            weights[j] = weights[target.parents[j]]  # parents come first, so this row is ready
        elif (twin := _twin(target, j, resolved)) is not None:
            weights[j] = weights[twin]
        else:
            what = f"{name!r} ({canonical})" if canonical else f"{name!r} (no canonical name)"
            raise SkeletonError(
                f"cannot retarget {source.name} to {target.name}: joint {what} is not in the source "
                f"and no derivation rule applies (source has: {', '.join(sorted(available)) or 'no canonical joints'})"
            )
    return weights


def _twin(skeleton: Skeleton, joint: int, resolved: np.ndarray) -> int | None:
    """An already resolved sibling with the same offset (so always at the same point)."""
    siblings = np.flatnonzero((skeleton.parents == skeleton.parents[joint]) & resolved)
    siblings = siblings[siblings != joint]
    close = np.linalg.norm(skeleton.offsets[siblings] - skeleton.offsets[joint], axis=-1) <= COINCIDENT_M
    return int(siblings[close][0]) if close.any() else None


def retarget(motion: Motion, target: Skeleton) -> Motion:
    """The motion's joint positions on ``target`` (positions only: solve rotations with IK).

    Returns the motion unchanged when it is already on a skeleton of the same layout."""
    if motion.skeleton.same_layout(target):
        return motion
    weights = retarget_weights(motion.skeleton, target)
    source = motion.positions.astype(np.float64)
    finite = np.isfinite(source).all(-1)
    # 0 × NaN is NaN: combine finite values only, then mark targets built from a NaN source.
    positions = np.einsum("ts,fsc->ftc", weights, np.where(finite[..., None], source, 0.0))
    contributors = (weights != 0).T.astype(np.int64)  # [J_source, J_target]
    positions[((~finite).astype(np.int64) @ contributors) > 0] = np.nan
    mask = ((~motion.observed()).astype(np.int64) @ contributors) == 0
    return Motion(
        positions=positions,
        skeleton=target,
        fps=motion.fps,
        mask=None if mask.all() else mask,
        meta={**motion.meta, "retargeted_from": motion.skeleton.name},
    )
