"""NTU RGB+D / NTU RGB+D 120 ``.skeleton`` text files (Kinect v2 SDK dumps), read only (DESIGN §5).

Layout (one value group per line, whitespace-separated)::

    frame count
    per frame:  body count (0..6)
      per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                handRightState isRestricted leanX leanY trackingState
                joint count (25)
                25 × (x y z depthX depthY colorX colorY orientationW orientationX orientationY
                      orientationZ trackingState)

Coordinates are metres in the Kinect camera frame (Y up, +Z out of the sensor, so people face
−Z); ``ntu25.toml`` says so (``up = "+y"``, ``forward = "-z"``) and the reader turns them into the
internal frame with the proper rotation `rotations.axis_change`, then reorders the joints from the
dataset's order (``index`` in the TOML) into the skeleton's.

One body is returned: the main actor (the body ID present in the most frames; ties go to the body
that moves most — the sum over joints of the variance of x, y, z over its frames), or the one the
caller picks by rank or ID. Frames without it are NaN with mask False; a joint is observed (mask
True) only when Kinect tracked it (trackingState 2), inferred (1) and untracked (0) joints keep
their estimated positions but are masked. Kinect orientations, 2D depth/colour coordinates and the
per-frame body record travel in ``meta`` (joint arrays in the skeleton's joint order).

Parsing: the per-frame and per-body headers are walked in Python (the file has no fixed stride,
so the structure forces one step per frame and body); every 25-line joint block is then parsed in
one numpy call for the whole file, and a per-line token count from byte arithmetic names the line
of any mistake.
"""

from __future__ import annotations

import codecs
import re
import warnings
from pathlib import Path

import numpy as np

from motiongen.core import rotations as R
from motiongen.core.motion import Motion
from motiongen.errors import ConfigError, FormatError, MotionGenError

NAME = "ntu"
SUFFIXES = (".skeleton",)
NEEDS_ROTATIONS = False
SKELETONS = ("ntu25",)

FPS = 30.0
JOINTS = 25
MAX_FRAMES = 100_000  # ≈ 55 minutes at 30 fps; NTU clips are at most a few hundred frames
MAX_BODIES = 6  # Kinect v2 tracks at most six bodies
BODY_COLUMNS = 10
JOINT_COLUMNS = 12
MAX_COORDINATE_M = 1e4  # Kinect v2 sees a few metres; anything past 10 km is not a position
# Columns of meta["kinect_body"] (the body line without its bodyID).
KINECT_BODY_COLUMNS = ("clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
                       "handRightState", "isRestricted", "leanX", "leanY", "trackingState")
_FILE_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


# --- reading --------------------------------------------------------------------------------

