"""Forward kinematics, inverse kinematics from joint positions, and bone-length fitting.

FK walks the tree one depth level at a time, each level one batched step over every frame and
every joint at that depth. IK (DESIGN §5) needs no walk at all: each joint's *global* rotation
follows from the observed positions of its own descendants, so all joints are solved at once and
local rotations come from one batched ``G_parent⁻¹ G_joint``:

- a joint whose (effective) children span a plane gets a weighted Kabsch fit of its rest child
  offsets onto the observed child directions — the root's fit uses hips and spine;
- a joint with one child gets the shortest swing onto the observed bone, then a twist about the
  bone that carries the plane of the next bone (the grandchild) onto its observed plane; when the
  limb is straight that plane is undefined and the previous frame's twist is kept;
- zero-length bones (CMU's LHipJoint, Neck, …) are seen through: their children also count as
  the parent's children (so the root's fit sees hips and spine), and the zero-length joint itself
  then solves its own children exactly, absorbing what the parent's fit could not;
- quaternion signs are made continuous in time.

Shapes: positions ``[T, J, 3]``, rotations ``[T, J, 4]`` (local, w first), offsets ``[J, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError

ZERO_BONE_M = 1e-6  # offsets shorter than this are zero-length bones
STRAIGHT_LIMB = 0.05  # |sin| of the angle below which a limb counts as straight (≈ 3°)


# --- forward kinematics ---------------------------------------------------------------------

def forward_kinematics(rotations, offsets, parents, root_translation=None, levels=None,
                       return_global=False):
    """Joint positions from local rotations.

    rotations: ``[..., J, 4]`` local unit quaternions (numpy or torch).
    offsets: ``[J, 3]`` or ``[..., J, 3]`` rest offsets from each parent (the root's is its rest
    position). root_translation: ``[..., 3]`` world position of the root, replacing its offset
    (as BVH position channels do); None keeps the root at its offset.
    Returns positions ``[..., J, 3]`` (and global rotations ``[..., J, 4]`` if asked).
    """
    parents = np.asarray(parents)
    if levels is None:
        levels = _depth_levels(parents)
    xp_torch = R._is_torch(rotations)
    if xp_torch:
        import torch

        offsets = torch.as_tensor(np.array(offsets) if isinstance(offsets, np.ndarray) else offsets,
                                  dtype=rotations.dtype, device=rotations.device)
        positions = torch.zeros(rotations.shape[:-1] + (3,), dtype=rotations.dtype, device=rotations.device)
        global_rot = torch.zeros_like(rotations)
    else:
        offsets = np.asarray(offsets, dtype=rotations.dtype)
        positions = np.zeros(rotations.shape[:-1] + (3,), dtype=rotations.dtype)
        global_rot = np.zeros_like(rotations)
    offsets = offsets if offsets.ndim > 2 else offsets[(None,) * (rotations.ndim - 2)]
    root = levels[0]
    global_rot[..., root, :] = rotations[..., root, :]
    if root_translation is None:
        positions[..., root, :] = offsets[..., root, :] + 0 * positions[..., root, :]
    else:
        positions[..., root, :] = root_translation[..., None, :]
    for level in levels[1:]:
        parent = parents[level]
        parent_rot = global_rot[..., parent, :]
        positions[..., level, :] = positions[..., parent, :] + R.quat_apply(parent_rot, offsets[..., level, :])
        global_rot[..., level, :] = R.quat_multiply(parent_rot, rotations[..., level, :])
    return (positions, global_rot) if return_global else positions


def _depth_levels(parents: np.ndarray) -> list[np.ndarray]:
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    return [np.nonzero(depth == d)[0] for d in range(int(depth.max()) + 1)]


def skeleton_fk(skeleton: Skeleton, rotations, root_translation=None):
    """FK on a `Skeleton`'s tree and rest offsets."""
    return forward_kinematics(rotations, skeleton.offsets, skeleton.parents, root_translation,
                              levels=skeleton.depth_levels())


def global_to_local(global_rot, parents):
    """Global rotations ``[..., J, 4]`` → local (root unchanged)."""
    parents = np.asarray(parents)
    parent_rot = global_rot[..., np.maximum(parents, 0), :]
    local = R.quat_multiply(R.quat_conjugate(parent_rot), global_rot)
    local[..., 0, :] = global_rot[..., 0, :]
    return local


# --- inverse kinematics: static plan --------------------------------------------------------

