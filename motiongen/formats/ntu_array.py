"""NTU RGB+D skeleton arrays as the action-recognition code bases store them (DESIGN §5).

Three layouts, always declared by the caller (``layout=``, ``--layout``), never guessed:

- ``stgcn`` (ST-GCN, Yan et al. 2018, ``ntu_gendata.py``): a ``.npy`` float array
  ``(N, 3, T, 25, M)`` — coordinates, frames (zero-padded, usually T = 300), joints in the dataset's
  order, bodies (M = 2, zero when absent) — in the Kinect camera frame (Y up, people face −Z),
  plus a label pickle ``(sample_names: list[str], labels: list[int])`` (0-based labels).
- ``msg3d`` (MS-G3D, Liu et al. 2020): the same files after MS-G3D's ``pre_normalization``, which
  turns every sample so the spine (joint 1→2) lies along +Z and the shoulders (right→left) along
  +X: up ``+z``, people face ``-y``.
- ``ctrgcn`` (CTR-GCN, Chen et al. 2021): one ``.npz`` with ``x_train``/``y_train``/``x_test``/
  ``y_test``; x is ``(N, T, M·25·3)`` (bodies, then joints, then xyz), y one-hot ``(N, classes)``;
  camera axes.

Each sample becomes one `Motion` on ``ntu25`` (30 fps) of one body (``body=``, default 0):
trailing frames that are zero for every body are padding and are dropped; frames inside in which
the chosen body is all zero are missing (NaN, mask False); a NaN joint is missing too.

The label pickle is read by an unpickler whose ``find_class`` always refuses, so only literal
lists, tuples, dicts, strings and numbers can come out of it: nothing is ever imported or called.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, FormatError, MotionGenError
from motiongen.formats._io import STDOUT, atomic_write, load_npy, save_npz

NAME = "ntu-array"
SUFFIXES = (".npy", ".npz")
NEEDS_ROTATIONS = False
SKELETONS = ("ntu25",)

LAYOUTS = ("stgcn", "msg3d", "ctrgcn")
# (up, forward) of each layout's files; None = the Kinect camera frame named by ntu25.toml.
_LAYOUT_AXES = {"stgcn": None, "msg3d": ("+z", "-y"), "ctrgcn": None}
FPS = 30.0
JOINTS = 25
BODIES = 2  # bodies written per sample (the datasets' M)
MIN_FRAMES = 300  # the datasets pad every sample to 300 frames
CLASSES = 120  # width of CTR-GCN's one-hot labels (NTU RGB+D 120)
MAX_LABEL_FILE_BYTES = 1 << 30
_LAYOUT_HINT = "pass --layout stgcn|msg3d|ctrgcn"


# --- detection ------------------------------------------------------------------------------

def sniff(path) -> bool:
    """True for a 5-D ``.npy`` array or an ``.npz`` with ``x_train``/``x_test`` (so plain
    ``[T, J, 3]`` arrays stay with the plain format). Reads headers only."""
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False).ndim == 5
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return bool({"x_train", "x_test"} & set(archive.files))
    except Exception:  # unreadable files get their error from the reader that claims them
        return False
    return False


# --- reading --------------------------------------------------------------------------------

def read_all(path, layout: str | None = None, labels=None, split: str = "train", body: int = 0,
             samples: slice | Sequence[int] | None = None) -> list[Motion]:
    """One `Motion` per sample.

    layout: ``stgcn``, ``msg3d`` or ``ctrgcn`` (required). labels: the label pickle of a ``.npy``
    (default: the sibling ``*_label.pkl``). split: ``train`` or ``test`` (``ctrgcn``). body: which
    of the M bodies (0 = the first, the main actor). samples: a slice or indices to read only some
    samples of a large file (the ``.npy`` is memory-mapped).
    """
    path = Path(path)
    layout = _check_layout(path, layout)
    skeleton = _ntu25(path)
    if layout == "ctrgcn":
        frames, names, label_values = _load_ctrgcn(path, split)  # frames: [N, T, M, 25, 3]
    else:
        frames, names, label_values = _load_stgcn(path, labels)  # frames: [N, 3, T, 25, M]
    count = frames.shape[0]
    bodies = frames.shape[2] if layout == "ctrgcn" else frames.shape[4]
    if isinstance(body, bool) or not isinstance(body, (int, np.integer)) or not 0 <= body < bodies:
        raise ConfigError(f"{path}: body must be an index below {bodies}, got {body!r}")
    try:
        chosen = np.arange(count)[samples] if samples is not None else np.arange(count)
    except (IndexError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: bad sample selection {samples!r} ({exc})") from None
    axes = _LAYOUT_AXES[layout] or (skeleton.up, skeleton.forward)
    file_to_internal = R.axis_change(*axes)
    order = skeleton.dataset_index if skeleton.dataset_index is not None else np.arange(JOINTS)
    actions = _actions()
    motions, empty = [], 0
    for index in np.atleast_1d(chosen).tolist():  # one step per sample, never per frame
        sample = np.asarray(frames[index], dtype=np.float64)
        sample = sample if layout == "ctrgcn" else sample.transpose(1, 3, 2, 0)  # → [T, M, 25, 3]
        if np.isinf(sample).any():
            raise FormatError(path, f"sample {index} holds infinite values")
        positions, mask = _one_body(sample, body)
        empty += positions.shape[0] == 0
        positions = positions[:, order] @ file_to_internal.T
        meta = {"source": str(path), "format": NAME, "layout": layout, "index": index, "body": body,
                "sample_name": names[index] if names is not None else None}
        if label_values is not None:
            label = int(label_values[index])
            meta.update(label=label, action_number=label + 1,
                        action=actions[label] if 0 <= label < len(actions) else None)
        motions.append(Motion(positions=positions, skeleton=skeleton, fps=FPS, mask=mask[:, order], meta=meta))
    if empty:
        warnings.warn(f"{path}: {empty} sample(s) hold only zeros (padding) for every body; "
                      "they are read as motions with no frames", stacklevel=2)
    return motions


def read(path, **options) -> Motion:
    motions = read_all(path, **options)
    if len(motions) != 1:
        raise FormatError(path, f"holds {len(motions)} samples; use read_all() or pick one with samples=")
    return motions[0]


def _one_body(sample: np.ndarray, body: int) -> tuple[np.ndarray, np.ndarray]:
    """``[T, M, 25, 3]`` → positions ``[t, 25, 3]`` (NaN where missing) and mask ``[t, 25]`` of
    one body, with the zero padding after the last frame of any body dropped."""
    present = (sample != 0).any(axis=(2, 3))  # [T, M]; NaN counts as present
    in_use = np.flatnonzero(present.any(axis=1))
    length = int(in_use[-1]) + 1 if in_use.size else 0
    own = sample[:length, body]
    observed = present[:length, body, None] & np.isfinite(own).all(-1)  # [t, 25]
    return np.where(observed[..., None], own, np.nan), observed


def _check_layout(path, layout: str | None) -> str:
    if layout is None:
        raise FormatError(path, f"NTU arrays come in several layouts that cannot be told apart; {_LAYOUT_HINT}")
    key = str(layout).lower()
    if key not in LAYOUTS:
        raise ConfigError(f"unknown NTU array layout {layout!r}; {_LAYOUT_HINT}")
    return key


def _ntu25(path) -> Skeleton:
    from motiongen.skeletons import load_skeleton  # the registry sits above the format modules

    try:
        return load_skeleton("ntu25")
    except MotionGenError as exc:
        raise FormatError(path, f"cannot load the ntu25 skeleton ({exc})") from None


def _actions() -> tuple[str, ...]:
    from motiongen.skeletons import load_actions

    try:
        return load_actions("ntu120")
    except MotionGenError:
        return ()


def _load_stgcn(path: Path, labels) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
    if path.suffix.lower() != ".npy":
        raise FormatError(path, "layouts stgcn and msg3d are .npy arrays; CTR-GCN's .npz needs --layout ctrgcn")
    data = load_npy(path, mmap=True)
    if data.ndim != 5:
        raise FormatError(path, f"expected an (N, 3, T, 25, M) array, got shape {list(data.shape)} "
                          "(a [T, J, 3] or [N, T, J, 3] array is the plain format)")
    count, channels, frames, joints, bodies = data.shape
    if not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)):
        raise FormatError(path, f"expected numbers, got dtype {data.dtype}")
    if channels != 3:
        raise FormatError(path, f"expected 3 coordinates on axis 1 of (N, 3, T, 25, M), got {channels}")
    if joints != JOINTS:
        raise FormatError(path, f"expected {JOINTS} joints on axis 3 of (N, 3, T, 25, M), got {joints} "
                          "(not NTU RGB+D skeletons)")
    if count == 0 or frames == 0 or bodies == 0:
        raise FormatError(path, f"holds no data (shape {list(data.shape)})")
    label_path = Path(labels) if labels is not None else _sibling_labels(path)
    if label_path is None:
        looked_for = " or ".join(c.name for c in _label_candidates(path))
        warnings.warn(f"{path}: no label file found (looked for {looked_for}); "
                      "motions carry no action (pass labels=)", stacklevel=3)
        return data, None, None
    if labels is not None and not label_path.is_file():
        raise FormatError(label_path, "no such label file")
    names, label_list = load_labels(label_path)
    if len(names) != count:
        raise FormatError(label_path, f"lists {len(names)} samples but {path.name} holds {count}")
    return data, names, np.asarray(label_list, dtype=np.int64)


def _label_candidates(path: Path) -> list[Path]:
    """``train_data.npy``/``train_data_joint.npy`` (any ``_data_*`` variant) → ``train_label.pkl``;
    then ``<stem>_label.pkl``."""
    candidates = []
    stem = re.sub(r"_data(_[^.]*)?$", "_label", path.stem)
    if stem != path.stem:
        candidates.append(path.with_name(stem + ".pkl"))
    candidates.append(path.with_name(path.stem + "_label.pkl"))
    return candidates


def _sibling_labels(path: Path) -> Path | None:
    return next((c for c in _label_candidates(path) if c.is_file()), None)


def _load_ctrgcn(path: Path, split: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    if path.suffix.lower() != ".npz":
        raise FormatError(path, "layout ctrgcn is an .npz with x_train/y_train/x_test/y_test")
    arrays = _npz_arrays(path, (f"x_{split}", f"y_{split}"), optional=(f"sample_name_{split}",))
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if x.ndim != 3 or x.shape[2] == 0 or x.shape[2] % (JOINTS * 3):
        raise FormatError(path, f"x_{split} must be (N, T, bodies × {JOINTS} joints × 3), got shape "
                          f"{list(x.shape)} (not 25-joint NTU RGB+D skeletons?)")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise FormatError(path, f"x_{split} must hold numbers, got dtype {x.dtype}")
    count, frames = x.shape[:2]
    if count == 0 or frames == 0:
        raise FormatError(path, f"x_{split} holds no data (shape {list(x.shape)})")
    labels = _one_hot_labels(path, y, count, split)
    names_array = arrays.get(f"sample_name_{split}")
    if names_array is not None and names_array.shape == (count,) and names_array.dtype.kind == "U":
        names = [str(n) for n in names_array.tolist()]
    else:
        names = [f"{split}_{i}" for i in range(count)]  # CTR-GCN's own names for its samples
    return x.reshape(count, frames, -1, JOINTS, 3), names, labels


def _one_hot_labels(path, y: np.ndarray, count: int, split: str) -> np.ndarray:
    if y.shape[:1] != (count,):
        raise FormatError(path, f"y_{split} has {y.shape[0] if y.ndim else 0} labels for {count} samples")
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) and (y >= 0).all():
        return y.astype(np.int64)
    if y.ndim != 2 or not np.issubdtype(y.dtype, np.number):
        raise FormatError(path, f"y_{split} must be one-hot (N, classes), got shape {list(y.shape)}")
    if not (((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all()):
        raise FormatError(path, f"y_{split} must be one-hot: one 1 per row, zeros elsewhere")
    return y.argmax(axis=1).astype(np.int64)


def _npz_arrays(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Only the named arrays of an ``.npz`` (its other arrays may be gigabytes), never unpickling."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise FormatError(path, f"no {', '.join(missing)} in the archive (keys: "
                                  f"{', '.join(archive.files) or 'none'})")
            return {k: archive[k] for k in (*keys, *optional) if k in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise FormatError(path, "holds pickled Python objects, which motiongen never loads") from None
        raise FormatError(path, f"not a valid .npz archive ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FormatError(path, f"cannot read .npz archive ({exc})") from None


# --- the label pickle -----------------------------------------------------------------------

class _RefusingUnpickler(pickle.Unpickler):
    """Builds only what pickle opcodes spell literally (lists, tuples, dicts, str, bytes, numbers,
    None, bools): every global lookup — the only way a pickle reaches code — is refused."""

    def __init__(self, stream, path):
        super().__init__(stream)
        self._path = path

    def find_class(self, module, name):
        raise FormatError(self._path, f"label file tries to import {module}.{name}; refusing")

    def persistent_load(self, pid):
        raise FormatError(self._path, "label file refers to a persistent object; refusing")


def load_labels(path) -> tuple[list[str], list[int]]:
    """``(sample_names, labels)`` from an ST-GCN label pickle, without executing anything."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_LABEL_FILE_BYTES:
            raise FormatError(path, f"label file is {size} bytes; a label list is far smaller")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot read label file ({exc.strerror})") from None
    try:
        content = _RefusingUnpickler(io.BytesIO(data), path).load()
    except FormatError:
        raise
    except Exception as exc:  # nothing can run in here, so any failure is a malformed file
        raise FormatError(path, f"not a valid label pickle ({type(exc).__name__}: {exc})") from None
    return _check_labels(content, path)


