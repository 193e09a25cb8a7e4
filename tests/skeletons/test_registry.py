"""The skeleton registry: shipped definitions, user TOML files, validation with file and line."""

from __future__ import annotations

import numpy as np
import pytest

from motiongen.errors import SkeletonError
from motiongen.skeletons import (
    CANONICAL_NAMES,
    find_matching_skeleton,
    list_skeletons,
    load_actions,
    load_skeleton,
    skeleton_for_joint_count,
    skeleton_from_toml_text,
    skeleton_to_toml,
)

SHIPPED = {"ntu25": 25, "h36m32": 32, "h36m17": 17, "h36m16": 16, "smpl22": 22, "smpl24": 24,
           "smplh52": 52, "cmu31": 31}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_skeletons_are_complete(name):
    skeleton = load_skeleton(name)
    assert skeleton.joint_count == SHIPPED[name] and skeleton.name == name
    assert skeleton.fps > 0 and skeleton.up in ("+y", "+z") and skeleton.units
    assert all(c is None or c in CANONICAL_NAMES for c in skeleton.canonical)
    assert skeleton.canonical[0] == "pelvis"
    # symmetry: every left/right canonical joint has its mirror, and mirroring is an involution
    mirror = skeleton.mirror_index()
    assert np.array_equal(mirror[mirror], np.arange(skeleton.joint_count))
    for j, c in enumerate(skeleton.canonical):
        if c and c.startswith("left_"):
            assert skeleton.canonical[mirror[j]] == "right_" + c[5:]
    # every leaf has a non-zero End Site for BVH export
    leaves = [j for j, kids in enumerate(skeleton.children()) if not kids]
    assert all(np.linalg.norm(skeleton.end_sites[j]) > 0 for j in leaves)


@pytest.mark.parametrize("name", ["ntu25", "h36m17", "h36m16", "smpl22", "smpl24", "smplh52", "cmu31"])
def test_rest_pose_is_an_upright_person_facing_plus_z(name):
    skeleton = load_skeleton(name)
    rest = skeleton.rest_positions()
    index = skeleton.canonical_index()
    assert 1.2 < skeleton.height_m() < 2.0
    head = index.get("head", index.get("head_top"))
    assert rest[head, 1] > rest[index["pelvis"], 1] > rest[index["left_ankle"], 1]
    assert rest[index["left_hip"], 0] > 0 > rest[index["right_hip"], 0]  # left is +X when facing +Z


def test_authored_smpl_offsets_are_mirror_symmetric():
    for name in ("smpl22", "smpl24", "smplh52", "ntu25"):
        skeleton = load_skeleton(name)
        for a, b in skeleton.symmetry:
            assert np.allclose(skeleton.offsets[a] * [-1, 1, 1], skeleton.offsets[b], atol=1e-3), name


def test_action_lists():
    ntu60, ntu120 = load_actions("ntu60"), load_actions("ntu120")
    assert len(ntu60) == 60 and len(ntu120) == 120 and ntu120[:60] == ntu60
    assert ntu120[0] == "drink water"
    assert len(load_actions("h36m")) == 15 and "Walking" in load_actions("h36m")
    assert "walking" in load_actions("cmu")
    with pytest.raises(SkeletonError, match="unknown action list"):
        load_actions("nope")


def test_unknown_name_suggests_close_ones():
    with pytest.raises(SkeletonError, match="did you mean ntu25"):
        load_skeleton("ntu52")


def test_toml_round_trip_keeps_everything():
    for name in SHIPPED:
        skeleton = load_skeleton(name)
        again = skeleton_from_toml_text(skeleton_to_toml(skeleton))
        assert again.joint_names == skeleton.joint_names and np.array_equal(again.parents, skeleton.parents)
        assert np.allclose(again.offsets, skeleton.offsets) and again.canonical == skeleton.canonical
        assert again.symmetry == skeleton.symmetry and again.derived == skeleton.derived
        assert np.allclose(np.nan_to_num(again.end_sites), np.nan_to_num(skeleton.end_sites))
        if skeleton.dataset_index is not None:
            assert np.array_equal(again.dataset_index, skeleton.dataset_index)


USER_TOML = """
name = "stick3"
description = "three joints"
units = "m"
fps = 60
symmetry = []

[[joints]]
name = "root"
offset = [0.0, 1.0, 0.0]
canonical = "pelvis"

[[joints]]
name = "top"
parent = "root"
offset = [0.0, 0.5, 0.0]
canonical = "head"
end_site = [0.0, 0.1, 0.0]
"""


def test_user_skeleton_by_path_and_by_search_path(tmp_path, monkeypatch):
    path = tmp_path / "stick3.toml"
    path.write_text(USER_TOML)
    assert load_skeleton(str(path)).joint_count == 2
    monkeypatch.setenv("MOTIONGEN_SKELETON_PATH", str(tmp_path))
    assert "stick3" in list_skeletons()
    assert load_skeleton("stick3").fps == 60


BROKEN = {
    "syntax": ('name = "x"\n[[joints]\nname = "a"\n', r"line 2"),
    "parent_after_child": (USER_TOML.replace('parent = "root"', 'parent = "later"'),
                           r"line 1[4-6].*parent 'later' must be defined before it"),
    "bad_canonical": (USER_TOML.replace('canonical = "head"', 'canonical = "hed"'),
                      r"line 1[4-6].*unknown canonical name 'hed' \(did you mean head"),
    "nan_offset": (USER_TOML.replace("[0.0, 0.5, 0.0]", "[0.0, nan, 0.0]"), r"line 1[4-6].*offset must be three finite"),
    "two_roots": (USER_TOML.replace('parent = "root"\n', ""), r"has no parent"),
    "bad_axis": (USER_TOML.replace('units = "m"', 'units = "m"\nup = "up"'), r"line 5: up must be one of"),
    "weights": (USER_TOML + '\n[[derived]]\ncanonical = "neck"\nfrom = ["pelvis", "head"]\nweights = [0.5, 0.6]\n',
                r"weights must match 'from' and sum to 1"),
    "duplicate": (USER_TOML + '\n[[joints]]\nname = "top"\nparent = "root"\noffset = [0, 0, 0]\n', r"defined twice"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_bad_skeleton_files_name_file_line_and_reason(case, tmp_path):
    text, pattern = BROKEN[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SkeletonError, match=pattern) as info:
        load_skeleton(str(path))
    assert str(path) in str(info.value)


def test_lookup_helpers():
    assert skeleton_for_joint_count(25).name == "ntu25"
    with pytest.raises(SkeletonError, match="no registry skeleton has 7 joints"):
        skeleton_for_joint_count(7)
    cmu = load_skeleton("cmu31")
    assert find_matching_skeleton(tuple(reversed(cmu.joint_names))).name == "cmu31"
    assert find_matching_skeleton(("a", "b")) is None


def test_skeleton_subset_sums_offsets():
    full = load_skeleton("h36m32")
    keep = [full.index(n) for n in ("Hips", "RightUpLeg", "RightLeg", "RightFoot")]
    subset = full.subset(keep, "legs")
    assert np.allclose(subset.rest_positions(), full.rest_positions()[keep])
