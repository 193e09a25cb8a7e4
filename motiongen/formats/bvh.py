"""BVH (Biovision Hierarchy) reader and Blender-safe writer (DESIGN §5).

Reading accepts any channel order, 3 or 6 channels per joint (or any subset), End Sites, CRLF or
mixed line endings and tabs. The MOTION block is parsed in one vectorised pass: token counts per
line come from byte arithmetic (no Python loop over frames), values from one ``np.fromstring``;
only when something is wrong does a slow path look for the offending line to name it.

Conventions: root position channels *replace* the root OFFSET (as Blender reads them); a non-root
joint's position channels replace its OFFSET too. Units are found from a matching registry
skeleton (CMU's 0.056444 m/unit) or guessed from the rest height, and can be given explicitly.

The writer's profile: metres, root with 6 channels (OFFSET 0 0 0, absolute positions), every
other joint 3 rotation channels (ZYX by default), an End Site with non-zero length on every leaf,
``Frame Time = 1/fps``, 6 decimals for angles and 8 for positions, LF line endings.
"""

from __future__ import annotations

import decimal
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.kinematics import forward_kinematics
from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, FormatError
from motiongen.formats._io import atomic_write

NAME = "bvh"
SUFFIXES = (".bvh",)
NEEDS_ROTATIONS = True

MAX_FRAMES = 50_000_000  # refuse absurd headers before allocating
_CHANNELS = {
    "xposition": ("pos", 0), "yposition": ("pos", 1), "zposition": ("pos", 2),
    "xrotation": ("rot", "X"), "yrotation": ("rot", "Y"), "zrotation": ("rot", "Z"),
}
# Common BVH joint names (CMU/cgspeed, Mixamo, Truebones-like) → canonical names, so a BVH file
# that matches no registry skeleton can still be retargeted.
_NAME_ALIASES = {
    "hips": "pelvis", "pelvis": "pelvis", "spine": "spine_mid", "spine1": "chest", "chest": "chest",
    "spine2": "chest", "neck": "neck_base", "neck1": "neck", "head": "head", "headtop_end": "head_top",
    "leftshoulder": "left_collar", "leftarm": "left_shoulder", "leftforearm": "left_elbow",
    "lefthand": "left_wrist", "leftupleg": "left_hip", "leftleg": "left_knee",
    "leftfoot": "left_ankle", "lefttoebase": "left_toe",
}


@dataclass
class _Joint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    end_site: np.ndarray | None = None
    line: int = 0


# --- reading --------------------------------------------------------------------------------