@dataclass(frozen=True)
class _IKPlan:
    """Which joints are solved how; depends only on the skeleton, computed once."""

    kabsch_joints: np.ndarray  # [K]
    kabsch_children: np.ndarray  # [K, C] effective child index (padded with 0)
    kabsch_rest: np.ndarray  # [K, C, 3] rest vectors (zero for padding)
    kabsch_weight: np.ndarray  # [K, C]
    swing_joints: np.ndarray  # [S]
    swing_child: np.ndarray  # [S]
    swing_rest: np.ndarray  # [S, 3]
    twist_grandchild: np.ndarray  # [S] effective grandchild (-1: none)
    twist_rest: np.ndarray  # [S, 3] rest vector child→grandchild (zero if none)
    passive_levels: list  # joints copying their parent's global rotation, grouped by depth


def _effective_children(skeleton: Skeleton) -> list[list[tuple[int, np.ndarray]]]:
    """For each joint: (descendant, rest vector) pairs, seeing through zero-length bones."""
    kids = skeleton.children()
    lengths = np.linalg.norm(skeleton.offsets, axis=-1)

    def collect(joint: int, base: np.ndarray) -> list[tuple[int, np.ndarray]]:
        found = []
        for child in kids[joint]:
            vector = base + skeleton.offsets[child]
            if lengths[child] > ZERO_BONE_M:
                found.append((child, vector))
            else:
                found.extend(collect(child, vector))
        return found

    return [collect(j, np.zeros(3)) for j in range(skeleton.joint_count)]


def _spans_plane(vectors: list[np.ndarray]) -> bool:
    units = [v / np.linalg.norm(v) for v in vectors]
    return any(np.linalg.norm(np.cross(a, b)) > 0.1 for i, a in enumerate(units) for b in units[i + 1:])


def plan_ik(skeleton: Skeleton) -> _IKPlan:
    effective = _effective_children(skeleton)
    lengths = np.linalg.norm(skeleton.offsets, axis=-1)
    kabsch, swing, solved = [], [], np.zeros(skeleton.joint_count, dtype=bool)
    for j, kids in enumerate(skeleton.children()):
        # Children at a distance depend on this joint's rotation alone, so they must be matched
        # exactly; children behind zero-length bones solve themselves, so they only shape this
        # joint's rotation when it has nothing else (CMU's hips, chest and hands).
        direct = [(c, skeleton.offsets[c]) for c in kids if lengths[c] > ZERO_BONE_M]
        kids = direct or effective[j]
        if len(kids) >= 2 and _spans_plane([v for _, v in kids]):
            kabsch.append((j, kids))
            solved[j] = True
        elif kids:
            child, rest = max(kids, key=lambda kv: np.linalg.norm(kv[1]))
            grand, grand_rest = -1, np.zeros(3)
            candidates = effective[child]
            if candidates:
                # The grandchild whose rest vector leaves the bone line most defines the plane best.
                bone = rest / np.linalg.norm(rest)
                grand, grand_rest = max(
                    candidates,
                    key=lambda kv: np.linalg.norm(np.cross(bone, kv[1] / np.linalg.norm(kv[1]))),
                )
            swing.append((j, child, rest, grand, grand_rest))
            solved[j] = True
    width = max((len(kids) for _, kids in kabsch), default=1)
    k_children = np.zeros((len(kabsch), width), dtype=np.int64)
    k_rest = np.zeros((len(kabsch), width, 3))
    k_weight = np.zeros((len(kabsch), width))
    for row, (_, kids) in enumerate(kabsch):
        for col, (child, vector) in enumerate(kids):
            k_children[row, col] = child
            k_rest[row, col] = vector / np.linalg.norm(vector)
            # Weighted by bone length: a 0.1 mm bone (H3.6M's Spine) has no reliable direction.
            k_weight[row, col] = np.linalg.norm(vector)
    levels = skeleton.depth_levels()
    passive = [level[~solved[level]] for level in levels]
    passive = [p for p in passive if p.size and not (p.size == 1 and p[0] == 0)]
    return _IKPlan(
        kabsch_joints=np.asarray([j for j, _ in kabsch], dtype=np.int64),
        kabsch_children=k_children,
        kabsch_rest=k_rest,
        kabsch_weight=k_weight,
        swing_joints=np.asarray([s[0] for s in swing], dtype=np.int64),
        swing_child=np.asarray([s[1] for s in swing], dtype=np.int64),
        swing_rest=np.asarray([s[2] for s in swing], dtype=np.float64).reshape(-1, 3),
        twist_grandchild=np.asarray([s[3] for s in swing], dtype=np.int64),
        twist_rest=np.asarray([s[4] for s in swing], dtype=np.float64).reshape(-1, 3),
        passive_levels=passive,
    )


