"""AMASS motion files (``.npz``) (Mahmood et al., ICCV 2019), SMPL-H and SMPL-X releases (DESIGN §5).

Layouts read (every value a plain array; nothing is ever unpickled):

- SMPL-H: ``poses [T, 156]`` axis-angle (root 3, body 21×3, left hand 15×3, right hand 15×3),
  ``trans [T, 3]`` metres, ``betas``, ``gender`` (a 0-d array of str or bytes),
  ``mocap_framerate``;
- SMPL-X: ``poses [T, 165]`` (root 3, body 21×3, jaw 3, left eye 3, right eye 3, left hand 15×3,
  right hand 15×3), ``mocap_frame_rate`` (sic), ``surface_model_type``, and the same pose split
  into ``root_orient``/``pose_body``/``pose_hand``/``pose_jaw``/``pose_eye`` (used when ``poses``
  is absent);
- plain SMPL: ``poses [T, 72]`` (24 joints, ``smpl24``) or ``[T, 66]`` (22 body joints, ``smpl22``).

SMPL-H and SMPL-X motion land on ``smplh52`` (22 body + 2×15 finger joints); SMPL-X jaw and eye
rotations are dropped from the skeleton but kept in ``meta`` (``pose_jaw``, ``pose_eye``).

Conventions. SMPL's rest frames are aligned with its model frame (Y up, facing +Z, left = +X),
which is motiongen's internal frame, so each joint's axis-angle is its local rotation as it stands:
rotations are kept exactly and AMASS→BVH needs no IK. The AMASS world is Z up; with
``C = axis_change(up, forward)`` of the skeleton (−90° about X):

- root rotation ``C · R_root``;
- root position ``C · (trans + PELVIS_OFFSET_M)``: SMPL places the root joint at ``J_0 + trans``
  in the world, ``J_0`` being the root joint's rest position relative to the model origin (added
  without the root rotation). ``J_0`` depends on the body model and its shape, which motiongen does
  not ship, so a documented, project-authored constant stands in for it.

Positions come from FK on the skeleton's project-authored rest offsets, so they approximate a
given subject's joints (bone lengths and the pelvis offset differ with body shape), while the
rotations are exact. ``trans``, ``betas`` and ``gender`` travel in ``meta`` so the writer restores
them exactly.

The writer stores the SMPL-H layout (``poses [T, 156]``, finger joints a skeleton lacks are the
identity, i.e. the flat hand of the model) with ``trans``, ``betas``, ``gender`` and
``mocap_framerate``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, FormatError
from motiongen.formats._io import load_npz, save_npz, scalar

NAME = "amass"
SUFFIXES = (".npz",)
NEEDS_ROTATIONS = True
SKELETONS = ("smplh52", "smpl24", "smpl22")

# Authored stand-in for SMPL's root joint J_0 relative to the model origin (model frame: Y up,
# metres): an adult's pelvis sits about 0.2 m below the origin of SMPL-family templates. Not taken
# from any body model; a round trip subtracts exactly what reading added.
PELVIS_OFFSET_M = np.array([0.0, -0.2, 0.0])
PELVIS_OFFSET_M.setflags(write=False)
BETAS = 16  # the SMPL-H shape vector length AMASS ships
FRAMERATE_KEYS = ("mocap_framerate", "mocap_frame_rate")  # SMPL-H, SMPL-X spelling
_SKELETON_BY_WIDTH = {156: "smplh52", 72: "smpl24", 66: "smpl22"}
_BODY = 66  # root + 21 body joints
_HANDS = 90  # 2 × 15 finger joints
_SMPLX_JAW, _SMPLX_EYES, _SMPLX_HANDS = slice(66, 69), slice(69, 75), slice(75, 165)


def _load_skeleton(name: str) -> Skeleton:
    from motiongen.skeletons import load_skeleton  # the registry sits above formats' core deps

    return load_skeleton(name)


def sniff(path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
    except Exception:  # not an archive we can open: some other format's problem
        return False
    return "trans" in keys and ("poses" in keys or "root_orient" in keys)


# --- reading ------------------------------------------------------------------------------------

def _array(archive: dict[str, np.ndarray], key: str, path, width: int | None = None) -> np.ndarray:
    """``archive[key]`` as float64 ``[T, width]``, checked (numbers, 2-D, finite)."""
    if key not in archive:
        raise FormatError(path, f"missing key {key!r}")
    value = archive[key]
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise FormatError(path, f"{key!r} must hold numbers, got {value.dtype}")
    if value.ndim != 2 or (width is not None and value.shape[1] != width):
        expected = f"[T, {width}]" if width is not None else "[T, N]"
        raise FormatError(path, f"{key!r} must be {expected}, got {list(value.shape)}")
    value = value.astype(np.float64)
    bad = ~np.isfinite(value).all(axis=1)
    if bad.any():
        raise FormatError(path, f"non-finite value (NaN or inf) in {key!r} at frame {int(np.argmax(bad))}")
    return value


def _poses(archive: dict[str, np.ndarray], path) -> tuple[np.ndarray, dict]:
    """Axis-angle ``[T, 156 | 72 | 66]`` in the SMPL-H/SMPL layout, and what is kept aside
    (SMPL-X jaw and eyes)."""
    extras: dict = {}
    if "poses" in archive:
        poses = _array(archive, "poses", path)
        width = poses.shape[1]
        if width == 165:
            extras = {"pose_jaw": poses[:, _SMPLX_JAW], "pose_eye": poses[:, _SMPLX_EYES]}
            poses = np.concatenate([poses[:, :_BODY], poses[:, _SMPLX_HANDS]], axis=1)
        elif width not in _SKELETON_BY_WIDTH:
            raise FormatError(path, f"'poses' has {width} values per frame; expected 156 (SMPL-H), "
                                    "165 (SMPL-X), 72 (SMPL) or 66 (SMPL body)")
        return poses, extras
    if "root_orient" not in archive:
        raise FormatError(path, f"missing key 'poses' (or 'root_orient' + 'pose_body'); "
                                f"keys: {', '.join(archive) or 'none'}")
    parts = [_array(archive, "root_orient", path, 3), _array(archive, "pose_body", path, _BODY - 3)]
    if "pose_hand" in archive:
        parts.append(_array(archive, "pose_hand", path, _HANDS))
    for key, width in (("pose_jaw", 3), ("pose_eye", 6)):
        if key in archive:
            extras[key] = _array(archive, key, path, width)
    if len({p.shape[0] for p in parts} | {e.shape[0] for e in extras.values()}) > 1:
        raise FormatError(path, "'root_orient', 'pose_body', 'pose_hand', 'pose_jaw' and 'pose_eye' "
                                "must have the same number of frames")
    return np.concatenate(parts, axis=1), extras


def _framerate(archive: dict[str, np.ndarray], path) -> float:
    for key in FRAMERATE_KEYS:
        if key in archive:
            rate = scalar(archive, key, path, float)
            if not (math.isfinite(rate) and rate > 0):
                raise FormatError(path, f"{key!r} must be a positive number, got {rate}")
            return rate
    raise FormatError(path, f"missing key {FRAMERATE_KEYS[0]!r} (or {FRAMERATE_KEYS[1]!r})")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.setflags(write=False)
    return array


def read(path, fps: float | None = None) -> Motion:
    """Read an AMASS file into a `Motion` with rotations (``smplh52``, ``smpl24`` or ``smpl22``).

    fps: override the file's frame rate (for files that lack one)."""
    path = Path(path)
    archive = load_npz(path)
    poses, extras = _poses(archive, path)
    trans = _array(archive, "trans", path, 3)
    frames = poses.shape[0]
    if frames == 0:
        raise FormatError(path, "'poses' has zero frames")
    if trans.shape[0] != frames:
        raise FormatError(path, f"'poses' has {frames} frames but 'trans' has {trans.shape[0]}")
    rate = float(fps) if fps is not None else _framerate(archive, path)

    skeleton = _load_skeleton(_SKELETON_BY_WIDTH[poses.shape[1]])
    change = R.axis_change(skeleton.up, skeleton.forward)
    local = R.axis_angle_to_quat(poses.reshape(frames, -1, 3))
    local[:, 0] = R.quat_multiply(R.matrix_to_quat(change), local[:, 0])
    root = (trans + PELVIS_OFFSET_M) @ change.T

    meta: dict = {"source": str(path), "format": NAME, "trans": _frozen(trans)}
    if "betas" in archive:
        betas = archive["betas"]
        if not np.issubdtype(betas.dtype, np.number):
            raise FormatError(path, f"'betas' must hold numbers, got {betas.dtype}")
        meta["betas"] = _frozen(betas.astype(np.float64))
    for key in ("gender", "surface_model_type"):
        if key in archive:
            meta[key] = scalar(archive, key, path, str)
    meta["amass_model"] = meta.get("surface_model_type") or (
        "smplx" if extras else {156: "smplh", 72: "smpl", 66: "smpl"}[poses.shape[1]])
    meta.update({key: _frozen(value) for key, value in extras.items()})
    return Motion.from_rotations(local, root, skeleton, rate, meta=meta)