def read(path, metres_per_unit: float | None = None, skeleton: Skeleton | None = None) -> Motion:
    """Read a BVH file into a `Motion` with rotations (metres, internal frame).

    metres_per_unit: override the unit detection. skeleton: a registry skeleton to take canonical
    names, symmetry and units from (default: the registry skeleton whose joint names match).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot read file ({exc.strerror})") from None
    return parse(data, path, metres_per_unit=metres_per_unit, skeleton=skeleton)


def parse(data: bytes, path="<bvh>", metres_per_unit: float | None = None,
          skeleton: Skeleton | None = None) -> Motion:
    joints, frame_count, fps, body_start, body_line = _parse_header(data, path)
    channel_count = sum(len(j.channels) for j in joints)
    values = _parse_motion(data[body_start:], path, frame_count, channel_count, body_line)
    return _build_motion(joints, values, fps, path, metres_per_unit, skeleton)


def _parse_header(data: bytes, path):
    motion_match = re.search(rb"^[ \t]*MOTION[ \t]*\r?$", data, flags=re.MULTILINE)
    if motion_match is None:
        last_line = max(data.count(b"\n") + (0 if data.endswith(b"\n") else 1), 1)
        raise FormatError(path, "no MOTION section before the end of the file (not a BVH file, or truncated)",
                          last_line)
    header = data[: motion_match.start()]
    try:
        header_text = header.decode("utf-8")
    except UnicodeDecodeError:
        header_text = header.decode("latin-1")
    lines = header_text.splitlines()
    joints: list[_Joint] = []
    stack: list[int] = []  # joint index per open brace (-2 marks an End Site block)
    pending: tuple[str, int] | None = None  # ("joint"/"end", parent) waiting for its "{"
    end_owner = -1  # the joint whose End Site block is open
    seen_hierarchy = False
    for number, raw in enumerate(lines, start=1):
        tokens = raw.split()
        if not tokens:
            continue
        keyword = tokens[0].upper()
        if keyword == "HIERARCHY":
            seen_hierarchy = True
        elif keyword in ("ROOT", "JOINT"):
            if not seen_hierarchy:
                raise FormatError(path, "expected HIERARCHY before the first joint", number)
            if len(tokens) < 2:
                raise FormatError(path, f"{tokens[0]} without a name", number)
            if keyword == "ROOT" and joints:
                raise FormatError(path, "more than one ROOT (only one skeleton per file is supported)", number)
            if keyword == "JOINT" and not stack:
                raise FormatError(path, "JOINT outside of any joint block", number)
            parent = stack[-1] if stack else -1
            if parent == -2:
                raise FormatError(path, "a joint cannot be inside an End Site", number)
            name = " ".join(tokens[1:])
            joints.append(_Joint(name=name, parent=parent, offset=np.full(3, np.nan), line=number))
            pending = ("joint", len(joints) - 1)
        elif keyword == "END":
            if not stack or stack[-1] < 0:
                raise FormatError(path, "End Site outside of a joint", number)
            pending = ("end", stack[-1])
        elif keyword == "{":
            if pending is None:
                raise FormatError(path, "unexpected '{'", number)
            if pending[0] == "end":
                end_owner = pending[1]
            stack.append(pending[1] if pending[0] == "joint" else -2)
            pending = None
        elif keyword == "}":
            if not stack:
                raise FormatError(path, "unbalanced '}'", number)
            stack.pop()
        elif keyword == "OFFSET":
            vector = _floats(tokens[1:], 3, path, number, "OFFSET")
            if not stack:
                raise FormatError(path, "OFFSET outside of a joint", number)
            if stack[-1] == -2:
                joints[end_owner].end_site = vector
            else:
                joints[stack[-1]].offset = vector
        elif keyword == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise FormatError(path, "CHANNELS outside of a joint", number)
            try:
                count = int(tokens[1])
            except (IndexError, ValueError):
                raise FormatError(path, "CHANNELS needs a count", number) from None
            names = tokens[2:]
            if count != len(names) or count > 6:
                raise FormatError(path, f"CHANNELS says {count} but lists {len(names)} channel names", number)
            for channel in names:
                if channel.lower() not in _CHANNELS:
                    raise FormatError(path, f"bad channel name {channel!r}", number)
            kinds = [c.lower() for c in names]
            if len(set(kinds)) != len(kinds):
                raise FormatError(path, "a channel is listed twice", number)
            joints[stack[-1]].channels = kinds
        else:
            raise FormatError(path, f"unexpected {tokens[0]!r} in HIERARCHY", number)
    if not joints:
        raise FormatError(path, "no ROOT joint in HIERARCHY")
    if stack:
        raise FormatError(path, "HIERARCHY ends with an unclosed '{'", len(lines))
    for joint in joints:
        if not np.all(np.isfinite(joint.offset)):
            raise FormatError(path, f"joint {joint.name!r} has no valid OFFSET", joint.line)
    names = [j.name for j in joints]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise FormatError(path, f"joint name {duplicate!r} is used twice")

    # "Frames:" and "Frame Time:" lines follow MOTION.
    rest = data[motion_match.end():]
    line_no = header.count(b"\n") + 1
    frames_match = re.match(rb"\s*Frames:[ \t]*([^\r\n]*)\r?\n", rest)
    if frames_match is None:
        raise FormatError(path, "expected 'Frames: N' after MOTION", line_no + 1)
    # group(0) spans from the end of the MOTION line to the end of the Frames line.
    line_no += frames_match.group(0).count(b"\n") - 1
    try:
        frame_count = int(frames_match.group(1))
    except ValueError:
        raise FormatError(path, f"bad frame count {frames_match.group(1).decode(errors='replace')!r}", line_no) from None
    if frame_count <= 0:
        raise FormatError(path, "the file has no frames (Frames: 0)", line_no)
    if frame_count > MAX_FRAMES:
        raise FormatError(path, f"frame count {frame_count} is beyond any real capture", line_no)
    after = rest[frames_match.end():]
    time_match = re.match(rb"[ \t]*Frame Time:[ \t]*([^\r\n]*)(\r?\n|$)", after)
    if time_match is None:
        raise FormatError(path, "expected 'Frame Time: SECONDS' after Frames", line_no + 1)
    line_no += 1
    try:
        frame_time = float(time_match.group(1))
    except ValueError:
        frame_time = float("nan")
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise FormatError(path, f"bad frame time {time_match.group(1).decode(errors='replace')!r}", line_no)
    body_start = motion_match.end() + frames_match.end() + time_match.end()
    return joints, frame_count, _fps_of(frame_time, time_match.group(1)), body_start, line_no + 1


def _fps_of(frame_time: float, token: bytes) -> float:
    """Frames per second from a Frame Time printed to a few decimals: a whole frame rate whose
    reciprocal rounds to the printed value is taken as is (CMU's 0.0083333 is 120 fps, not
    120.00048), so resampling to 30 fps lands on every 4th frame and frame counts come out right."""
    fps = 1.0 / frame_time
    whole = round(fps)
    try:
        exponent = decimal.Decimal(token.decode("ascii").strip()).as_tuple().exponent
    except (UnicodeDecodeError, decimal.InvalidOperation):
        return fps
    if whole >= 1 and isinstance(exponent, int) and abs(1.0 / whole - frame_time) <= 0.5 * 10.0**exponent:
        return float(whole)
    return fps


def _floats(tokens, count, path, line, what):
    if len(tokens) != count:
        raise FormatError(path, f"{what} needs {count} numbers, got {len(tokens)}", line)
    try:
        values = np.asarray([float(t) for t in tokens])
    except ValueError:
        raise FormatError(path, f"{what} has a value that is not a number", line) from None
    if not np.all(np.isfinite(values)):
        raise FormatError(path, f"{what} has a non-finite value (NaN or inf)", line)
    return values


_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


def _parse_motion(body: bytes, path, frame_count: int, channel_count: int, first_line: int) -> np.ndarray:
    """``[frames, channels]`` float64 from the MOTION block, with the line of any mistake."""
    # Cheap bound first: every value needs at least two bytes, so a huge header on a short file
    # fails here without allocating anything.
    if frame_count * max(channel_count, 1) * 2 > len(body) + 2:
        lines_present = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
        raise FormatError(
            path,
            f"header says {frame_count} frames but the file holds only about {lines_present} "
            f"(truncated file or wrong Frames count)",
            first_line - 2,  # the "Frames:" line
        )
    raw = np.frombuffer(body, dtype=np.uint8)
    space = _WHITESPACE[raw]
    token_start = ~space & np.concatenate([[True], space[:-1]])
    newline_at = np.flatnonzero(raw == 10)
    line_of_token = np.searchsorted(newline_at, np.flatnonzero(token_start), side="left")
    line_count = len(newline_at) + 1
    tokens_per_line = np.bincount(line_of_token, minlength=line_count)
    nonempty = np.flatnonzero(tokens_per_line)
    if nonempty.size and channel_count:
        wrong = nonempty[tokens_per_line[nonempty] != channel_count]
        if wrong.size:
            line = int(wrong[0])
            if line == nonempty[-1] and len(nonempty) <= frame_count:
                reason = f"expected {channel_count} values, got {int(tokens_per_line[line])} (truncated file?)"
            else:
                reason = f"expected {channel_count} values, got {int(tokens_per_line[line])}"
            raise FormatError(path, reason, first_line + line)
    if len(nonempty) != frame_count:
        if len(nonempty) < frame_count:
            reason = f"header says {frame_count} frames, found {len(nonempty)} (truncated file?)"
            raise FormatError(path, reason, first_line + (int(nonempty[-1]) + 1 if nonempty.size else 0))
        raise FormatError(path, f"header says {frame_count} frames, found {len(nonempty)}",
                          first_line + int(nonempty[frame_count]))
    if nonempty.size and nonempty[-1] - nonempty[0] + 1 != len(nonempty):
        gap = int(nonempty[np.flatnonzero(np.diff(nonempty) > 1)[0]]) + 1
        raise FormatError(path, "blank line inside the MOTION data", first_line + gap)
    if channel_count == 0:
        return np.zeros((frame_count, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(body.decode("latin-1"), dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            values = None
    if values is None or values.size != frame_count * channel_count:
        _raise_bad_token(body, path, first_line)
    values = values.reshape(frame_count, channel_count)
    bad = ~np.isfinite(values)
    if bad.any():
        frame = int(np.flatnonzero(bad.any(1))[0])
        raise FormatError(path, "non-finite value (NaN or inf) in MOTION data", first_line + int(nonempty[frame]))
    return values


def _raise_bad_token(body: bytes, path, first_line: int):
    for offset, line in enumerate(body.decode("latin-1").splitlines()):
        for token in line.split():
            try:
                float(token)
            except ValueError:
                raise FormatError(path, f"{token[:30]!r} is not a number", first_line + offset) from None
    raise FormatError(path, "unreadable MOTION data", first_line)


def _guess_metres_per_unit(rest_height: float, preferred: float | None = None) -> float:
    """Pick the unit that makes the rest skeleton closest (in ratio) to a 1.7 m person.
    ``preferred`` (a matching registry skeleton's unit) is one candidate among metres, cm, mm and
    inches, so a CMU-layout file that motiongen wrote in metres is not scaled twice."""
    candidates = np.asarray(([preferred] if preferred else []) + [1.0, 0.01, 0.001, 0.0254, 0.056444])
    heights = rest_height * candidates
    return float(candidates[np.argmin(np.abs(np.log(np.maximum(heights, 1e-9) / 1.7)))])


def _build_motion(joints, values, fps, path, metres_per_unit, registry) -> Motion:
    from motiongen.skeletons import find_matching_skeleton  # registry sits above formats' core deps

    names = tuple(j.name for j in joints)
    parents = np.asarray([j.parent for j in joints])
    offsets = np.stack([j.offset for j in joints])
    end_sites = np.stack([j.end_site if j.end_site is not None else np.full(3, np.nan) for j in joints])
    frames = values.shape[0]
    joint_count = len(joints)

    # Split the channel columns into per-joint rotations (grouped by Euler order) and positions.
    column = 0
    angles = np.zeros((frames, joint_count, 3))
    orders: list[str] = []
    translations: dict[int, np.ndarray] = {}
    for j, joint in enumerate(joints):
        rot_axes, pos = [], np.tile(joint.offset, (frames, 1))
        has_pos = False
        rot_columns = []
        for kind in joint.channels:
            what, which = _CHANNELS[kind]
            if what == "pos":
                pos[:, which] = values[:, column]
                has_pos = True
            else:
                rot_axes.append(which)
                rot_columns.append(column)
            column += 1
        order = "".join(rot_axes) + "".join(a for a in "ZYX" if a not in rot_axes)
        angles[:, j, : len(rot_columns)] = values[:, rot_columns] if rot_columns else 0.0
        orders.append(order)
        if has_pos:
            translations[j] = pos
    local = np.zeros((frames, joint_count, 4))
    for order in set(orders):
        members = [j for j, o in enumerate(orders) if o == order]
        local[:, members] = R.euler_to_quat(np.radians(angles[:, members]), order)

    root_translation = translations.pop(0, np.tile(offsets[0], (frames, 1)))
    varying = [j for j, t in translations.items() if np.ptp(t, axis=0).max() > 1e-9]
    for j, t in translations.items():
        offsets[j] = t[0]  # constant per-joint translations are just the offset

    matched = registry or find_matching_skeleton(names)
    if matched is not None and not _same_tree(matched, names, parents):
        matched = None  # same names, different hierarchy: not that skeleton after all
    if matched is not None and matched.joint_names != names:
        # Same joints, other order (a BVH lists joints depth first): adopt the registry order.
        order = np.asarray([names.index(n) for n in matched.joint_names])
        inverse = np.argsort(order)
        names = matched.joint_names
        parents = np.asarray([-1 if p < 0 else inverse[p] for p in parents[order]])
        offsets, end_sites = offsets[order], end_sites[order]
        local = local[:, order]
        orders = [orders[j] for j in order]
        translations = {int(inverse[j]): t for j, t in translations.items()}
        varying = [int(inverse[j]) for j in varying]
    if metres_per_unit is None:
        # BVH declares no units: take the matching registry skeleton's, unless the file's size
        # says it is already in another unit; with no match, go by the skeleton's height alone.
        rest = Skeleton(name="probe", joint_names=names, parents=parents, offsets=offsets).rest_positions()
        tips = rest + np.nan_to_num(end_sites)  # End Sites reach the head top and toe tips
        rest = np.concatenate([rest, tips])
        preferred = matched.metres_per_unit if matched is not None else None
        metres_per_unit = _guess_metres_per_unit(float(np.ptp(rest[:, 1])), preferred)
        if matched is None:
            warnings.warn(f"{path}: BVH has no units; assuming {metres_per_unit:g} m per unit "
                          f"from the skeleton's height (pass metres_per_unit to override)")
    scale = float(metres_per_unit)
    if matched is not None:
        canonical, symmetry, derived, name = matched.canonical, matched.symmetry, matched.derived, matched.name
        extra = dict(fps=matched.fps, up=matched.up, forward=matched.forward, actions=matched.actions)
    else:
        canonical = _canonical_from_names(names)
        symmetry = _symmetry_from_names(names)
        derived, name, extra = (), f"bvh:{Path(str(path)).stem}", {}
    skeleton = Skeleton(
        name=name, joint_names=names, parents=parents, offsets=offsets * scale, canonical=canonical,
        symmetry=symmetry, end_sites=end_sites * scale, derived=derived, units="m",
        metres_per_unit=1.0, description=f"BVH hierarchy of {Path(str(path)).name}",
        source=str(path), **{k: v for k, v in extra.items() if k != "fps"},
    )
    meta = {"source": str(path), "format": NAME, "bvh_channel_orders": orders,
            "metres_per_unit": scale}
    if varying:
        # Animated bone offsets cannot live in a fixed skeleton: positions keep them, and the
        # rotations still describe the file, but writing back uses the first frame's offsets.
        warnings.warn(f"{path}: joints {[names[j] for j in varying]} have animated position channels; "
                      "positions keep them, rotations use fixed offsets")
        per_frame = np.broadcast_to(offsets * scale, (frames, joint_count, 3)).copy()
        for j in varying:
            per_frame[:, j] = translations[j] * scale
        positions = forward_kinematics(local, per_frame, parents, root_translation * scale)
        return Motion(positions=positions, skeleton=skeleton, fps=fps, rotations=local,
                      root_translation=root_translation * scale, meta=meta)
    return Motion.from_rotations(local, root_translation * scale, skeleton, fps, meta=meta)


def _same_tree(skeleton: Skeleton, names: tuple[str, ...], parents: np.ndarray) -> bool:
    if set(names) != set(skeleton.joint_names):
        return False
    parent_name = {n: (names[p] if p >= 0 else None) for n, p in zip(names, parents)}
    return all(parent_name[n] == (skeleton.joint_names[p] if p >= 0 else None)
               for n, p in zip(skeleton.joint_names, skeleton.parents))


def _canonical_from_names(names) -> tuple[str | None, ...]:
    result, used = [], set()
    for name in names:
        key = name.split(":")[-1].lower()
        side = "right" if key.startswith("right") else None
        if side:
            key = "left" + key[len("right"):]
        tag = _NAME_ALIASES.get(key)
        if tag and side:
            tag = tag.replace("left_", "right_")
        result.append(tag if tag and tag not in used else None)
        if tag:
            used.add(tag)
    return tuple(result)


def _symmetry_from_names(names) -> tuple[tuple[int, int], ...]:
    pairs = []
    for i, name in enumerate(names):
        for left, right in (("Left", "Right"), ("left", "right"), ("L", "R"), ("l", "r")):
            stem = name.split(":")[-1]
            if stem.startswith(left):
                prefix = name[: len(name) - len(stem)]
                other = prefix + right + stem[len(left):]
                if other in names:
                    pairs.append((i, names.index(other)))
                    break
    return tuple(pairs)


# --- writing --------------------------------------------------------------------------------

def _default_end_site(skeleton: Skeleton, joint: int) -> np.ndarray:
    """A short continuation of the leaf's bone, so Blender gets a non-zero tail."""
    offset = skeleton.offsets[joint]
    length = np.linalg.norm(offset)
    if joint == 0 or length < 1e-6:
        return np.asarray([0.0, 0.05, 0.0])
    return offset / length * max(0.25 * length, 0.02)


def format_bvh(motion: Motion, order: str = "ZYX") -> str:
    """The BVH text of ``motion`` (which must have rotations)."""
    if motion.rotations is None:
        raise ConfigError("BVH stores rotations: solve them first (Motion.with_ik, or `motiongen convert`)")
    order = order.upper()
    R._check_order(order)
    skeleton = motion.skeleton
    children = skeleton.children()
    rot_channels = " ".join(f"{axis}rotation" for axis in order)
    lines = ["HIERARCHY"]
    file_order: list[int] = []  # joints in the order the hierarchy lists them (depth first)

    def emit(joint: int, depth: int) -> None:
        file_order.append(joint)
        pad = "\t" * depth
        name = re.sub(r"\s+", "_", skeleton.joint_names[joint])
        if joint == 0:
            lines.append(f"ROOT {name}")
            offset = np.zeros(3)
        else:
            lines.append(f"{pad}JOINT {name}")
            offset = skeleton.offsets[joint]
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.8f} {offset[1]:.8f} {offset[2]:.8f}")
        if joint == 0:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_channels}")
        for child in children[joint]:
            emit(child, depth + 1)
        if not children[joint]:
            end = skeleton.end_sites[joint]
            if not np.all(np.isfinite(end)) or np.linalg.norm(end) < 1e-6:
                end = _default_end_site(skeleton, joint)
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {end[0]:.8f} {end[1]:.8f} {end[2]:.8f}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(0, 0)
    frames = motion.frame_count
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / motion.fps:.10f}"]
    angles = motion.euler_degrees(order)  # [T, J, 3], continuous in time
    table = np.concatenate([np.asarray(motion.root_translation, dtype=np.float64),
                            angles[:, file_order].reshape(frames, -1)], axis=1)
    table[np.abs(table) < 5e-13] = 0.0  # no "-0.000000"
    row = " ".join(["%.8f"] * 3 + ["%.6f"] * (table.shape[1] - 3)) + "\n"
    # One C-level formatting call for the whole table instead of a Python loop over frames.
    body = (row * frames) % tuple(table.ravel().tolist())
    return "\n".join(lines) + "\n" + body


def write(motion: Motion, path, order: str = "ZYX") -> None:
    """Write ``motion`` as a Blender-safe BVH file (atomic; ``"-"`` for stdout)."""
    text = format_bvh(motion, order)
    with atomic_write(path) as stream:
        stream.write(text)