# --- inverse kinematics: solve --------------------------------------------------------------

def _unit(v, eps=1e-12):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def _kabsch(rest: np.ndarray, observed: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Rotations ``[..., 3, 3]`` best mapping rest directions ``[K, C, 3]`` onto observed
    ``[..., K, C, 3]`` (weights ``[K, C]``), det = +1."""
    cov = np.einsum("kc,kci,...kcj->...kij", weight, rest, observed)  # Σ w r dᵀ
    u, _, vt = np.linalg.svd(cov)
    det = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.ones(det.shape + (3,))
    fix[..., 2] = np.where(det == 0, 1.0, det)
    return np.swapaxes(vt, -1, -2) @ (fix[..., None] * np.swapaxes(u, -1, -2))


def _forward_fill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid entries ``[T, N]`` by the last valid one before them (0 before any)."""
    frames = values.shape[0]
    index = np.where(valid, np.arange(frames)[:, None], -1)
    index = np.maximum.accumulate(index, axis=0)
    filled = np.take_along_axis(values, np.maximum(index, 0), axis=0)
    return np.where(index >= 0, filled, 0.0)


def _swing_twist(plan: _IKPlan, positions: np.ndarray) -> np.ndarray:
    """Global quaternions ``[T, S, 4]`` of the single-child joints."""
    bone = positions[:, plan.swing_child] - positions[:, plan.swing_joints]  # [T, S, 3]
    swing = R.quat_between(np.broadcast_to(plan.swing_rest, bone.shape), bone)
    has_grand = plan.twist_grandchild >= 0
    if not has_grand.any():
        return swing
    axis = _unit(bone)
    grand = np.where(has_grand, plan.twist_grandchild, 0)
    observed = positions[:, grand] - positions[:, plan.swing_child]
    observed_perp = observed - (observed * axis).sum(-1, keepdims=True) * axis
    rest_axis = _unit(plan.swing_rest)
    rest_perp = plan.twist_rest - (plan.twist_rest * rest_axis).sum(-1, keepdims=True) * rest_axis
    observed_ratio = np.linalg.norm(observed_perp, axis=-1) / np.maximum(np.linalg.norm(observed, axis=-1), 1e-12)
    valid = (observed_ratio > STRAIGHT_LIMB) & has_grand
    # A rest pose with a straight limb (T-pose legs) has no plane: take the limb's typical
    # bending plane from the data instead, brought back into the rest frame by the swing.
    rest_ratio = np.linalg.norm(rest_perp, axis=-1) / np.maximum(np.linalg.norm(plan.twist_rest, axis=-1), 1e-12)
    needs_data = has_grand & (rest_ratio < 0.1)
    if needs_data.any():
        back = R.quat_apply(R.quat_conjugate(swing), _unit(observed_perp))
        back = np.where(valid[..., None], back, 0.0).sum(0)
        back = back - (back * rest_axis).sum(-1, keepdims=True) * rest_axis
        fallback = np.cross(rest_axis, np.broadcast_to([1.0, 0.0, 0.0], rest_axis.shape))
        fallback = np.where(np.linalg.norm(fallback, axis=-1, keepdims=True) < 0.1,
                            np.cross(rest_axis, [0.0, 0.0, 1.0]), fallback)
        back = np.where(np.linalg.norm(back, axis=-1, keepdims=True) < 1e-9, fallback, back)
        rest_perp = np.where(needs_data[:, None], back, rest_perp)
    predicted = R.quat_apply(swing, np.broadcast_to(rest_perp, swing.shape[:-1] + (3,)))
    angle = np.arctan2((np.cross(predicted, observed_perp) * axis).sum(-1), (predicted * observed_perp).sum(-1))
    angle = _forward_fill(angle, valid)
    twist = R.axis_angle_to_quat(axis * angle[..., None])
    return R.quat_multiply(twist, swing)


def inverse_kinematics(positions: np.ndarray, skeleton: Skeleton, plan: _IKPlan | None = None):
    """Local rotations ``[T, J, 4]`` and root translation ``[T, 3]`` whose FK on ``skeleton``
    points every bone where ``positions [T, J, 3]`` do. With the skeleton's own bone lengths the
    positions are reproduced exactly (to float precision); otherwise only bone directions are."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (skeleton.joint_count, 3):
        raise ConfigError(
            f"IK needs positions [T, {skeleton.joint_count}, 3] for skeleton {skeleton.name!r}, "
            f"got {list(positions.shape)}"
        )
    if not np.all(np.isfinite(positions)):
        raise ConfigError("IK needs every joint in every frame: fill or impute missing joints first")
    plan = plan or plan_ik(skeleton)
    frames = positions.shape[0]
    global_rot = np.zeros((frames, skeleton.joint_count, 4))
    global_rot[..., 0] = 1.0
    if plan.kabsch_joints.size:
        observed = positions[:, plan.kabsch_children] - positions[:, plan.kabsch_joints][:, :, None]
        matrices = _kabsch(plan.kabsch_rest, _unit(observed), plan.kabsch_weight)
        global_rot[:, plan.kabsch_joints] = R.matrix_to_quat(matrices)
    if plan.swing_joints.size:
        global_rot[:, plan.swing_joints] = _swing_twist(plan, positions)
    for level in plan.passive_levels:
        global_rot[:, level] = global_rot[:, skeleton.parents[level]]
    local = global_to_local(global_rot, skeleton.parents)
    local = R.quat_continuity(R.quat_normalize(local), axis=0)
    return local, positions[:, 0].copy()


# --- bone lengths ---------------------------------------------------------------------------

def fit_bone_lengths(positions: np.ndarray, skeleton: Skeleton, symmetric: bool = True) -> Skeleton:
    """A copy of ``skeleton`` whose bone lengths are the per-bone median over the frames of
    ``positions [T, J, 3]`` (NaN-aware), left/right averaged, directions kept from the rest pose.
    Zero-length bones stay zero."""
    positions = np.asarray(positions, dtype=np.float64)
    bones = positions[:, 1:] - positions[:, skeleton.parents[1:]]
    lengths = np.nanmedian(np.linalg.norm(bones, axis=-1), axis=0)
    lengths = np.concatenate([[0.0], lengths])
    if symmetric:
        mirror = skeleton.mirror_index()
        lengths = 0.5 * (lengths + lengths[mirror])
    rest = skeleton.offsets.copy()
    rest_len = np.linalg.norm(rest, axis=-1)
    keep = (rest_len > ZERO_BONE_M) & np.isfinite(lengths)
    keep[0] = False
    rest[keep] = rest[keep] / rest_len[keep, None] * lengths[keep, None]
    return skeleton.with_offsets(rest)


def fit_skeleton(positions: np.ndarray, skeleton: Skeleton, symmetric: bool = True,
                 iterations: int = 3) -> Skeleton:
    """A fixed skeleton for IK from ``positions [T, J, 3]``: bone lengths by `fit_bone_lengths`,
    and the rest directions of every group of sibling bones (hips and spine at the root, neck and
    shoulders at the chest) averaged from the data by Procrustes iterations: rotate each frame's
    child directions back by that frame's Kabsch fit, average, repeat.

    Without this, a source whose hip/spine angles differ from the registry's rest pose (every
    retargeted source does) cannot be reproduced by any rotation of the fixed rest pose, and FK(IK)
    misses by centimetres; with it the residual is what is not rigid in the data itself. The
    first fit is against the registry rest pose, so the result stays oriented like it; a group
    that is a straight line at rest (H3.6M's hips) starts from the data's own shape in its most
    rest-like frame. Bone lengths stay left/right symmetric; directions are not mirrored, since
    any asymmetry in how the data was captured or derived would then show up as error."""
    fitted = fit_bone_lengths(positions, skeleton, symmetric)
    positions = np.asarray(positions, dtype=np.float64)
    positions = positions[np.isfinite(positions).all(axis=(1, 2))]
    if not len(positions):
        return fitted
    offsets = fitted.offsets.copy()
    lengths = np.linalg.norm(offsets, axis=-1)
    for joint, kids in enumerate(fitted.children()):  # a few sibling groups per skeleton
        kids = np.asarray([c for c in kids if lengths[c] > ZERO_BONE_M], dtype=np.int64)
        if kids.size < 2:
            continue
        observed = _unit(positions[:, kids] - positions[:, joint][:, None])  # [T, C, 3]
        weight = lengths[kids][None]
        rest = _unit(offsets[kids])
        if not _spans_plane(list(rest)):
            main = int(np.argmax(lengths[kids]))
            rest_like = int(np.argmax(observed[:, main] @ rest[main]))
            swing = R.quat_between(rest[main], observed[rest_like, main])
            rest = R.quat_apply(R.quat_conjugate(swing)[None], observed[rest_like])
        for _ in range(iterations):
            rotation = _kabsch(rest[None], observed[:, None], weight)[:, 0]  # [T, 3, 3]
            rest = _unit(np.einsum("tji,tcj->ci", rotation, observed))  # mean of Rᵀ d
        offsets[kids] = rest * lengths[kids, None]
    return fitted.with_offsets(offsets)
