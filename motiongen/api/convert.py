"""``convert``: read → resample → retarget → IK when the target needs rotations → write (DESIGN §5).

Many inputs or a folder go to an output folder; each output is written atomically, so a failed
file leaves nothing behind and the other files still convert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from motiongen.core.kinematics import fit_skeleton
from motiongen.core.motion import Motion
from motiongen.core.ops import fill_missing, resample
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, MotionGenError
from motiongen.formats import get_format, read_motions, writer_for, write_motions
from motiongen.retarget import retarget
from motiongen.skeletons import load_skeleton

# The suffix each writer produces when the output is a folder.
_SUFFIX = {"bvh": ".bvh", "npz": ".npz", "amass": ".npz", "h36m": ".npz", "ntu-array": ".npy",
           "h36m-expmap": ".txt"}
MULTI_SEQUENCE = {"ntu-array"}


@dataclass
class ConvertResult:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    errors: list[MotionGenError] = field(default_factory=list)  # the exceptions behind `failed`, same order


def convert_motion(motion: Motion, target: Skeleton | None = None, fps: float | None = None,
                   needs_rotations: bool = False, action: str | None = None) -> Motion:
    """One motion through the pipeline, without I/O."""
    if action is not None:
        motion = motion.with_meta(action=action)
    if fps is not None:
        motion = resample(motion, fps)
    if target is not None and not motion.skeleton.same_layout(target):
        motion = retarget(motion, target)
    if needs_rotations and not motion.has_rotations:
        motion = solve_rotations(motion)
    return motion


def solve_rotations(motion: Motion) -> Motion:
    """IK onto a fixed skeleton fitted to the clip (median bone lengths, left/right symmetric;
    sibling-bone directions from the data, see `fit_skeleton`); gaps are filled by interpolation
    first since IK needs every joint."""
    complete = fill_missing(motion)
    skeleton = fit_skeleton(complete.positions, motion.skeleton)
    solved = complete.replace(skeleton=skeleton).with_ik()
    return solved.replace(mask=motion.mask)


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to the motion files they contain (sorted, recursive)."""
    from motiongen.formats import _MODULES

    readable = {s for name in _MODULES for s in get_format(name).SUFFIXES} | {".skeleton"}
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in readable)
            if not found:
                raise ConfigError(f"{path}: folder holds no motion files")
            files.extend(found)
        else:
            files.append(path)
    if not files:
        raise ConfigError("no input files")
    return files


def _output_paths(source: Path, count: int, output: Path, to_folder: bool, suffix: str,
                  motions: list[Motion]) -> list[Path]:
    if not to_folder:
        return [output]
    if count == 1:
        return [output / (source.stem + suffix)]
    names = []
    for index, motion in enumerate(motions):
        label = motion.meta.get("sample_name") or f"{source.stem}_{index:04d}"
        names.append(output / (str(label) + suffix))
    return names


def convert(inputs: Iterable[str | Path], output: str | Path, to: str | None = None,
            skeleton: str | Skeleton | None = None, fps: float | None = None, action: str | None = None,
            read_options: dict | None = None, write_options: dict | None = None,
            on_file: Callable[[Path], None] | None = None) -> ConvertResult:
    """Convert motion files. ``output`` is a file for one input file, else a folder (created).

    A format with a fixed frame rate (NTU arrays 30 fps, H3.6M expmap 50 fps) gets motion resampled
    to it unless ``fps`` says otherwise. ``action`` labels every motion (NTU arrays need labels).
    Errors in one input are collected in ``result.failed`` and the rest still convert; a usage
    error (unknown format or skeleton, impossible fps) raises before anything is written."""
    files = expand_inputs(inputs)
    output = Path(output)
    target = load_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    if fps is not None and not (fps > 0 and fps < 100_000):
        raise ConfigError(f"--fps must be between 0 and 100000, got {fps}")
    to_stdout = str(output) == "-"
    if to_stdout and len(files) > 1:
        raise ConfigError(f"-o - writes one file to stdout, got {len(files)} inputs; give an output folder")
    to_folder = not to_stdout and (output.is_dir() or str(output).endswith(("/", "\\")) or len(files) > 1)
    if to_folder:
        if output.exists() and not output.is_dir():
            raise ConfigError(f"{output} is a file; several inputs need an output folder")
        if not to:
            raise ConfigError("converting into a folder needs --to FORMAT (e.g. --to bvh)")
        writer = writer_for(output, to)
        output.mkdir(parents=True, exist_ok=True)
    else:
        writer = writer_for(output, to)
    allowed = getattr(writer, "SKELETONS", None)
    if allowed and target is not None and target.name not in allowed:
        raise ConfigError(f"format {writer.NAME!r} stores skeletons {', '.join(allowed)}, not {target.name!r}")
    suffix = _SUFFIX[writer.NAME]
    result = ConvertResult()
    for source in files:
        try:
            motions = read_motions(source, **(read_options or {}))
            rate = fps if fps is not None else getattr(writer, "FPS", None)
            converted = [convert_motion(m, target, rate, writer.NEEDS_ROTATIONS, action) for m in motions]
            bad = [m.skeleton.name for m in converted if allowed and m.skeleton.name not in allowed]
            if bad:
                raise ConfigError(f"format {writer.NAME!r} stores skeletons {', '.join(allowed)}; "
                                  f"add --skeleton {allowed[0]}")
            if writer.NAME in MULTI_SEQUENCE or len(converted) == 1:
                path = _output_paths(source, 1, output, to_folder, suffix, converted)[0]
                write_motions(converted, path, writer.NAME, **(write_options or {}))
                result.written.append(path)
            elif to_stdout:
                raise ConfigError(f"{source} holds {len(converted)} sequences and {writer.NAME!r} stores one "
                                  "per file; give an output folder instead of -o -")
            else:
                paths = _output_paths(source, len(converted), output, True, suffix, converted) \
                    if to_folder else _numbered(output, len(converted))
                for motion, path in zip(converted, paths):
                    write_motions([motion], path, writer.NAME, **(write_options or {}))
                    result.written.append(path)
        except MotionGenError as exc:
            result.failed.append((source, str(exc)))
            result.errors.append(exc)
        if on_file is not None:
            on_file(source)
    return result


def _numbered(output: Path, count: int) -> list[Path]:
    """walk.bvh with 3 sequences → walk_0000.bvh, walk_0001.bvh, walk_0002.bvh."""
    return [output.with_name(f"{output.stem}_{k:04d}{output.suffix}") for k in range(count)]