def read(path, body: int | str | None = None) -> Motion:
    """Read one body of an NTU ``.skeleton`` file as a `Motion` on ``ntu25`` (30 fps).

    body: None or 0 for the main actor, a small int for the body of that rank (1 = the second
    most present), or a bodyID (str, or an int that is not a rank) for that body.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot read file ({exc.strerror})") from None
    return parse(data, path, body=body)


def read_all(path, body: int | str | None = None) -> list[Motion]:
    return [read(path, body=body)]


def parse(data: bytes, path="<ntu skeleton>", body: int | str | None = None) -> Motion:
    from motiongen.skeletons import load_skeleton  # the registry sits above the format modules

    text, line_start, line_end = _lines(data, path)
    frame_count, frame_of_block, body_of_block, body_ids, info_lines, joint_lines = _walk(
        text, line_start, line_end, path)
    if not body_ids:
        raise FormatError(path, f"no body is tracked in any of the {frame_count} frames")
    info = _parse_rows(_gather(text, line_start, line_end, info_lines, 1), info_lines, 1,
                       BODY_COLUMNS, path, "a body line")
    joints = _parse_rows(_gather(text, line_start, line_end, joint_lines, JOINTS), joint_lines, JOINTS,
                         JOINT_COLUMNS, path, "a joint line").reshape(len(joint_lines), JOINTS, JOINT_COLUMNS)
    _check_joint_values(joints, joint_lines, path)

    frame_of_block = np.asarray(frame_of_block, dtype=np.int64)
    body_of_block = np.asarray(body_of_block, dtype=np.int64)
    ranking, frames_per_body = _rank_bodies(len(body_ids), body_of_block, frame_of_block, joints[..., :3],
                                            frame_count)
    rank = _choose(body, ranking, body_ids, path)
    chosen = ranking[rank]
    picked = np.flatnonzero(body_of_block == chosen)
    frames = frame_of_block[picked]

    try:
        skeleton = load_skeleton("ntu25")
    except MotionGenError as exc:
        raise FormatError(path, f"cannot load the ntu25 skeleton ({exc})") from None
    order = skeleton.dataset_index if skeleton.dataset_index is not None else np.arange(JOINTS)
    picked_joints = joints[picked][:, order]  # [n, 25, 12], skeleton joint order

    positions = np.full((frame_count, JOINTS, 3), np.nan)
    positions[frames] = picked_joints[..., 0:3]
    camera_to_internal = R.axis_change(skeleton.up, skeleton.forward)
    positions = positions @ camera_to_internal.T
    tracking = np.full((frame_count, JOINTS), -1, dtype=np.int8)
    tracking[frames] = picked_joints[..., 11].astype(np.int8)

    meta = {
        "source": str(path),
        "format": NAME,
        "body_ids": {body_ids[k]: int(frames_per_body[k]) for k in ranking},  # main actor first
        "body_id": body_ids[chosen],
        "body_rank": rank,
        **_file_name_meta(Path(str(path)).name),
        # Raw Kinect values in the camera frame (orientations w, x, y, z as in the file).
        "kinect_orientations": _per_frame(frame_count, frames, picked_joints[..., 7:11]),
        "kinect_depth_xy": _per_frame(frame_count, frames, picked_joints[..., 3:5]),
        "kinect_color_xy": _per_frame(frame_count, frames, picked_joints[..., 5:7]),
        "kinect_tracking_state": tracking,  # 2 tracked, 1 inferred, 0 not tracked, -1 body absent
        "kinect_body": _per_frame(frame_count, frames, info[picked, 1:]),  # KINECT_BODY_COLUMNS
        "kinect_body_tracking_state": _body_state(frame_count, frames, info[picked, 9]),
    }
    return Motion(positions=positions, skeleton=skeleton, fps=FPS, mask=tracking == 2, meta=meta)


# --- structure ------------------------------------------------------------------------------

def _lines(data: bytes, path) -> tuple[bytes, list[int], list[int]]:
    """The text (ending in a newline, trailing blank lines dropped) and each line's byte span."""
    if data.startswith(codecs.BOM_UTF8):
        data = b"   " + data[3:]  # keep byte offsets; a BOM is just noise here
    nul = data.find(b"\x00")
    if nul >= 0:  # numpy's text parser would stop silently at a NUL byte
        raise FormatError(path, "binary data (a NUL byte) in a text file", data.count(b"\n", 0, nul) + 1)
    text = data.rstrip() + b"\n"
    newline_at = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], newline_at[:-1] + 1])
    return text, starts.tolist(), newline_at.tolist()


