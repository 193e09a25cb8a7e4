"""Human3.6M exponential-map motion files (``.txt``) of the motion-prediction literature
(Jain et al., CVPR 2016 S-RNN; Martinez et al., CVPR 2017 and successors) (DESIGN §5).

Layout: plain text, one frame per line, 99 comma-separated numbers, 50 Hz.

- columns ``0:3``: root position, millimetres, Human3.6M world frame (Z up);
- columns ``3+3j:6+3j``: exponential map (rotation axis × angle, radians) of joint ``j`` of the
  32-joint ``h36m32`` skeleton (its order); the unused sites usually hold zeros.

Reference forward kinematics (row vectors; ``o_j`` the published offsets in mm, which are
``skeletons/h36m32.toml`` × 1000; ``p`` the root position)::

    R_j = Rodrigues(e_j)
    G_0 = R_0,               x_0 = o_0 + p
    G_j = R_j · G_parent,    x_j = o_j · G_parent + x_parent

motiongen acts on column vectors, so its global rotation is the transpose ``M_j = G_jᵀ``:
``M_j = M_parent · R_jᵀ`` and ``x_j = x_parent + M_parent o_j``. The local rotation is therefore
``R_jᵀ``, the rotation by ``−e_j``. The world frame is Z up; ``C = axis_change(up, forward)`` (a
rotation of −90° about X) brings it into the internal frame (Y up, metres): the root's rotation
becomes ``C · R_0ᵀ``, the root translation ``C · (o_0 + p) / 1000``, every other local rotation
stays ``R_jᵀ``, and the resulting positions are exactly ``C · x_j / 1000``.

The public Python port of this FK also adds each joint's own expmap values to its offset as if they
were a position (a millimetre-sized artefact) and swaps y/z for plotting; neither is part of the
data and neither is reproduced here.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, FormatError
from motiongen.formats._io import atomic_write

NAME = "h36m-expmap"
SUFFIXES = (".txt",)
NEEDS_ROTATIONS = True
SKELETONS = ("h36m32",)

FPS = 50.0
JOINTS = 32
COLUMNS = 3 + 3 * JOINTS  # 99
# File names of the expmap release that differ from the dataset's action names (lower-cased).
_ACTION_ALIASES = {"walkingtogether": "WalkTogether", "walkdog": "WalkingDog", "photo": "TakingPhoto"}

_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


# --- shared -----------------------------------------------------------------------------------

def _skeleton() -> Skeleton:
    from motiongen.skeletons import load_skeleton  # the registry sits above formats' core deps

    return load_skeleton(SKELETONS[0])


def _axis_change(skeleton: Skeleton) -> np.ndarray:
    """``C [3, 3]``: file frame (Z up) → internal frame (Y up)."""
    return R.axis_change(skeleton.up, skeleton.forward)


# --- conversion ---------------------------------------------------------------------------------

def from_expmap(root_position_mm: np.ndarray, expmap: np.ndarray, fps: float = FPS,
                meta: dict | None = None) -> Motion:
    """A `Motion` on ``h36m32`` from the file's values.

    root_position_mm: ``[T, 3]`` millimetres, world frame (Z up). expmap: ``[T, 32, 3]`` radians.
    """
    skeleton = _skeleton()
    change = _axis_change(skeleton)
    expmap = np.asarray(expmap, dtype=np.float64)
    local = R.axis_angle_to_quat(-expmap)  # column-vector local rotation = R_jᵀ
    local[:, 0] = R.quat_multiply(R.matrix_to_quat(change), local[:, 0])
    root_m = skeleton.offsets[0] + np.asarray(root_position_mm, dtype=np.float64) * skeleton.metres_per_unit
    return Motion.from_rotations(local, root_m @ change.T, skeleton, fps, meta=meta or {})


def to_expmap(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of `from_expmap`: root position ``[T, 3]`` (mm, Z up), expmap ``[T, 32, 3]``."""
    if motion.rotations is None:
        raise ConfigError("H3.6M expmap files store rotations: solve them first "
                          "(Motion.with_ik, or `motiongen convert`)")
    skeleton = _skeleton()
    if not motion.skeleton.same_layout(skeleton):
        raise ConfigError(f"H3.6M expmap files hold the {skeleton.name} skeleton; "
                          f"retarget {motion.skeleton.name!r} to it first")
    if not np.allclose(motion.skeleton.offsets, skeleton.offsets, atol=1e-6):
        warnings.warn("H3.6M expmap files imply the published bone lengths; this motion's differ, "
                      "so its positions change when the file is read back")
    change = _axis_change(skeleton)
    local = np.array(motion.rotations, dtype=np.float64)
    local[:, 0] = R.quat_multiply(R.matrix_to_quat(change.T), local[:, 0])
    expmap = -R.quat_to_axis_angle(local)  # R_j = (local)ᵀ
    root_m = np.asarray(motion.root_translation, dtype=np.float64) @ change  # Cᵀ · t
    return (root_m - skeleton.offsets[0]) / skeleton.metres_per_unit, expmap