# --- writing ------------------------------------------------------------------------------------

def to_arrays(motion: Motion) -> dict[str, np.ndarray]:
    """The SMPL-H arrays `write` stores for ``motion`` (rotations on smplh52, smpl24 or smpl22)."""
    if motion.rotations is None:
        raise ConfigError("AMASS files store rotations: solve them first (Motion.with_ik, or `motiongen convert`)")
    registry = _load_skeleton(motion.skeleton.name) if motion.skeleton.name in SKELETONS else None
    if registry is None or not motion.skeleton.same_layout(registry):
        raise ConfigError(f"AMASS files hold the {', '.join(SKELETONS)} skeletons; "
                          f"retarget {motion.skeleton.name!r} to one of them first")
    frames, joints = motion.frame_count, motion.joint_count
    change = R.axis_change(registry.up, registry.forward)
    local = np.array(motion.rotations, dtype=np.float64)
    local[:, 0] = R.quat_multiply(R.matrix_to_quat(change.T), local[:, 0])
    axis_angle = R.quat_to_axis_angle(local)  # [T, J, 3]
    poses = np.zeros((frames, _BODY + _HANDS))
    poses[:, :_BODY] = axis_angle[:, : _BODY // 3].reshape(frames, _BODY)
    if joints == (_BODY + _HANDS) // 3:
        poses[:, _BODY:] = axis_angle[:, _BODY // 3:].reshape(frames, _HANDS)
    elif joints > _BODY // 3 and np.abs(axis_angle[:, _BODY // 3:]).max() > 1e-9:
        warnings.warn("SMPL-H has no hand joints: the rotations of smpl24's left_hand/right_hand are dropped")

    trans = np.asarray(motion.root_translation, dtype=np.float64) @ change - PELVIS_OFFSET_M  # Cᵀ·t − J_0
    stored = motion.meta.get("trans")
    if isinstance(stored, np.ndarray) and stored.shape == trans.shape and np.allclose(stored, trans, atol=1e-9):
        trans = stored  # the file's own values, bit for bit

    betas = motion.meta.get("betas")
    if motion.meta.get("amass_model") == "smplx":
        # SMPL-X shape coefficients live in another shape space than SMPL-H's.
        warnings.warn("writing SMPL-X motion in the SMPL-H layout: jaw and eye rotations are not "
                      "stored and the shape is the mean one (betas = 0)")
        betas = None
    gender = motion.meta.get("gender")
    return {
        "poses": poses,
        "trans": trans,
        "betas": np.zeros(BETAS) if betas is None else np.asarray(betas, dtype=np.float64),
        "gender": np.asarray(gender if isinstance(gender, str) else "neutral"),
        "mocap_framerate": np.asarray(float(motion.fps)),
    }


def write(motion: Motion, path) -> None:
    """Write ``motion`` as an AMASS SMPL-H ``.npz`` (atomic; ``"-"`` for stdout)."""
    save_npz(path, **to_arrays(motion))
