"""Human3.6M 3D joint positions (``.npz``) (Ionescu et al., TPAMI 2014) (DESIGN §5).

Layout motiongen reads and writes (every value a plain array; nothing is ever unpickled):

- ``positions_3d``: float ``[T, J, 3]``, millimetres, Human3.6M world frame (Z up), with
  ``J = 32`` (the full ``h36m32`` joint order) or ``J = 17`` (the standard subset, ``h36m17``);
  NaN marks a missing joint;
- ``fps`` (optional, default 50), ``subject`` and ``action`` (optional strings).

Also read: the raw layout of the dataset's ``D3_Positions`` CDF files converted to an array,
``pose`` with shape ``[T, 96]`` or ``[1, T, 96]`` (32 joints × x, y, z in mm). The pickled
dictionary of the VideoPose3D preprocessing (``positions_3d`` as a Python object) is refused;
export one sequence per file into the layout above instead.

Conversion: ``C = axis_change(up, forward)`` of the skeleton (a rotation of −90° about X, never a
mirror) takes Z-up millimetres to motiongen's internal frame (Y up) and the skeleton's
``metres_per_unit`` to metres; the writer applies the inverse.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, FormatError, MotionGenError
from motiongen.formats._io import load_npz, save_npz, scalar

NAME = "h36m"
SUFFIXES = (".npz",)
NEEDS_ROTATIONS = False
SKELETONS = ("h36m32", "h36m17")

FPS = 50.0
_SKELETON_BY_JOINTS = {32: "h36m32", 17: "h36m17"}


def _load_skeleton(name: str) -> Skeleton:
    from motiongen.skeletons import load_skeleton  # the registry sits above formats' core deps

    return load_skeleton(name)


def sniff(path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return "positions_3d" in archive.files or "pose" in archive.files
    except Exception:  # not an archive we can open: some other format's problem
        return False


# --- reading ------------------------------------------------------------------------------------

def _positions_mm(archive: dict[str, np.ndarray], path) -> np.ndarray:
    """``[T, J, 3]`` millimetres from either layout, checked."""
    if "positions_3d" in archive:
        key, positions = "positions_3d", archive["positions_3d"]
        if positions.ndim != 3 or positions.shape[-1] != 3 or positions.shape[1] not in _SKELETON_BY_JOINTS:
            raise FormatError(path, f"'positions_3d' must be [T, 32, 3] or [T, 17, 3], got {list(positions.shape)}")
    elif "pose" in archive:
        key, positions = "pose", archive["pose"]
        if positions.ndim == 3 and positions.shape[0] == 1:
            positions = positions[0]
        if positions.ndim != 2 or positions.shape[1] != 96:
            raise FormatError(path, f"'pose' must be [T, 96] or [1, T, 96], got {list(archive['pose'].shape)}")
        positions = positions.reshape(positions.shape[0], 32, 3)
    else:
        raise FormatError(path, f"missing key 'positions_3d' (or 'pose'); keys: {', '.join(archive) or 'none'}")
    if not (np.issubdtype(positions.dtype, np.floating) or np.issubdtype(positions.dtype, np.integer)):
        raise FormatError(path, f"{key!r} must hold numbers, got {positions.dtype}")
    if positions.shape[0] == 0:
        raise FormatError(path, f"{key!r} has zero frames")
    if np.isinf(positions).any():
        raise FormatError(path, f"{key!r} contains infinite values (use NaN for missing joints)")
    return positions.astype(np.float64)


def read(path, fps: float | None = None) -> Motion:
    """Read into a `Motion` on ``h36m32`` or ``h36m17`` (by joint count), metres, Y up."""
    path = Path(path)
    archive = load_npz(path)
    positions_mm = _positions_mm(archive, path)
    skeleton = _load_skeleton(_SKELETON_BY_JOINTS[positions_mm.shape[1]])
    if fps is None:
        fps = scalar(archive, "fps", path, float) if "fps" in archive else FPS
    if not (math.isfinite(fps) and fps > 0):
        raise FormatError(path, f"fps must be positive, got {fps}")
    change = R.axis_change(skeleton.up, skeleton.forward)
    positions = (positions_mm * skeleton.metres_per_unit) @ change.T
    finite = np.isfinite(positions).all(-1)
    meta = {"source": str(path), "format": NAME}
    for key in ("subject", "action"):
        if key in archive:
            meta[key] = scalar(archive, key, path, str)
    try:
        return Motion(positions=positions, skeleton=skeleton, fps=fps,
                      mask=None if finite.all() else finite, meta=meta)
    except MotionGenError as exc:
        raise FormatError(path, str(exc)) from None


# --- writing ------------------------------------------------------------------------------------

def to_arrays(motion: Motion) -> dict[str, np.ndarray]:
    """The arrays `write` stores for ``motion`` (``h36m32`` or ``h36m17``)."""
    name = _SKELETON_BY_JOINTS.get(motion.joint_count)
    skeleton = _load_skeleton(name) if name else None
    if skeleton is None or not motion.skeleton.same_layout(skeleton):
        raise ConfigError(f"H3.6M position files hold the {' or '.join(SKELETONS)} skeleton; "
                          f"retarget {motion.skeleton.name!r} to one of them first")
    positions = np.array(motion.positions, dtype=np.float64)
    if motion.mask is not None:
        positions[~motion.mask] = np.nan
    change = R.axis_change(skeleton.up, skeleton.forward)
    arrays = {
        "positions_3d": (positions @ change) / skeleton.metres_per_unit,  # Cᵀ · p, in mm
        "fps": np.asarray(float(motion.fps)),
    }
    for key in ("subject", "action"):
        if isinstance(motion.meta.get(key), str):
            arrays[key] = np.asarray(motion.meta[key])
    return arrays


def write(motion: Motion, path) -> None:
    """Write ``positions_3d`` (mm, Z up) and ``fps`` (+ subject/action from meta); atomic."""
    save_npz(path, **to_arrays(motion))