def _walk(text: bytes, line_start: list[int], line_end: list[int], path):
    """Follow the headers. Returns the frame count; per body record its frame, its body (an index
    into the bodyIDs, which are listed in order of first appearance), the 0-based line of its body
    line and of its first joint line; and the bodyIDs."""
    line_count = len(line_start)

    def tokens(i: int) -> list[bytes]:
        return text[line_start[i]:line_end[i]].split()

    def count(i: int, what: str, maximum: int, zero_ok: bool) -> int:
        if i >= line_count:
            raise FormatError(path, f"file ends where the {what} should be (truncated file?)", i + 1)
        found = tokens(i)
        if len(found) != 1:
            shown = b" ".join(found[:4]).decode("latin-1")[:40]
            raise FormatError(path, f"expected the {what} (one integer), got {shown!r}", i + 1)
        try:
            value = int(found[0])
        except ValueError:
            raise FormatError(path, f"{what} {found[0][:30].decode('latin-1')!r} is not an integer", i + 1) from None
        if value < 0 or (value == 0 and not zero_ok):
            raise FormatError(path, f"{what} must be {'≥ 0' if zero_ok else 'positive'}, got {value}", i + 1)
        if value > maximum:
            raise FormatError(path, f"{what} {value} is beyond any real recording (at most {maximum})", i + 1)
        return value

    frame_count = count(0, "frame count", MAX_FRAMES, zero_ok=False)
    frame_of_block: list[int] = []
    body_of_block: list[int] = []
    body_code: dict[str, int] = {}
    info_lines: list[int] = []
    joint_lines: list[int] = []
    i = 1
    # One Python step per frame and per body: headers have no fixed stride. Joint lines are only
    # located here; their values are parsed for the whole file at once afterwards.
    for frame in range(frame_count):
        bodies = count(i, f"body count of frame {frame + 1}", MAX_BODIES, zero_ok=True)
        i += 1
        for body in range(bodies):
            where = f"body {body + 1} of frame {frame + 1}"
            if i >= line_count:
                raise FormatError(path, f"file ends before {where} (truncated file?)", i + 1)
            values = tokens(i)
            if len(values) != BODY_COLUMNS:
                raise FormatError(path, f"the line of {where} needs {BODY_COLUMNS} values (bodyID "
                                  f"clippedEdges ... trackingState), got {len(values)}", i + 1)
            if not values[0].isdigit():
                raise FormatError(path, f"bodyID {values[0][:30].decode('latin-1')!r} is not an integer", i + 1)
            body_of_block.append(body_code.setdefault(values[0].decode("ascii"), len(body_code)))
            info_lines.append(i)
            joint_count = count(i + 1, f"joint count of {where}", 10**9, zero_ok=True)
            if joint_count != JOINTS:
                raise FormatError(path, f"{where} has {joint_count} joints; Kinect v2 files have {JOINTS}", i + 2)
            i += 2
            if i + JOINTS > line_count:
                raise FormatError(path, f"file ends inside the joints of {where} (truncated file?)", line_count + 1)
            joint_lines.append(i)
            frame_of_block.append(frame)
            i += JOINTS
    if i < line_count:
        raise FormatError(path, f"unexpected data after the last of the {frame_count} frames "
                          "(wrong frame count?)", i + 1)
    return frame_count, frame_of_block, body_of_block, list(body_code), info_lines, joint_lines


def _gather(text: bytes, line_start: list[int], line_end: list[int], first_lines: list[int], span: int) -> bytes:
    # One slice per body record (each block of lines is contiguous in the file).
    return b"".join(text[line_start[i]:line_end[i + span - 1] + 1] for i in first_lines)