def _check_labels(content, path) -> tuple[list[str], list[int]]:
    if not isinstance(content, (tuple, list)) or len(content) != 2:
        raise FormatError(path, f"label file must hold (sample_names, labels), got {type(content).__name__}"
                          + (f" of length {len(content)}" if isinstance(content, (tuple, list)) else ""))
    names, labels = content
    if not isinstance(names, (list, tuple)) or not isinstance(labels, (list, tuple)):
        raise FormatError(path, "label file must hold two lists (sample_names, labels), got "
                          f"{type(names).__name__} and {type(labels).__name__}")
    if len(names) != len(labels):
        raise FormatError(path, f"label file lists {len(names)} sample names but {len(labels)} labels")
    bad = next((i for i, n in enumerate(names) if not isinstance(n, str)), None)
    if bad is not None:
        raise FormatError(path, f"sample name {bad} is {type(names[bad]).__name__}, not str")
    bad = next((i for i, v in enumerate(labels)
                if isinstance(v, bool) or not isinstance(v, int) or v < 0), None)
    if bad is not None:
        raise FormatError(path, f"label {bad} is {labels[bad]!r}; labels are 0-based class indices (int)")
    return list(names), list(labels)


# --- writing --------------------------------------------------------------------------------

def write_all(motions: list[Motion], path, layout: str = "stgcn", labels_path=None, split: str = "train",
              min_frames: int = MIN_FRAMES) -> None:
    """Write ``ntu25`` motions as one array file of ``layout`` (atomic).

    stgcn/msg3d: ``(N, 3, T, 25, 2)`` float32 ``.npy`` plus the label pickle (protocol 4, plain
    lists) at ``labels_path`` (default: ``train_data.npy`` → ``train_label.pkl``, else
    ``<stem>_label.pkl``). ctrgcn: an ``.npz`` with ``x_<split>``, one-hot ``y_<split>`` (120
    classes) and ``sample_name_<split>`` (names as a plain unicode array; CTR-GCN ignores it).
    T is the longest motion, at least ``min_frames``; frames after a motion's end, the second body
    and missing (NaN) joints are zeros. A wholly missing frame reads back as missing; a single
    missing joint in an observed frame cannot (it warns). Masked joints with finite positions
    (Kinect's inferred joints) keep their positions, as in the datasets. Labels come from
    ``meta["label"]`` (0-based) or ``meta["action"]`` (an NTU-120 class name).
    """
    path_text = str(path)
    layout = _check_layout(path_text, layout)
    if not motions:
        raise ConfigError("no motions to write")
    reference = _ntu25(path_text)
    for i, motion in enumerate(motions):
        if not motion.skeleton.same_layout(reference):
            raise ConfigError(f"ntu-array holds ntu25 motions; motion {i} is on {motion.skeleton.name!r} "
                              "(retarget it first)")
    labels = [_label_of(m, i) for i, m in enumerate(motions)]
    names = [_name_of(m, i) for i, m in enumerate(motions)]
    if isinstance(min_frames, bool) or not isinstance(min_frames, int) or min_frames < 0:
        raise ConfigError(f"min_frames must be a non-negative integer, got {min_frames!r}")
    frames = max(max(m.frame_count for m in motions), min_frames, 1)
    axes = _LAYOUT_AXES[layout] or (reference.up, reference.forward)
    internal_to_file = R.axis_change(*axes)  # rows are internal axes in file coordinates
    order = reference.dataset_index if reference.dataset_index is not None else np.arange(JOINTS)
    # [N, T, M, 25, 3] in the file's joint order and axes; zeros are padding and missing frames.
    table = np.zeros((len(motions), frames, BODIES, JOINTS, 3), dtype=np.float32)
    lone_missing = 0
    for i, motion in enumerate(motions):  # one step per sequence
        positions = np.empty((motion.frame_count, JOINTS, 3))
        positions[:, order] = np.asarray(motion.positions, dtype=np.float64) @ internal_to_file
        missing = ~np.isfinite(positions).all(-1)  # [T, 25]
        lone_missing += int(missing[~missing.all(1)].sum())
        table[i, : motion.frame_count, 0] = np.where(missing[..., None], 0.0, positions)
    if lone_missing:
        # Only a whole zero frame means "missing" in these layouts (MS-G3D data has a joint at the
        # origin in every frame), so a single missing joint cannot be told from one at the origin.
        warnings.warn(f"{path_text}: {lone_missing} missing joint(s) in otherwise observed frames are "
                      "written as zeros (this layout has no mask); they read back as points at the origin",
                      stacklevel=2)
    if layout == "ctrgcn":
        _write_ctrgcn(table, labels, names, path, split)
        return
    if path_text == STDOUT:
        raise ConfigError(f"layout {layout} writes two files (.npy and a label .pkl); give a file name")
    path = Path(path_text)
    if path.suffix.lower() != ".npy":
        raise ConfigError(f"layout {layout} writes a .npy array (plus a label .pkl), not {path.name!r}")
    labels_path = Path(labels_path) if labels_path is not None else _label_candidates(path)[0]
    label_bytes = pickle.dumps((list(names), list(labels)), protocol=4)
    array = np.ascontiguousarray(table.transpose(0, 4, 1, 3, 2))  # → (N, 3, T, 25, M)
    # Nested so that both files are complete before either is renamed into place.
    with atomic_write(path, binary=True) as data_stream, atomic_write(labels_path, binary=True) as label_stream:
        np.save(data_stream, array, allow_pickle=False)
        label_stream.write(label_bytes)