# --- reading ------------------------------------------------------------------------------------

def sniff(path) -> bool:
    """True when the first non-empty line holds 99 comma-separated numbers."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(1 << 16)
    except OSError:
        return False
    for line in head.splitlines():
        if not line.strip():
            continue
        fields = line.split(b",")
        if len(fields) != COLUMNS:
            return False
        try:
            for field in fields:  # the 99 fields of one line
                float(field)
        except ValueError:
            return False
        return True
    return False


def parse(data: bytes, path="<h36m expmap>") -> np.ndarray:
    """``[T, 99]`` float64 values from the file's bytes, in one vectorised pass (line structure
    from byte arithmetic, values from one ``np.fromstring``). Errors name the offending line."""
    raw = np.frombuffer(data, dtype=np.uint8)
    # Line k spans starts[k] up to and including its newline, so no segment is empty.
    starts = np.concatenate([[0], np.flatnonzero(raw == 10) + 1])
    starts = starts[starts < raw.size]

    def per_line(flags: np.ndarray) -> np.ndarray:  # how many flagged bytes each line has
        return np.add.reduceat(flags.view(np.uint8), starts, dtype=np.int64) if raw.size else np.zeros(0)

    lines = np.flatnonzero(per_line(~_WHITESPACE[raw]))  # 0-based numbers of non-blank lines
    if lines.size == 0:
        raise FormatError(path, "empty file: no frames")
    gaps = np.flatnonzero(np.diff(lines) > 1)
    if gaps.size:
        raise FormatError(path, "blank line inside the data", int(lines[gaps[0]]) + 2)
    fields = per_line(raw == 44)[lines] + 1
    wrong = np.flatnonzero(fields != COLUMNS)
    if wrong.size:
        row = int(wrong[0])
        raise FormatError(path, f"expected {COLUMNS} comma-separated values, got {int(fields[row])}",
                          int(lines[row]) + 1)
    text = data.decode("latin-1").replace(",", " ")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            values = None
    if values is None or values.size != len(lines) * COLUMNS:
        _raise_bad_token(data, path)
    values = values.reshape(len(lines), COLUMNS)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise FormatError(path, "non-finite value (NaN or inf)", int(lines[np.argmax(bad)]) + 1)
    return values


def _raise_bad_token(data: bytes, path):
    """Slow path, only for a file already known to be broken: name the first bad field."""
    for number, line in enumerate(data.decode("latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        for field in line.split(","):
            try:
                float(field)
            except ValueError:
                shown = field.strip()[:30]
                reason = "empty value" if not shown else f"{shown!r} is not a number"
                raise FormatError(path, reason, number) from None
    raise FormatError(path, "unreadable numbers")


def _path_meta(path: Path) -> dict:
    """Subject and action from a release path such as ``S1/walking_1.txt``."""
    from motiongen.skeletons import load_actions

    meta: dict = {}
    if re.fullmatch(r"S\d+", path.parent.name):
        meta["subject"] = path.parent.name
    match = re.fullmatch(r"(.+?)[_ ](\d+)", path.stem)
    if match:
        key = match.group(1).lower().replace(" ", "")
        known = {name.lower(): name for name in load_actions("h36m")}
        action = known.get(key) or _ACTION_ALIASES.get(key)
        if action:
            meta["action"] = action
            meta["subaction"] = int(match.group(2))
    return meta


def read(path, fps: float = FPS) -> Motion:
    """Read an expmap file into a `Motion` on ``h36m32`` with rotations (metres, Y up)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot read file ({exc.strerror})") from None
    values = parse(data, path)
    meta = {"source": str(path), "format": NAME, **_path_meta(path)}
    return from_expmap(values[:, :3], values[:, 3:].reshape(-1, JOINTS, 3), fps, meta)


# --- writing ------------------------------------------------------------------------------------

def format_expmap(motion: Motion) -> str:
    """The file's text for ``motion`` (``h36m32`` with rotations)."""
    root_mm, expmap = to_expmap(motion)
    if abs(motion.fps - FPS) > 1e-6:
        warnings.warn(f"H3.6M expmap files are {FPS:g} Hz; writing a {motion.fps:g} fps motion "
                      "without resampling (`motiongen convert` resamples)")
    frames = motion.frame_count
    table = np.concatenate([root_mm, expmap.reshape(frames, -1)], axis=1)
    table[np.abs(table) < 5e-13] = 0.0  # no "-0.0000000000"
    row = ",".join(["%.6f"] * 3 + ["%.10f"] * (COLUMNS - 3)) + "\n"
    # One C-level formatting call for the whole table instead of a Python loop over frames.
    return (row * frames) % tuple(table.ravel().tolist())


def write(motion: Motion, path) -> None:
    """Write ``motion`` as an expmap ``.txt`` file (atomic; ``"-"`` for stdout)."""
    text = format_expmap(motion)
    with atomic_write(path) as stream:
        stream.write(text)
