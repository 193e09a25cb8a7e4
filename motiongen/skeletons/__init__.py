"""Skeleton registry: skeleton definitions as TOML data (DESIGN §4).

Search order for a name: directories on ``MOTIONGEN_SKELETON_PATH`` (``os.pathsep``-separated),
then the shipped definitions (``motiongen/_skeletons`` inside a wheel, the repository's top-level
``skeletons/`` in a checkout). ``load_skeleton`` also takes a path to a ``.toml`` file.
Bad files raise `SkeletonError` naming the file, the line and the reason.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from pathlib import Path

import numpy as np

from motiongen.core.skeleton import DerivedRule, Skeleton
from motiongen.errors import SkeletonError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CANONICAL_CENTRAL = (
    "pelvis", "spine_lower", "spine_mid", "chest", "neck_base", "neck", "head", "head_top",
    "nose", "jaw",
)
_CANONICAL_SIDED = (
    "eye", "collar", "shoulder", "elbow", "wrist", "hand", "hand_tip", "thumb", "hip", "knee",
    "ankle", "toe", "toe_tip",
    *(f"{finger}{k}" for finger in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)),
)
CANONICAL_NAMES = frozenset(
    CANONICAL_CENTRAL + tuple(f"{side}_{part}" for side in ("left", "right") for part in _CANONICAL_SIDED)
)
_AXES = {"+x", "-x", "+y", "-y", "+z", "-z"}


def shipped_dir() -> Path:
    """Where the shipped skeleton TOMLs are (wheel or checkout)."""
    packaged = Path(__file__).resolve().parent.parent / "_skeletons"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "skeletons"


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("MOTIONGEN_SKELETON_PATH", "").split(os.pathsep) if p]
    return [*extra, shipped_dir()]


def list_skeletons() -> list[str]:
    """Names of every skeleton on the search path, sorted."""
    names = set()
    for directory in search_dirs():
        if directory.is_dir():
            names.update(p.stem for p in directory.glob("*.toml"))
    return sorted(names)


def skeleton_path(name: str) -> Path:
    for directory in search_dirs():
        candidate = directory / f"{name}.toml"
        if candidate.is_file():
            return candidate
    close = difflib.get_close_matches(name, list_skeletons(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(list_skeletons())}"
    raise SkeletonError(f"unknown skeleton {name!r}{hint}")


def load_skeleton(name_or_path: str | os.PathLike) -> Skeleton:
    """A registry skeleton by name, or a skeleton TOML file by path."""
    text = str(name_or_path)
    if text.endswith(".toml") or os.sep in text or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise SkeletonError(f"{path}: no such skeleton file")
        return _load_file(path.resolve(), path.stat().st_mtime_ns)
    path = skeleton_path(text)
    return _load_file(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_file(path: Path, _mtime_ns: int) -> Skeleton:
    raw_text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(path, *_toml_reason_and_line(exc, raw_text)) from None
    return skeleton_from_dict(data, path, raw_text)


def _toml_reason_and_line(exc: Exception, raw_text: str) -> tuple[str, int | None]:
    """The parser's reason and line; before Python 3.14 the line is only in the message text
    ("(at line 12, column 3)", or "(at end of document)": the last line)."""
    message = str(exc)
    match = re.search(r" \(at line (\d+), column \d+\)", message)
    line = getattr(exc, "lineno", None) or (int(match.group(1)) if match else None)
    if line is None and "(at end of document)" in message:
        line = max(raw_text.count("\n") + (0 if raw_text.endswith("\n") else 1), 1)
    return re.split(r" \(at (?:line \d+|end of document)", message)[0], line


def _error(path: Path, reason: str, line: int | None = None) -> SkeletonError:
    where = f"{path} line {line}" if line else str(path)
    return SkeletonError(f"{where}: {reason}")


def _line_of(raw_text: str, pattern: str) -> int | None:
    match = re.search(pattern, raw_text, flags=re.MULTILINE)
    return raw_text.count("\n", 0, match.start()) + 1 if match else None


def skeleton_from_dict(data: dict, path: Path, raw_text: str = "") -> Skeleton:
    """Validate a parsed skeleton TOML and build the `Skeleton` (errors carry file and line)."""

    def fail(reason: str, joint: str | None = None, key: str | None = None):
        line = None
        if joint is not None:
            line = _line_of(raw_text, rf'^\s*name\s*=\s*"{re.escape(joint)}"')
        elif key is not None:
            line = _line_of(raw_text, rf"^\s*{re.escape(key)}\s*=")
        raise _error(path, reason, line)

    for key in ("name", "joints"):
        if key not in data:
            fail(f"missing required key {key!r}")
    joints = data["joints"]
    if not isinstance(joints, list) or not joints:
        fail("'joints' must be a non-empty array of tables", key="joints")
    names, parents, offsets, canonical, end_sites, indices = [], [], [], [], [], []
    for position, joint in enumerate(joints):
        name = joint.get("name")
        if not isinstance(name, str) or not name:
            fail(f"joint #{position + 1} has no name")
        if name in names:
            fail(f"joint {name!r} is defined twice", joint=name)
        parent = joint.get("parent")
        if position == 0:
            if parent not in (None, ""):
                fail(f"the first joint {name!r} is the root and must have no parent", joint=name)
            parents.append(-1)
        else:
            if parent in (None, ""):
                fail(f"joint {name!r} has no parent (only the first joint is the root)", joint=name)
            if parent not in names:
                fail(f"joint {name!r}: parent {parent!r} must be defined before it", joint=name)
            parents.append(names.index(parent))
        offset = joint.get("offset")
        if not _is_vector(offset):
            fail(f"joint {name!r}: offset must be three finite numbers", joint=name)
        tag = joint.get("canonical")
        if tag is not None and tag not in CANONICAL_NAMES:
            close = difflib.get_close_matches(str(tag), sorted(CANONICAL_NAMES), n=2)
            fail(f"joint {name!r}: unknown canonical name {tag!r}"
                 + (f" (did you mean {', '.join(close)}?)" if close else ""), joint=name)
        if tag is not None and tag in canonical:
            fail(f"joint {name!r}: canonical name {tag!r} is already used", joint=name)
        end = joint.get("end_site")
        if end is not None and not _is_vector(end):
            fail(f"joint {name!r}: end_site must be three finite numbers", joint=name)
        names.append(name)
        offsets.append([float(v) for v in offset])
        canonical.append(tag)
        end_sites.append([float(v) for v in end] if end is not None else [np.nan] * 3)
        indices.append(joint.get("index"))
    symmetry = []
    for pair in data.get("symmetry", []):
        if not (isinstance(pair, list) and len(pair) == 2 and all(p in names for p in pair)):
            fail(f"symmetry pair {pair!r} must name two joints of this skeleton", key="symmetry")
        symmetry.append((names.index(pair[0]), names.index(pair[1])))
    derived = []
    for rule in data.get("derived", []):
        target, sources, weights = rule.get("canonical"), rule.get("from"), rule.get("weights")
        if target not in CANONICAL_NAMES or not sources or any(s not in CANONICAL_NAMES for s in sources):
            fail(f"derived rule {rule!r} must use canonical names", key="canonical")
        if weights is None or len(weights) != len(sources) or abs(sum(weights) - 1.0) > 1e-6:
            fail(f"derived rule for {target!r}: weights must match 'from' and sum to 1", key="weights")
        derived.append(DerivedRule(target, tuple(sources), tuple(float(w) for w in weights)))
    for key in ("up", "forward"):
        if key in data and data[key] not in _AXES:
            fail(f"{key} must be one of {', '.join(sorted(_AXES))}", key=key)
    fps = data.get("fps", 30.0)
    scale = data.get("metres_per_unit", 1.0)
    if not (isinstance(fps, (int, float)) and fps > 0):
        fail("fps must be a positive number", key="fps")
    if not (isinstance(scale, (int, float)) and scale > 0):
        fail("metres_per_unit must be a positive number", key="metres_per_unit")
    dataset_index = None
    if any(i is not None for i in indices):
        if any(i is None for i in indices) or sorted(indices) != list(range(1, len(names) + 1)):
            fail("'index' must be given for every joint and be a permutation of 1..J", key="index")
        dataset_index = np.asarray(indices, dtype=np.int64) - 1
    try:
        return Skeleton(
            name=str(data["name"]),
            joint_names=tuple(names),
            parents=np.asarray(parents),
            offsets=np.asarray(offsets),
            canonical=tuple(canonical),
            symmetry=tuple(symmetry),
            end_sites=np.asarray(end_sites),
            derived=tuple(derived),
            fps=float(fps),
            up=data.get("up", "+y"),
            forward=data.get("forward", "+z"),
            units=str(data.get("units", "m")),
            metres_per_unit=float(scale),
            description=str(data.get("description", "")),
            source=str(data.get("source", "")),
            actions=data.get("actions"),
            dataset_index=dataset_index,
            meta={"path": str(path)},
        )
    except SkeletonError as exc:
        raise _error(path, str(exc)) from None


def _is_vector(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)
    )


def find_matching_skeleton(joint_names: tuple[str, ...]) -> Skeleton | None:
    """The registry skeleton with exactly these joint names (in any order), if any, so a CMU BVH
    file is recognised as ``cmu31`` and a BVH written from ``smpl22`` reads back as ``smpl22``."""
    wanted = set(joint_names)
    for name in list_skeletons():
        try:
            skeleton = load_skeleton(name)
        except SkeletonError:
            continue
        if len(skeleton.joint_names) == len(joint_names) and set(skeleton.joint_names) == wanted:
            return skeleton
    return None


# --- action vocabularies ----------------------------------------------------------------------

def list_action_sets() -> list[str]:
    directory = shipped_dir() / "actions"
    return sorted(p.stem for p in directory.glob("*.txt")) if directory.is_dir() else []


@functools.lru_cache(maxsize=16)
def load_actions(name: str) -> tuple[str, ...]:
    """An action vocabulary (e.g. ``ntu120``, ``h36m``, ``cmu``): names in label order."""
    path = shipped_dir() / "actions" / f"{name}.txt"
    if not path.is_file():
        raise SkeletonError(f"unknown action list {name!r}; known: {', '.join(list_action_sets())}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


# --- writing definitions ----------------------------------------------------------------------

def skeleton_to_toml(skeleton: Skeleton) -> str:
    """The TOML text of a skeleton, readable by `load_skeleton` (used to carry a file's own
    hierarchy inside an ``.npz``, and by ``motiongen skeletons show --toml``)."""

    def vec(values) -> str:
        return "[" + ", ".join(f"{float(v):.9g}" for v in values) + "]"

    def text(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"name = {text(skeleton.name)}",
        f"description = {text(skeleton.description)}",
        f"source = {text(skeleton.source)}",
        f"units = {text(skeleton.units)}",
        f"metres_per_unit = {skeleton.metres_per_unit!r}",
        f"up = {text(skeleton.up)}",
        f"forward = {text(skeleton.forward)}",
        f"fps = {float(skeleton.fps)!r}",
    ]
    if skeleton.actions:
        lines.append(f"actions = {text(skeleton.actions)}")
    pairs = ", ".join(
        f"[{text(skeleton.joint_names[a])}, {text(skeleton.joint_names[b])}]" for a, b in skeleton.symmetry
    )
    lines.append(f"symmetry = [{pairs}]")
    for j, name in enumerate(skeleton.joint_names):
        lines += ["", "[[joints]]", f"name = {text(name)}"]
        if j:
            lines.append(f"parent = {text(skeleton.joint_names[skeleton.parents[j]])}")
        lines.append(f"offset = {vec(skeleton.offsets[j])}")
        if skeleton.canonical[j]:
            lines.append(f"canonical = {text(skeleton.canonical[j])}")
        if np.all(np.isfinite(skeleton.end_sites[j])):
            lines.append(f"end_site = {vec(skeleton.end_sites[j])}")
        if skeleton.dataset_index is not None:
            lines.append(f"index = {int(skeleton.dataset_index[j]) + 1}")
    for rule in skeleton.derived:
        lines += ["", "[[derived]]", f"canonical = {text(rule.canonical)}",
                  "from = [" + ", ".join(text(s) for s in rule.sources) + "]",
                  f"weights = {vec(rule.weights)}"]
    return "\n".join(lines) + "\n"


def skeleton_from_toml_text(text: str, origin: str = "<embedded skeleton>") -> Skeleton:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(Path(origin), *_toml_reason_and_line(exc, text)) from None
    return skeleton_from_dict(data, Path(origin), text)


def skeleton_for_joint_count(joint_count: int) -> Skeleton:
    """The registry skeleton with this many joints, when exactly one has it."""
    matches = [s for s in (load_skeleton(n) for n in list_skeletons()) if s.joint_count == joint_count]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SkeletonError(f"no registry skeleton has {joint_count} joints; pass --skeleton")
    raise SkeletonError(
        f"{joint_count} joints fit several skeletons ({', '.join(s.name for s in matches)}); pass --skeleton"
    )