def write(motion: Motion, path, **options) -> None:
    write_all([motion], path, **options)


def _write_ctrgcn(table: np.ndarray, labels: list[int], names: list[str], path, split: str) -> None:
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    if str(path) != STDOUT and Path(str(path)).suffix.lower() != ".npz":
        raise ConfigError(f"layout ctrgcn writes an .npz archive, not {Path(str(path)).name!r}")
    too_big = [v for v in labels if v >= CLASSES]
    if too_big:
        raise ConfigError(f"label {too_big[0]} does not fit CTR-GCN's {CLASSES}-class one-hot labels")
    one_hot = np.zeros((len(labels), CLASSES), dtype=np.float32)
    one_hot[np.arange(len(labels)), labels] = 1.0
    count, frames = table.shape[:2]
    save_npz(path, **{f"x_{split}": table.reshape(count, frames, -1), f"y_{split}": one_hot,
                      f"sample_name_{split}": np.asarray(names, dtype=str)})


def _label_of(motion: Motion, index: int) -> int:
    label = motion.meta.get("label")
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and label >= 0:
        return int(label)
    action = motion.meta.get("action")
    actions = _actions()
    if isinstance(action, str) and action in actions:
        return actions.index(action)
    raise ConfigError(f"motion {index} ({motion.meta.get('source', 'no source')}) has no NTU action label; "
                      "set meta['label'] (0-based) or meta['action'] (an NTU-120 class name)")


def _name_of(motion: Motion, index: int) -> str:
    name = motion.meta.get("sample_name")
    if isinstance(name, str) and name:
        return name
    source = motion.meta.get("source")
    if isinstance(source, str) and source and source != STDOUT:
        return Path(source).name  # e.g. S001C001P001R001A001.skeleton, as ST-GCN names samples
    return f"sample{index:06d}"
