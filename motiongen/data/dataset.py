"""Training datasets: fixed-length windows of motion on one skeleton, with labels, splits,
normalisation statistics and a cache (DESIGN §2 ``data/``, issue 3 "Data").

`prepare_dataset` reads every clip of a folder, a manifest or an NTU ST-GCN array, and per clip:
drops frames before ``start_frame`` → resamples to the training fps (slerp when the file has
rotations) → retargets to the training skeleton → fills missing joints in time → cuts windows of
``frames`` every ``stride`` frames → moves each window so its root starts at x = z = 0.
The bone lengths of the returned skeleton are fitted to the training frames (for IK at sampling
time) and the normalisation statistics come from the training windows only.

The result is cached under `default_cache_dir()` (or ``cache_dir``) keyed by a SHA-256 of every
input file's path, size and mtime and of every argument that changes the result, so a second
call loads plain arrays (``allow_pickle=False``) and JSON at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from motiongen.core.kinematics import fit_skeleton
from motiongen.core.motion import Motion
from motiongen.core.ops import fill_missing, resample, resampled_frame_count
from motiongen.core.skeleton import Skeleton
from motiongen.data.features import ROBUST_OUTSIDE, Normalization, to_channels_first, to_features
from motiongen.data.manifest import ClipEntry, find_clips
from motiongen.errors import ConfigError, FormatError, MotionGenError, SkeletonError

CACHE_VERSION = 2  # bump whenever preparation changes what a cached dataset holds
def default_cache_dir() -> Path:
    """``$MOTIONGEN_CACHE/datasets``, else ``$XDG_CACHE_HOME/motiongen/datasets`` (``~/.cache``):
    never inside the dataset, which may be read-only or shared."""
    import os

    base = os.environ.get("MOTIONGEN_CACHE")
    if base:
        return Path(base) / "datasets"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "motiongen" / "datasets"
MAX_WINDOW_FRAMES = 100_000
MAX_FIT_FRAMES = 200_000  # bone-length fitting uses an evenly spaced subset beyond this
TRAIN = "train"
TEST = "test"
_ARRAY_SUFFIXES = (".npy", ".npz")


# --- the dataset ------------------------------------------------------------------------------------

@dataclass(eq=False)
class MotionDataset:
    """Windows of motion ready for training. ``windows [N, T, V, 3]`` are float32 metres in the
    internal frame, each window's root starting at x = z = 0; ``labels [N]`` index ``actions``;
    ``clip_index [N]`` indexes ``clips`` (file, action, subject, split, frames, windows)."""

    windows: np.ndarray  # float32 [N, T, V, 3]
    labels: np.ndarray  # int64 [N]
    actions: tuple[str, ...]  # class names in label order
    skeleton: Skeleton  # the training skeleton, bone lengths fitted to the training frames
    fps: float
    frames: int
    normalization: Normalization  # from to_features(windows) of the training split only
    clip_index: np.ndarray  # int64 [N]
    clips: tuple[dict, ...]
    meta: dict = field(default_factory=dict)  # source, stride, cache key, …

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    def features(self, indices=None) -> np.ndarray:
        """Normalised features ``[n, 3, T, V]`` float32 (ST-GCN order) of the chosen windows."""
        windows = self.windows if indices is None else self.windows[indices]
        normalized = self.normalization.normalize(to_features(windows))
        return to_channels_first(normalized.astype(np.float32, copy=False))

    def split_names(self) -> tuple[str, ...]:
        return tuple(sorted({clip["split"] for clip in self.clips}))

    def split(self, name: str) -> "MotionDataset":
        """The windows of clips whose split is ``name`` (same actions, skeleton, normalisation;
        ``clip_index`` still indexes the full ``clips``)."""
        if name not in self.split_names():
            raise ConfigError(f"no split {name!r} in this dataset; it has: {', '.join(self.split_names())}")
        in_split = np.array([clip["split"] == name for clip in self.clips], dtype=bool)
        keep = in_split[self.clip_index]
        return MotionDataset(
            windows=self.windows[keep], labels=self.labels[keep], actions=self.actions, skeleton=self.skeleton,
            fps=self.fps, frames=self.frames, normalization=self.normalization,
            clip_index=self.clip_index[keep], clips=self.clips, meta={**self.meta, "split": name},
        )

    def label_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.actions))
        return {action: int(n) for action, n in zip(self.actions, counts)}

    def __repr__(self) -> str:
        return (f"MotionDataset({len(self)} windows of {self.frames} frames @ {self.fps:g} fps, "
                f"{len(self.actions)} actions, {len(self.clips)} clips, skeleton {self.skeleton.name!r})")


# --- preparation ---------------------------------------------------------------------------------

@dataclass
class _Clip:
    file: str
    action: str
    subject: str | None
    split: str | None
    label: int | None  # the source's own class number (NTU), for ordering actions
    positions: np.ndarray  # float32 [T, V, 3], filled, at the training fps


def prepare_dataset(source: str | Path, skeleton: str | Skeleton | None = None, frames: int = 64,
                    fps: float | None = None, stride: int | None = None, layout: str | None = None,
                    labels: Path | None = None, min_clips_per_action: int = 1,
                    holdout_subjects: Sequence[str] = (), subjects: Sequence[str] | None = None,
                    cache_dir: Path | None = None,
                    progress: Callable[[int, int], None] | None = None) -> MotionDataset:
    """Windows of every clip of ``source``, labelled and split (see the module docstring).

    source: a folder (``manifest.csv`` inside, else labels from parent folder names), a manifest
        ``.csv``, or an NTU array ``.npy``/``.npz`` (``layout`` required; ``labels`` the label
        pickle, default the sibling ``*_label.pkl``).
    skeleton: the training skeleton (registry name, TOML path or `Skeleton`); default the first
        clip's own.
    frames: window length in frames. fps: training frame rate (default the given skeleton's, else
        the first clip's). stride: frames between window starts (default frames // 2).
    min_clips_per_action: actions with fewer training clips are dropped (with a warning).
    holdout_subjects: without a manifest ``split`` column, these subjects' clips form the
        ``test`` split and the rest ``train``.
    subjects: only these subjects' clips (e.g. the held-out subjects, as one plain set to evaluate
        on: every clip is then ``train`` and no action is dropped for want of training clips).
    cache_dir: where prepared datasets are cached (default `default_cache_dir()`).
    progress: called as ``progress(done, total)`` while clips are read.
    """
    frames, stride = _check_sizes(frames, stride)
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps}")
    if isinstance(min_clips_per_action, bool) or int(min_clips_per_action) != min_clips_per_action:
        raise ConfigError(f"min_clips_per_action must be a whole number, got {min_clips_per_action!r}")
    holdout = tuple(str(s).strip() for s in holdout_subjects)
    source = Path(source)
    target = _resolve_skeleton(skeleton)
    array_source = source.is_file() and source.suffix.lower() in _ARRAY_SUFFIXES
    if array_source:
        if subjects is not None:
            raise ConfigError(f"{source}: choosing subjects works on folders and manifests, not arrays")
        if layout is None:
            raise ConfigError(f"{source}: an array dataset needs its layout (stgcn, msg3d or ctrgcn); "
                              "it cannot be told from the file")
        entries, root = None, source.parent.resolve()
        inputs = [source, *([Path(labels)] if labels is not None else _label_files(source))]
    else:
        entries, root = find_clips(source)
        if subjects is not None:
            wanted = {str(s).strip() for s in subjects}
            _check_subjects(tuple(wanted), [entry.subject for entry in entries])
            entries = [entry for entry in entries if entry.subject is not None
                       and any(_same_subject(entry.subject, s) for s in wanted)]
        inputs = [entry.path for entry in entries]
        if holdout and any(entry.split is not None for entry in entries):
            raise ConfigError(f"{source}: the manifest has a split column; holdout_subjects would "
                              "override it (drop one of them)")
        _check_subjects(holdout, [entry.subject for entry in entries])
    arguments = {
        "skeleton": None if target is None else _skeleton_signature(target), "frames": frames, "fps": fps,
        "stride": stride, "layout": layout, "labels": None if labels is None else str(Path(labels).resolve()),
        "min_clips_per_action": int(min_clips_per_action), "holdout_subjects": sorted(holdout),
        **({} if subjects is None else {"subjects": sorted(str(s).strip() for s in subjects)}),
    }
    key = _cache_key(entries, inputs, arguments)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = _load_cache(cache_dir, key)
    if cached is not None:
        return cached

    if array_source:
        clips, target, fps, seen = _read_array(source, layout, labels, target, fps, frames, holdout, progress)
    else:
        clips, target, fps = _read_entries(entries, layout, labels, target, fps, frames, progress)
        seen = {entry.action: None for entry in entries}
    dataset = _assemble(clips, seen, target, fps, frames, stride, holdout, int(min_clips_per_action), source)
    dataset.meta.update(source=str(source), stride=stride, cache_key=key)
    dataset = _save_cache(cache_dir, key, dataset)
    return dataset


def _check_sizes(frames, stride) -> tuple[int, int]:
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not 2 <= frames <= MAX_WINDOW_FRAMES:
        raise ConfigError(f"frames must be a whole number from 2 to {MAX_WINDOW_FRAMES}, got {frames!r}")
    stride = max(int(frames) // 2, 1) if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ConfigError(f"stride must be a whole number ≥ 1, got {stride!r}")
    return int(frames), int(stride)


def _resolve_skeleton(skeleton: str | Skeleton | None) -> Skeleton | None:
    if skeleton is None or isinstance(skeleton, Skeleton):
        return skeleton
    from motiongen.skeletons import load_skeleton

    return load_skeleton(skeleton)


def _label_files(source: Path) -> list[Path]:
    """Label pickles that may belong to an array file (they change its labels, so they key the cache)."""
    return sorted(p for p in source.parent.glob("*label*.pkl") if p.is_file())


# --- reading clips -------------------------------------------------------------------------------

def _read_entries(entries: list[ClipEntry], layout, labels, target, fps, frames, progress):
    """Read and prepare every manifest/folder clip; returns (clips, training skeleton, fps)."""
    clips, short, unfillable, unreadable = [], [], [], []
    for done, entry in enumerate(entries, start=1):  # one step per file; all work inside is vectorised
        try:
            motions = _read(entry.path, layout, labels)
        except FormatError as exc:
            if entry.line is not None:  # a file the manifest names must read
                raise
            unreadable.append(f"{entry.file} ({exc.reason})")
            motions = []
        for k, motion in enumerate(motions):
            target = target or motion.skeleton
            fps = fps or (target.fps if target is not motion.skeleton else motion.fps)
            name = entry.file if len(motions) == 1 else f"{entry.file}#{k}"
            positions = _prepare_motion(motion[entry.start_frame:], target, fps, frames, name, short, unfillable)
            if positions is not None:
                clips.append(_Clip(name, entry.action, entry.subject, entry.split, None, positions))
        if progress is not None:
            progress(done, len(entries))
    _warn_skipped(short, unfillable, frames, fps, unreadable)
    return clips, target, fps


def _read_array(source: Path, layout, labels, target, fps, frames, holdout, progress):
    """Read and prepare every sample of an NTU array file (labels from its label pickle)."""
    motions = _read(source, layout, labels)
    if any(m.meta.get("label") is None for m in motions):
        raise ConfigError(f"{source}: the samples carry no action labels (pass the label pickle, or use a manifest)")
    _check_subjects(holdout, [_ntu_subject(_sample_name(m, source)) for m in motions])
    clips, short, unfillable, seen = [], [], [], {}
    for done, motion in enumerate(motions, start=1):
        target = target or motion.skeleton
        fps = fps or (target.fps if target is not motion.skeleton else motion.fps)
        name = _sample_name(motion, source)
        label = int(motion.meta["label"])
        action = motion.meta.get("action") or f"A{label + 1:03d}"
        seen[action] = label
        positions = _prepare_motion(motion, target, fps, frames, name, short, unfillable)
        if positions is not None:
            clips.append(_Clip(name, action, _ntu_subject(name), None, label, positions))
        if progress is not None:
            progress(done, len(motions))
    _warn_skipped(short, unfillable, frames, fps, [])
    return clips, target, fps, seen


def _sample_name(motion: Motion, source: Path) -> str:
    return motion.meta.get("sample_name") or f"{source.name}#{motion.meta.get('index', 0)}"


def _ntu_subject(sample_name: str) -> str | None:
    """The performer of an NTU sample, ``S001C002P003R002A013`` → ``003``."""
    match = re.search(r"P(\d{3})", sample_name)
    return match.group(1) if match else None


def _read(path: Path, layout, labels) -> list[Motion]:
    from motiongen.formats import read_motions

    options = {"layout": layout} if layout else {}
    if labels is not None:
        options["labels"] = labels
    return read_motions(path, **options)


def _prepare_motion(motion: Motion, target: Skeleton, fps: float, frames: int, name: str,
                    short: list, unfillable: list) -> np.ndarray | None:
    """``[T, V, 3]`` float32 positions of one motion on ``target`` at ``fps``, gaps filled;
    None (noted in ``short``/``unfillable``) when it cannot give a window."""
    from motiongen.retarget import retarget

    if motion.frame_count < 1 or resampled_frame_count(motion.frame_count, motion.fps, fps) < frames:
        short.append(name)
        return None
    try:
        motion = retarget(resample(motion, fps), target)
    except (ConfigError, SkeletonError) as exc:  # say which clip
        raise type(exc)(f"{name}: {exc}") from None
    try:
        motion = fill_missing(motion)
    except ConfigError as exc:
        unfillable.append(f"{name} ({exc})")
        return None
    return motion.positions


def _warn_skipped(short: list, unfillable: list, frames: int, fps: float | None, unreadable: list) -> None:
    if short:
        warnings.warn(f"{len(short)} clip(s) shorter than {frames} frames at {fps:g} fps give no window "
                      f"(e.g. {', '.join(short[:3])})", stacklevel=4)
    if unfillable:
        warnings.warn(f"skipped {len(unfillable)} clip(s) with a joint that is never observed: "
                      f"{'; '.join(unfillable[:5])}", stacklevel=4)
    if unreadable:
        warnings.warn(f"skipped {len(unreadable)} unreadable file(s): {'; '.join(unreadable[:5])}", stacklevel=4)


# --- windows, splits, statistics --------------------------------------------------------------

def cut_windows(positions: np.ndarray, frames: int, stride: int) -> np.ndarray:
    """``[T, V, 3]`` → ``[n, frames, V, 3]`` windows starting every ``stride`` frames,
    n = ⌊(T − frames) / stride⌋ + 1 (0 when T < frames); index arithmetic, one gather."""
    count = (positions.shape[0] - frames) // stride + 1 if positions.shape[0] >= frames else 0
    index = (np.arange(count) * stride)[:, None] + np.arange(frames)[None, :]
    return positions[index]


def _same_subject(a: str | None, b: str) -> bool:
    """Subjects match as text, or as numbers when both are numbers ("6" holds out "06")."""
    if a is None:
        return False
    return a == b or (a.isdigit() and b.isdigit() and int(a) == int(b))


def _check_subjects(holdout: tuple[str, ...], subjects: list[str | None]) -> None:
    """A holdout subject that no clip has is a typo, not an empty test split."""
    unknown = [s for s in holdout if not any(_same_subject(subject, s) for subject in subjects)]
    if unknown:
        known = sorted({s for s in subjects if s})
        raise ConfigError(f"holdout subject(s) {', '.join(unknown)} not in the data; subjects: "
                          f"{', '.join(known) or 'none (no subject column)'}")


def _assign_splits(clips: list[_Clip], holdout: tuple[str, ...]) -> list[str]:
    if any(clip.split is not None for clip in clips):
        return [clip.split or TRAIN for clip in clips]
    return [TEST if any(_same_subject(c.subject, s) for s in holdout) else TRAIN for c in clips]


def _choose_actions(clips: list[_Clip], seen: dict[str, int | None], splits: list[str], windows: list[int],
                    min_clips: int) -> tuple[str, ...]:
    """Actions kept: those with at least ``min_clips`` training clips that give windows, ordered
    by the source's class numbers where it has them (NTU), else by name. ``seen``: every action
    of the source (class number or None), including those whose clips were all too short."""
    train_clips = {action: 0 for action in seen}
    for clip, split, count in zip(clips, splits, windows):
        train_clips[clip.action] += int(split == TRAIN and count > 0)
    dropped = sorted(a for a, n in train_clips.items() if n < max(min_clips, 1))
    if dropped:
        listed = ", ".join(f"{a} ({train_clips[a]})" for a in dropped)
        warnings.warn(f"dropping {len(dropped)} action(s) with fewer than {max(min_clips, 1)} training "
                      f"clip(s): {listed}", stacklevel=4)
    kept = [a for a in train_clips if a not in dropped]
    if all(seen[a] is not None for a in kept):
        return tuple(sorted(kept, key=lambda a: seen[a]))
    return tuple(sorted(kept))


def _assemble(clips: list[_Clip], seen: dict[str, int | None], skeleton: Skeleton | None, fps: float | None, frames: int, stride: int,
              holdout: tuple[str, ...], min_clips: int, source: Path) -> MotionDataset:
    if not clips or skeleton is None:
        raise ConfigError(f"{source}: no clip is at least {frames} frames long; nothing to train on")
    splits = _assign_splits(clips, holdout)
    per_clip = [cut_windows(clip.positions, frames, stride) for clip in clips]
    counts = [len(w) for w in per_clip]
    actions = _choose_actions(clips, seen, splits, counts, min_clips)
    if not actions:
        raise ConfigError(f"{source}: no action has training clips; check the split or holdout_subjects")
    label_of = {action: k for k, action in enumerate(actions)}
    kept = [i for i, clip in enumerate(clips) if clip.action in label_of and counts[i] > 0]
    records = tuple({"file": clips[i].file, "action": clips[i].action, "subject": clips[i].subject,
                     "split": splits[i], "frames": int(clips[i].positions.shape[0]), "windows": counts[i]}
                    for i in kept)
    windows = np.concatenate([per_clip[i] for i in kept]).astype(np.float64)
    windows[..., [0, 2]] -= windows[:, :1, :1, [0, 2]]  # every window's root starts at x = z = 0
    windows = windows.astype(np.float32)
    clip_index = np.repeat(np.arange(len(kept), dtype=np.int64), [counts[i] for i in kept])
    labels = np.array([label_of[clips[i].action] for i in kept], dtype=np.int64)[clip_index]
    train = np.array([splits[i] == TRAIN for i in kept], dtype=bool)
    if not train.any():
        raise ConfigError(f"{source}: no training clip left")
    fitted = _fit(np.concatenate([clips[i].positions for i, t in zip(kept, train) if t]), skeleton)
    normalization = Normalization.from_features_data(to_features(windows[train[clip_index]]), ROBUST_OUTSIDE)
    return MotionDataset(windows=windows, labels=labels, actions=actions, skeleton=fitted, fps=float(fps),
                         frames=frames, normalization=normalization, clip_index=clip_index, clips=records)


def _fit(train_frames: np.ndarray, skeleton: Skeleton) -> Skeleton:
    if len(train_frames) > MAX_FIT_FRAMES:  # medians and mean directions settle long before this
        train_frames = train_frames[np.linspace(0, len(train_frames) - 1, MAX_FIT_FRAMES).astype(np.int64)]
    return fit_skeleton(train_frames.astype(np.float64), skeleton)


# --- cache ------------------------------------------------------------------------------------------

def _skeleton_signature(skeleton: Skeleton) -> str:
    from motiongen.skeletons import skeleton_to_toml

    exact = hashlib.sha256(np.ascontiguousarray(skeleton.offsets).tobytes()).hexdigest()
    return hashlib.sha256((skeleton_to_toml(skeleton) + exact).encode()).hexdigest()


def _stat(path: Path) -> list:
    try:
        info = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path.resolve()), info.st_size, info.st_mtime_ns]


def _cache_key(entries: list[ClipEntry] | None, inputs: list[Path], arguments: dict) -> str:
    from motiongen.skeletons import search_dirs

    # Registry files decide how a file's skeleton is recognised, so they key the cache too.
    registry = [_stat(p) for d in search_dirs() if d.is_dir() for p in sorted(d.glob("*.toml"))]
    clips = None if entries is None else [[e.action, e.subject, e.split, e.start_frame] for e in entries]
    payload = {"version": CACHE_VERSION, "files": [_stat(p) for p in inputs], "clips": clips,
               "arguments": arguments, "registry": registry}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    stem = f"dataset-{key[:32]}"
    return cache_dir / f"{stem}.npz", cache_dir / f"{stem}.json"


def _load_cache(cache_dir: Path, key: str) -> MotionDataset | None:
    arrays_path, meta_path = _cache_paths(cache_dir, key)
    if not (arrays_path.is_file() and meta_path.is_file()):
        return None
    from motiongen.formats._io import load_npz

    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") != key or meta.get("version") != CACHE_VERSION:
            return None
        return _from_cache(load_npz(arrays_path), meta)
    except (OSError, ValueError, KeyError, TypeError, MotionGenError) as exc:
        warnings.warn(f"ignoring unreadable dataset cache {arrays_path} ({exc}); preparing again", stacklevel=3)
        return None


def _from_cache(arrays: dict, meta: dict) -> MotionDataset:
    from motiongen.skeletons import skeleton_from_toml_text

    skeleton = skeleton_from_toml_text(meta["skeleton_toml"]).with_offsets(arrays["skeleton_offsets"])
    return MotionDataset(
        windows=arrays["windows"], labels=arrays["labels"], actions=tuple(meta["actions"]), skeleton=skeleton,
        fps=float(meta["fps"]), frames=int(meta["frames"]),
        normalization=Normalization(arrays["centre"], arrays["half_range"]),
        clip_index=arrays["clip_index"], clips=tuple(meta["clips"]), meta=dict(meta["meta"]),
    )


def _save_cache(cache_dir: Path, key: str, dataset: MotionDataset) -> MotionDataset:
    """Write the cache (arrays first, then the JSON that makes them valid) and return the dataset
    as the cache would give it back, so cold and cached calls return the same thing."""
    from motiongen.formats._io import atomic_write, save_npz
    from motiongen.skeletons import skeleton_to_toml

    arrays = {"windows": dataset.windows, "labels": dataset.labels, "clip_index": dataset.clip_index,
              "centre": dataset.normalization.centre, "half_range": dataset.normalization.half_range,
              "skeleton_offsets": dataset.skeleton.offsets}
    meta = {"key": key, "version": CACHE_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "actions": list(dataset.actions), "fps": dataset.fps, "frames": dataset.frames,
            "clips": list(dataset.clips), "skeleton_toml": skeleton_to_toml(dataset.skeleton),
            "normalization": dataset.normalization.to_dict(), "meta": dataset.meta}
    result = _from_cache(arrays, meta)
    arrays_path, meta_path = _cache_paths(cache_dir, key)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        save_npz(arrays_path, **arrays)
        with atomic_write(meta_path) as stream:
            json.dump(meta, stream, indent=1)
    except (OSError, MotionGenError) as exc:
        warnings.warn(f"cannot write the dataset cache in {cache_dir} ({exc}); continuing without it",
                      stacklevel=3)
    return result
