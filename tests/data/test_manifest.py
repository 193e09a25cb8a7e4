"""Manifests and labelled folders: columns, paths relative to the manifest, start frames, and
errors that name the manifest and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from _data import CMU_DIR, needs_cmu
from motiongen.data.manifest import find_clips, read_manifest, scan_folder
from motiongen.errors import FormatError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_manifest(folder: Path, text: str, name: str = "manifest.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def clips(tmp_path) -> Path:
    for name in ("walking/a.bvh", "walking/b.bvh", "running/c.bvh"):
        touch(tmp_path / name)
    return tmp_path


def test_minimal_manifest(clips):
    manifest = write_manifest(clips, "file,action\nwalking/a.bvh,walking\nrunning/c.bvh,running\n")
    entries = read_manifest(manifest)
    assert [(e.file, e.action, e.subject, e.split, e.start_frame) for e in entries] == [
        ("walking/a.bvh", "walking", None, None, 0), ("running/c.bvh", "running", None, None, 0)]
    assert entries[0].path == (clips / "walking" / "a.bvh").resolve()
    assert [e.line for e in entries] == [2, 3]


def test_optional_columns(clips):
    manifest = write_manifest(clips, (
        "\ufeffFile , Action,subject,split,start_frame,tpose_frame0,notes\n"  # BOM, spaces, case
        "walking/a.bvh,walking,07,test,,yes,x\n"
        "\n"
        "walking/b.bvh,walking,08,,5,yes,\"two,\nlines\"\n"
        "running/c.bvh,running,,train,,no,\n"))
    entries = read_manifest(manifest)
    assert [(e.subject, e.split, e.start_frame, e.line) for e in entries] == [
        ("07", "test", 1, 2), ("08", "train", 5, 4), (None, "train", 0, 6)]


def test_absolute_paths_and_other_folder(clips, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("lists")
    manifest = write_manifest(elsewhere, f"file,action\n{clips / 'walking' / 'a.bvh'},walking\n")
    assert read_manifest(manifest)[0].path == (clips / "walking" / "a.bvh").resolve()
    entries, root = find_clips(manifest)
    assert root == elsewhere.resolve() and len(entries) == 1


def test_missing_columns(clips):
    manifest = write_manifest(clips, "path,label\nwalking/a.bvh,walking\n")
    with pytest.raises(FormatError, match=r"manifest\.csv line 1: missing column\(s\) file, action") as info:
        read_manifest(manifest)
    assert info.value.path == str(manifest) and info.value.line == 1


def test_empty_manifest(clips):
    with pytest.raises(FormatError, match="line 1"):
        read_manifest(write_manifest(clips, ""))
    with pytest.raises(FormatError, match="lists no files"):
        read_manifest(write_manifest(clips, "file,action\n"))


def test_empty_action_names_line(clips):
    manifest = write_manifest(clips, "file,action\nwalking/a.bvh,walking\nwalking/b.bvh,  \n")
    with pytest.raises(FormatError, match=r"manifest\.csv line 3: empty action for walking/b\.bvh"):
        read_manifest(manifest)


def test_missing_files_are_listed(clips):
    rows = ["walking/a.bvh,walking"] + [f"walking/gone{k}.bvh,walking" for k in range(7)]
    manifest = write_manifest(clips, "file,action\n" + "\n".join(rows) + "\n")
    with pytest.raises(FormatError) as info:
        read_manifest(manifest)
    message = str(info.value)
    assert str(manifest) in message and "7 listed file(s) do not exist" in message
    assert "line 3: walking/gone0.bvh" in message and "line 7: walking/gone4.bvh" in message
    assert "gone5" not in message and "and 2 more" in message
    assert info.value.line == 3


def test_duplicate_rows(clips):
    manifest = write_manifest(clips, "file,action\nwalking/a.bvh,walking\nrunning/c.bvh,running\n"
                                     "walking/../walking/a.bvh,walking\n")
    with pytest.raises(FormatError, match=r"line 4: .* listed twice \(lines 2 and 4\)"):
        read_manifest(manifest)


@pytest.mark.parametrize("cells, message", [
    ("start_frame\n-3", "start_frame must be"),
    ("start_frame\nten", "start_frame must be"),
    ("tpose_frame0\nmaybe", "tpose_frame0 must be yes or no"),
])
def test_bad_frame_columns(clips, cells, message):
    header, value = cells.split("\n")
    manifest = write_manifest(clips, f"file,action,{header}\nwalking/a.bvh,walking,{value}\n")
    with pytest.raises(FormatError, match=f"line 2: {message}"):
        read_manifest(manifest)


def test_scan_labels_by_parent_folder(clips):
    touch(clips / ".motiongen-cache" / "dataset-x.npz")  # a cache is never data
    touch(clips / "walking" / ".hidden.bvh")
    touch(clips / "README.md")
    entries = scan_folder(clips)
    assert [(e.file, e.action) for e in entries] == [
        ("running/c.bvh", "running"), ("walking/a.bvh", "walking"), ("walking/b.bvh", "walking")]
    found, root = find_clips(clips)
    assert [e.file for e in found] == [e.file for e in entries] and root == clips.resolve()


def test_folder_with_manifest_uses_it(clips):
    write_manifest(clips, "file,action\nwalking/a.bvh,strolling\n")
    entries, _ = find_clips(clips)
    assert [(e.file, e.action) for e in entries] == [("walking/a.bvh", "strolling")]


def test_bad_sources(tmp_path):
    with pytest.raises(FormatError, match="no such file or folder"):
        find_clips(tmp_path / "nothing")
    with pytest.raises(FormatError, match="no motion files found"):
        find_clips(tmp_path)
    with pytest.raises(FormatError, match="manifest .csv"):
        find_clips(touch(tmp_path / "list.txt"))


@needs_cmu
def test_real_cmu_manifest():
    entries = read_manifest(CMU_DIR / "manifest.csv")
    assert len(entries) >= 100
    assert all(e.path.is_file() for e in entries)
    by_file = {e.file: e for e in entries}
    assert by_file["walking/02_01.bvh"].start_frame == 1  # tpose_frame0 = yes
    assert by_file["jumping/16_01.bvh"].start_frame == 0  # no added T-pose
    assert by_file["walking/02_01.bvh"].subject == "02"
    assert {e.action for e in entries} >= {"walking", "running", "jumping", "basketball"}