def _parse_rows(block: bytes, first_lines: list[int], span: int, columns: int, path, what: str) -> np.ndarray:
    """``[rows, columns]`` float64 from newline-terminated rows (``span`` rows per record starting
    at file lines ``first_lines``, 0-based), in one pass; errors name the file line."""
    rows = len(first_lines) * span
    if rows == 0:
        return np.zeros((0, columns))

    def file_line(row: int) -> int:
        return first_lines[row // span] + row % span + 1

    raw = np.frombuffer(block, dtype=np.uint8)
    space = _WHITESPACE[raw]
    token_start = np.flatnonzero(~space & np.concatenate([[True], space[:-1]]))
    row_of_token = np.searchsorted(np.flatnonzero(raw == 10), token_start, side="left")
    per_row = np.bincount(row_of_token, minlength=rows)
    wrong = np.flatnonzero(per_row != columns)
    if wrong.size:
        row = int(wrong[0])
        raise FormatError(path, f"{what} needs {columns} values, got {int(per_row[row])}", file_line(row))
    values = _numbers(block)
    if values is None or values.size != rows * columns:
        _raise_bad_token(block, path, file_line, what)
    return values.reshape(rows, columns)


def _numbers(block: bytes) -> np.ndarray | None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(block, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


def _raise_bad_token(block: bytes, path, file_line, what: str):
    # Slow path, only once something is already wrong: find the first token numpy cannot read.
    for row, line in enumerate(block.split(b"\n")):
        for token in line.split():
            values = _numbers(token)
            if values is None or values.size != 1:
                shown = token[:30].decode("latin-1")
                raise FormatError(path, f"{shown!r} in {what} is not a number", file_line(row))
    raise FormatError(path, f"unreadable numbers in {what}", file_line(0))


def _check_joint_values(joints: np.ndarray, joint_lines: list[int], path) -> None:
    """Coordinates must be finite metres a Kinect can report (a 1e100 would overflow the float32
    positions of `Motion` into inf) and tracking states 0, 1 or 2."""
    bad_xyz = ~(np.abs(joints[..., :3]) <= MAX_COORDINATE_M).all(-1)  # NaN compares False: bad too
    state = joints[..., 11]
    bad_state = ~((state == 0) | (state == 1) | (state == 2))
    for bad, reason in ((bad_xyz, f"non-finite or absurd coordinate (NaN, inf or beyond {MAX_COORDINATE_M:g} m)"),
                        (bad_state, "trackingState must be 0, 1 or 2")):
        if bad.any():
            block, joint = np.argwhere(bad)[0]
            raise FormatError(path, f"{reason} in a joint line", joint_lines[block] + int(joint) + 1)


# --- choosing the body ----------------------------------------------------------------------

def _rank_bodies(body_count: int, body_of_block: np.ndarray, frame_of_block: np.ndarray, xyz: np.ndarray,
                 frame_count: int) -> tuple[list[int], np.ndarray]:
    """Body indices ranked main actor first (most frames, then most motion, then first seen), and
    the number of frames each body is in. ``xyz``: ``[records, 25, 3]``."""
    # Distinct frames per body (a body listed twice in one frame counts once).
    pairs = np.unique(body_of_block * frame_count + frame_of_block)
    frames_per_body = np.bincount(pairs // frame_count, minlength=body_count)
    energy = np.zeros(body_count)
    for k in range(body_count):  # a handful of bodies per file
        energy[k] = float(xyz[body_of_block == k].var(axis=0).sum())
    ranking = sorted(range(body_count), key=lambda k: (-int(frames_per_body[k]), -energy[k], k))
    return ranking, frames_per_body


def _choose(body, ranking: list[int], body_ids: list[str], path) -> int:
    """The rank of the requested body (``ranking`` lists body indices, main actor first)."""
    if body is None:
        return 0
    if isinstance(body, bool) or not isinstance(body, (int, np.integer, str)):
        raise ConfigError(f"{path}: body must be a rank (int) or a bodyID (str), got {body!r}")
    if isinstance(body, (int, np.integer)) and 0 <= int(body) < len(ranking):
        return int(body)
    wanted = str(body).strip()
    for rank, k in enumerate(ranking):
        if body_ids[k] == wanted:
            return rank
    known = ", ".join(body_ids[k] for k in ranking)
    raise ConfigError(f"{path}: no body {body!r}; ranks are 0..{len(ranking) - 1}, bodyIDs {known}")


# --- meta -----------------------------------------------------------------------------------

def _per_frame(frame_count: int, frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full((frame_count,) + values.shape[1:], np.nan, dtype=np.float32)
    out[frames] = values
    return out


def _body_state(frame_count: int, frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(frame_count, -1, dtype=np.int8)
    out[frames] = np.clip(np.nan_to_num(values, nan=-1), -1, 2).astype(np.int8)
    return out


def _file_name_meta(name: str) -> dict:
    """setup, camera, performer, replication and the action from a standard NTU file name."""
    match = _FILE_NAME.search(name)
    if match is None:
        return {}
    setup, camera, performer, replication, action_number = (int(g) for g in match.groups())
    meta = {"setup": setup, "camera": camera, "performer": performer, "replication": replication,
            "action_number": action_number, "label": action_number - 1, "action": None}
    try:
        from motiongen.skeletons import load_actions

        names = load_actions("ntu120")
    except MotionGenError:
        names = ()
    if 1 <= action_number <= len(names):
        meta["action"] = names[action_number - 1]
    return meta
