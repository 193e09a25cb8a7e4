"""NTU RGB+D ``.skeleton`` reader: main-actor choice, axes, mask, meta, malformed files, fuzzing.

Files are built by ``_ntu_fixtures`` in the dataset's own layout (no real NTU data may be shipped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from _ntu_fixtures import (DATASET_INDEX, MAIN_ID, SECOND_ID, SKELETON, Body, actor, camera_to_internal,
                           format_skeleton, two_people)
from motiongen.errors import ConfigError, FormatError
from motiongen.formats import ntu_skeleton

NAME = "S001C002P003R002A013.skeleton"


def save(tmp_path: Path, text: str | bytes, name: str = NAME) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("ascii") if isinstance(text, str) else text)
    return path


def joint(name: str) -> int:
    return SKELETON.index(name)


# --- reading valid files ----------------------------------------------------------------------

def test_main_actor_positions_mask_and_meta(tmp_path):
    sample = two_people()
    motion = ntu_skeleton.read(save(tmp_path, sample.text))

    assert motion.skeleton.name == "ntu25" and motion.fps == 30.0 and motion.frame_count == 30
    assert motion.meta["body_id"] == MAIN_ID and motion.meta["body_rank"] == 0
    assert motion.meta["body_ids"] == {MAIN_ID: 30, SECOND_ID: 12}
    assert list(motion.meta["body_ids"]) == [MAIN_ID, SECOND_ID]  # main actor first
    np.testing.assert_allclose(motion.positions, camera_to_internal(sample.main.xyz_camera), atol=1e-6, rtol=0)
    expected_states = sample.main.states[:, DATASET_INDEX]
    np.testing.assert_array_equal(motion.mask, expected_states == 2)
    assert {0, 1, 2} <= set(np.unique(expected_states))  # the fixture does exercise 1 and 0
    np.testing.assert_array_equal(motion.meta["kinect_tracking_state"], expected_states)
    orientations = motion.meta["kinect_orientations"]
    assert orientations.shape == (30, 25, 4)
    np.testing.assert_allclose(orientations, sample.main.extra[:, DATASET_INDEX, 4:8], atol=1e-6)
    assert motion.meta["kinect_body"].shape == (30, len(ntu_skeleton.KINECT_BODY_COLUMNS))
    np.testing.assert_array_equal(motion.meta["kinect_body_tracking_state"], 2)


def test_meta_from_file_name(tmp_path):
    motion = ntu_skeleton.read(save(tmp_path, two_people().text))
    meta = motion.meta
    assert (meta["setup"], meta["camera"], meta["performer"], meta["replication"]) == (1, 2, 3, 2)
    assert meta["action_number"] == 13 and meta["label"] == 12
    assert meta["action"] == "tear up paper"
    assert meta["format"] == "ntu" and meta["source"].endswith(NAME)


def test_other_file_names_carry_no_action(tmp_path):
    motion = ntu_skeleton.read(save(tmp_path, two_people().text, "take.skeleton"))
    assert "action" not in motion.meta and "setup" not in motion.meta
    late = ntu_skeleton.read(save(tmp_path, two_people().text, "S018C001P008R001A120.skeleton"))
    assert late.meta["action_number"] == 120 and late.meta["action"] is not None


def test_main_actor_listed_second(tmp_path):
    # The second person is the first body of the file (frame 1) and comes first in every frame.
    sample = two_people(second_frames=range(0, 12), main_listed_second=True)
    assert sample.text.splitlines()[2].startswith(SECOND_ID)
    motion = ntu_skeleton.read(save(tmp_path, sample.text))
    assert motion.meta["body_id"] == MAIN_ID
    assert list(motion.meta["body_ids"]) == [MAIN_ID, SECOND_ID]
    np.testing.assert_allclose(motion.positions, camera_to_internal(sample.main.xyz_camera), atol=1e-6, rtol=0)


@pytest.mark.parametrize("main_listed_second", [False, True])
def test_tie_in_frames_goes_to_the_body_that_moves(tmp_path, main_listed_second):
    sample = two_people(second_frames=range(30), main_listed_second=main_listed_second)
    motion = ntu_skeleton.read(save(tmp_path, sample.text))
    assert motion.meta["body_ids"] == {MAIN_ID: 30, SECOND_ID: 30}
    assert motion.meta["body_id"] == MAIN_ID


def test_choose_body_by_rank_or_id(tmp_path):
    sample = two_people()
    path = save(tmp_path, sample.text)
    by_rank = ntu_skeleton.read(path, body=1)
    by_id = ntu_skeleton.read(path, body=SECOND_ID)
    assert by_rank.meta["body_id"] == by_id.meta["body_id"] == SECOND_ID
    present = np.zeros(30, dtype=bool)
    present[8:20] = True
    np.testing.assert_array_equal(np.isnan(by_rank.positions).all(axis=(1, 2)), ~present)
    assert not np.isnan(by_rank.positions[present]).any()
    assert not by_rank.mask[~present].any() and by_rank.mask[present].all()
    np.testing.assert_allclose(by_rank.positions[present], camera_to_internal(sample.second.xyz_camera),
                               atol=1e-6, rtol=0)
    np.testing.assert_array_equal(by_rank.meta["kinect_tracking_state"][~present], -1)
    np.testing.assert_array_equal(by_id.positions, by_rank.positions)
    assert ntu_skeleton.read(path, body=0).meta["body_id"] == MAIN_ID
    with pytest.raises(ConfigError, match="no body"):
        ntu_skeleton.read(path, body=5)
    with pytest.raises(ConfigError, match="no body"):
        ntu_skeleton.read(path, body="12345")


def test_result_is_upright_and_faces_plus_z(tmp_path):
    motion = ntu_skeleton.read(save(tmp_path, two_people().text))
    p = motion.positions
    assert (p[:, joint("Head"), 1] > p[:, joint("SpineBase"), 1]).all()
    for side in ("Left", "Right"):
        assert (p[:, joint("SpineBase"), 1] > p[:, joint(f"Ankle{side}"), 1]).all()
    # Facing +Z, the person's left is +X; feet point forward (+Z) from the ankles.
    assert (p[:, joint("ShoulderLeft"), 0] > p[:, joint("ShoulderRight"), 0]).all()
    assert (p[:, joint("HipLeft"), 0] > p[:, joint("HipRight"), 0]).all()
    assert (p[:, joint("FootLeft"), 2] > p[:, joint("AnkleLeft"), 2]).all()
    # The actor stands ~3 m in front of the camera, which faces them: behind it in the internal frame.
    assert np.allclose(p[:, joint("SpineBase"), 2], -3.0, atol=0.05)


def test_frames_without_the_actor_are_missing(tmp_path):
    frames = [f for f in range(30) if f not in (5, 6, 7)]
    sample = two_people(main_frames=frames)
    motion = ntu_skeleton.read(save(tmp_path, sample.text))
    assert motion.meta["body_id"] == MAIN_ID and motion.meta["body_ids"][MAIN_ID] == 27
    assert np.isnan(motion.positions[5:8]).all() and not motion.mask[5:8].any()
    assert not np.isnan(motion.positions[frames]).any()
    np.testing.assert_allclose(motion.positions[frames], camera_to_internal(sample.main.xyz_camera),
                               atol=1e-6, rtol=0)


def test_frames_with_no_body_at_all(tmp_path):
    body = Body(MAIN_ID, actor(4)[[0, 3]], np.full((2, 25), 2), [0, 3])
    motion = ntu_skeleton.read(save(tmp_path, format_skeleton(4, [body])))
    assert np.isnan(motion.positions[1:3]).all() and not np.isnan(motion.positions[[0, 3]]).any()


def test_crlf_trailing_whitespace_and_blank_end(tmp_path):
    sample = two_people()
    plain = ntu_skeleton.read(save(tmp_path, sample.text))
    text = format_skeleton(30, [sample.main, sample.second], newline="\r\n", trailing=" \t") + "\r\n\r\n"
    windows = ntu_skeleton.read(save(tmp_path, "\ufeff".encode("utf-8") + text.encode("ascii"), "crlf.skeleton"))
    np.testing.assert_array_equal(windows.positions, plain.positions)
    np.testing.assert_array_equal(windows.mask, plain.mask)


def test_read_all_is_one_motion(tmp_path):
    motions = ntu_skeleton.read_all(save(tmp_path, two_people().text))
    assert len(motions) == 1 and motions[0].meta["body_id"] == MAIN_ID


# --- malformed files --------------------------------------------------------------------------

def small_lines() -> list[str]:
    """A 3-frame file, two bodies in frame 2. Lines (0-based): 0 frame count, 1 body count,
    2 body line, 3 joint count, 4..28 joints of frame 1, 29 body count of frame 2, ..."""
    return two_people(frame_count=3, second_frames=range(1, 2)).text.split("\n")


def replace_line(index: int, new: str):
    def mutate(lines):
        lines[index] = new
        return lines
    return mutate


def replace_token(index: int, token: int, new: str):
    def mutate(lines):
        parts = lines[index].split()
        parts[token] = new
        lines[index] = " ".join(parts)
        return lines
    return mutate


MALFORMED = {
    # name: (mutation, expected 1-based line or None, message fragment)
    "truncated in joints": (lambda lines: lines[:40], 41, "truncated"),  # first missing line
    "truncated before a frame": (lambda lines: lines[:29], 30, "truncated"),
    "joint line with 11 values": (lambda lines: [*lines[:10], lines[10].rsplit(" ", 1)[0], *lines[11:]], 11,
                                  "needs 12 values, got 11"),
    "joint line with 13 values": (replace_line(12, small_lines()[12] + " 1"), 13, "needs 12 values, got 13"),
    "non-numeric token": (replace_token(20, 4, "abc"), 21, "'abc'"),
    "non-numeric body line": (replace_token(2, 7, "x1.5"), 3, "'x1.5'"),
    "joint count 24": (replace_line(3, "24"), 4, "24 joints"),
    "frame count 0": (replace_line(0, "0"), 1, "frame count"),
    "frame count 10**10": (replace_line(0, str(10**10)), 1, "beyond any real recording"),
    "frame count not an integer": (replace_line(0, "3.5"), 1, "not an integer"),
    "frame count says more": (replace_line(0, "4"), None, "truncated"),
    "frame count says fewer": (replace_line(0, "2"), None, "after the last of the 2 frames"),
    "body count 7": (replace_line(1, "7"), 2, "beyond any real recording"),
    "negative body count": (replace_line(1, "-1"), 2, "≥ 0"),
    "NaN coordinate": (replace_token(15, 1, "nan"), 16, "non-finite"),
    "inf coordinate": (replace_token(16, 2, "-inf"), 17, "non-finite"),
    "coordinate 1e100 (inf as float32)": (replace_token(18, 0, "1e100"), 19, "beyond 10000 m"),
    "bad tracking state": (replace_token(17, 11, "3"), 18, "trackingState"),
    "body line with 9 values": (replace_line(2, "72057594037931101 0 1 1 1 1 0 0.1 0.2"), 3, "needs 10 values"),
    "bodyID not a number": (replace_token(2, 0, "body1"), 3, "bodyID"),
    "two values on the frame count line": (replace_line(0, "3 3"), 1, "one integer"),
    "blank line inside": (lambda lines: [*lines[:29], "", *lines[29:]], 30, "body count"),
    "NUL byte": (replace_token(8, 0, "1\x002"), 9, "NUL"),
    "empty file": (lambda lines: [""], 1, "frame count"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_name_file_and_line(tmp_path, case):
    mutate, line, fragment = MALFORMED[case]
    path = save(tmp_path, "\n".join(mutate(small_lines())))
    with pytest.raises(FormatError) as caught:
        ntu_skeleton.read(path)
    error = caught.value
    assert NAME in str(error)
    assert fragment in error.reason, error.reason
    if line is not None:
        assert error.line == line, str(error)
        assert f"line {line}" in str(error)


def test_no_body_in_any_frame(tmp_path):
    with pytest.raises(FormatError, match="no body"):
        ntu_skeleton.read(save(tmp_path, "3\n0\n0\n0\n"))


def test_huge_frame_count_fails_before_allocating(tmp_path):
    # 10**10 frames of float64 positions would be 6 TB: the header check must come first.
    with pytest.raises(FormatError, match="beyond any real recording") as caught:
        ntu_skeleton.read(save(tmp_path, f"{10**10}\n0\n"))
    assert caught.value.line == 1


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        ntu_skeleton.read(tmp_path / "absent.skeleton")


# --- fuzzing ----------------------------------------------------------------------------------

_VALID = two_people(frame_count=3, second_frames=range(1, 2)).text.encode("ascii")
_VALID_LINES = _VALID.split(b"\n")
_TOKENS = st.one_of(
    st.sampled_from([b"", b"0", b"1", b"2", b"25", b"24", b"7", b"-1", b"nan", b"inf", b"-inf", b"1e400",
                     b"abc", b"1.5", b"3 3", b"\t", b"\r", b"99999999999999999999", b"1e5", b"0x10"]),
    st.binary(max_size=8),
    st.text(alphabet="0123456789.-+e nai", max_size=10).map(str.encode),
)


@st.composite
def mutated_files(draw) -> bytes:
    lines = list(_VALID_LINES)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["drop", "duplicate", "replace line", "replace token", "truncate"]))
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "drop":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "replace line":
            lines[i] = draw(_TOKENS)
        elif kind == "replace token":
            tokens = lines[i].split() or [b""]
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(_TOKENS)
            lines[i] = b" ".join(tokens)
        else:
            data = b"\n".join(lines)
            lines = data[: draw(st.integers(0, len(data)))].split(b"\n")
    return b"\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(mutated_files())
def test_fuzzed_files_read_or_raise_format_error(data):
    try:
        motion = ntu_skeleton.parse(data, "fuzz.skeleton")
    except FormatError as exc:
        assert exc.path == "fuzz.skeleton"
        return
    assert motion.positions.shape[1:] == (25, 3)
    assert motion.mask.shape == motion.positions.shape[:2]
    observed = motion.mask
    assert np.isfinite(motion.positions[observed]).all()
