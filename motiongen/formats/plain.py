"""Plain arrays: ``.npy`` ``[T, J, 3]`` / ``[N, T, J, 3]``, ``.npz`` and ``.json`` (DESIGN §5).

Positions are metres in the internal frame (Y up); NaN marks a missing joint (what ``impute``
fills). The skeleton is named in the file (``skeleton`` key), given by the caller, or found from
the joint count. motiongen's own ``.npz`` also carries the skeleton definition (``skeleton_toml``)
so a BVH file's own hierarchy survives, plus ``mask``, ``rotations`` and ``root_translation``
when present. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import FormatError, MotionGenError
from motiongen.formats._io import atomic_write, load_npy, load_npz, save_npy, save_npz, scalar

NAME = "npz"
SUFFIXES = (".npy", ".npz", ".json")
NEEDS_ROTATIONS = False
SKELETONS = None
MAX_JSON_BYTES = 2 * 1024**3


def sniff(path) -> bool:
    suffix = Path(path).suffix.lower()
    if suffix != ".npz":
        return True
    try:
        with np.load(path, allow_pickle=False) as archive:
            return "positions" in archive.files
    except Exception:  # unreadable archives get their error from read()
        return True


def _resolve_skeleton(path, joint_count: int, name: str | None, toml_text: str | None,
                      skeleton: Skeleton | str | None) -> Skeleton:
    from motiongen.skeletons import load_skeleton, skeleton_for_joint_count, skeleton_from_toml_text

    try:
        if skeleton is not None:
            found = load_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        elif toml_text:
            found = skeleton_from_toml_text(toml_text, f"{path} (skeleton_toml)")
        elif name:
            found = load_skeleton(name)
        else:
            found = skeleton_for_joint_count(joint_count)
    except MotionGenError as exc:
        raise FormatError(path, str(exc)) from None
    if found.joint_count != joint_count:
        raise FormatError(path, f"has {joint_count} joints but skeleton {found.name!r} has {found.joint_count}")
    return found


def _check_positions(path, positions: np.ndarray) -> np.ndarray:
    if not np.issubdtype(positions.dtype, np.number):
        raise FormatError(path, f"positions must be numbers, got {positions.dtype}")
    if positions.ndim not in (3, 4) or positions.shape[-1] != 3:
        raise FormatError(path, f"positions must be [T, J, 3] or [N, T, J, 3], got {list(positions.shape)}")
    if positions.shape[-3] == 0:
        raise FormatError(path, "has zero frames")
    if np.isinf(positions).any():
        raise FormatError(path, "positions contain infinite values (use NaN for missing joints)")
    return positions


def read_all(path, skeleton: Skeleton | str | None = None, fps: float | None = None) -> list[Motion]:
    path = Path(path)
    suffix = path.suffix.lower()
    name = toml_text = None
    extras: dict[str, np.ndarray] = {}
    meta: dict = {}
    if suffix == ".npy":
        positions = load_npy(path)
    elif suffix == ".npz":
        archive = load_npz(path)
        if "positions" not in archive:
            raise FormatError(path, f"no 'positions' array (keys: {', '.join(archive) or 'none'})")
        positions = archive["positions"]
        name = scalar(archive, "skeleton", path, str) if "skeleton" in archive else None
        toml_text = scalar(archive, "skeleton_toml", path, str) if "skeleton_toml" in archive else None
        if fps is None and "fps" in archive:
            fps = scalar(archive, "fps", path, float)
        if "meta_json" in archive:
            try:
                meta = json.loads(scalar(archive, "meta_json", path, str))
            except json.JSONDecodeError:
                raise FormatError(path, "meta_json is not valid JSON") from None
        extras = {k: archive[k] for k in ("mask", "rotations", "root_translation") if k in archive}
    else:
        positions, name, fps_json, mask = _read_json(path)
        fps = fps if fps is not None else fps_json
        if mask is not None:
            extras["mask"] = mask
    positions = _check_positions(path, np.asarray(positions))
    batched = positions.ndim == 4
    found = _resolve_skeleton(path, positions.shape[-2], name, toml_text, skeleton)
    fps = float(fps) if fps is not None else found.fps
    if not (math.isfinite(fps) and fps > 0):
        raise FormatError(path, f"fps must be positive, got {fps}")
    sequences = positions if batched else positions[None]
    motions = []
    for index in range(len(sequences)):  # one Motion per stored sequence, not per frame
        pick = {k: (v[index] if batched else v) for k, v in extras.items()}
        try:
            mask = pick.get("mask")
            motion = Motion(positions=sequences[index], skeleton=found, fps=fps,
                            mask=None if mask is None else mask.astype(bool),
                            rotations=pick.get("rotations"), root_translation=pick.get("root_translation"),
                            meta={**meta, "source": str(path), "format": NAME,
                                  **({"index": index} if batched else {})})
        except MotionGenError as exc:
            raise FormatError(path, str(exc)) from None
        motions.append(motion)
    return motions


def _read_json(path: Path):
    if path.stat().st_size > MAX_JSON_BYTES:
        raise FormatError(path, "JSON file too large; use .npy or .npz")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
    except UnicodeDecodeError:
        raise FormatError(path, "not UTF-8 text") from None
    if isinstance(data, list):
        data = {"positions": data}
    if not isinstance(data, dict) or "positions" not in data:
        raise FormatError(path, "expected an object with 'positions' (or a bare [T][J][3] list)")
    try:
        positions = np.asarray(
            [[[math.nan if v is None else v for v in joint] for joint in frame] for frame in data["positions"]]
            if _depth(data["positions"]) == 3 else data["positions"], dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(path, "'positions' must be a regular [T][J][3] array of numbers (null for missing)") from None
    mask = np.asarray(data["mask"], dtype=bool) if "mask" in data else None
    return positions, data.get("skeleton"), data.get("fps"), mask


def _depth(value) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def read(path, **options) -> Motion:
    motions = read_all(path, **options)
    if len(motions) != 1:
        raise FormatError(path, f"holds {len(motions)} sequences")
    return motions[0]


def write_all(motions: list[Motion], path) -> None:
    """Write motions sharing one skeleton (several only as one ``[N, T, J, 3]`` array)."""
    from motiongen.skeletons import skeleton_to_toml

    path_text = str(path)
    suffix = Path(path_text).suffix.lower() if path_text != "-" else ".npz"
    first = motions[0]
    if len(motions) > 1 and (
        len({m.frame_count for m in motions}) > 1 or any(not m.skeleton.same_layout(first.skeleton) for m in motions)
    ):
        raise FormatError(path, "several sequences in one array must share length and skeleton")
    positions = np.stack([_with_nan(m) for m in motions]) if len(motions) > 1 else _with_nan(first)
    if suffix == ".npy":
        save_npy(path, positions)
        return
    if suffix == ".json":
        if len(motions) > 1:
            raise FormatError(path, "JSON holds one sequence; write .npz or .npy for several")
        document = {
            "skeleton": first.skeleton.name,
            "fps": first.fps,
            "positions": [[[None if math.isnan(v) else round(float(v), 7) for v in joint] for joint in frame]
                          for frame in positions.tolist()],
        }
        with atomic_write(path) as stream:
            json.dump(document, stream)
        return
    # The .npz keeps estimated positions of masked joints and carries the mask beside them.
    raw = np.stack([m.positions for m in motions]) if len(motions) > 1 else first.positions
    arrays = {
        "positions": raw,
        "skeleton": np.asarray(first.skeleton.name),
        "skeleton_toml": np.asarray(skeleton_to_toml(first.skeleton)),
        "fps": np.asarray(first.fps),
        "meta_json": np.asarray(json.dumps(_jsonable(first.meta))),
    }
    if any(m.mask is not None for m in motions):
        masks = [m.mask if m.mask is not None else np.ones(m.positions.shape[:2], bool) for m in motions]
        arrays["mask"] = np.stack(masks) if len(motions) > 1 else masks[0]
    if all(m.rotations is not None for m in motions):
        arrays["rotations"] = np.stack([m.rotations for m in motions]) if len(motions) > 1 else first.rotations
        roots = [m.root_translation for m in motions]
        arrays["root_translation"] = np.stack(roots) if len(motions) > 1 else roots[0]
    save_npz(path, **arrays)


def _with_nan(motion: Motion) -> np.ndarray:
    """Positions with NaN wherever the mask says a joint is missing."""
    positions = np.array(motion.positions, dtype=np.float32)
    if motion.mask is not None:
        positions[~motion.mask] = np.nan
    return positions


def _jsonable(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def write(motion: Motion, path) -> None:
    write_all([motion], path)
