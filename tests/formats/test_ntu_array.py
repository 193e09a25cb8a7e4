"""NTU arrays (ST-GCN / MS-G3D / CTR-GCN layouts): round trips, file axes, the restricted label
unpickler, and shape and layout errors."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

from _ntu_fixtures import SKELETON, actor, camera_to_internal, two_people
from motiongen.core.motion import Motion
from motiongen.errors import ConfigError, FormatError
from motiongen.formats import ntu_array, ntu_skeleton
from motiongen.skeletons import load_skeleton

FILES = {"stgcn": "train_data_joint.npy", "msg3d": "val_data.npy", "ctrgcn": "ntu120_xsub.npz"}


def joint(name: str) -> int:
    return SKELETON.index(name)


def motions() -> list[Motion]:
    walking = camera_to_internal(actor(40))
    still = camera_to_internal(actor(25, walking=False, x_offset=0.5))
    still[10] = np.nan  # a missing frame inside the sequence
    return [
        Motion(positions=walking, skeleton=SKELETON, fps=30.0,
               meta={"label": 5, "sample_name": "S001C001P001R001A006.skeleton"}),
        Motion(positions=still, skeleton=SKELETON, fps=30.0, meta={"action": "drink water"}),
    ]


def assert_upright(motion: Motion) -> None:
    p = motion.positions
    ok = ~np.isnan(p).any(axis=(1, 2))
    p = p[ok]
    assert (p[:, joint("Head"), 1] > p[:, joint("SpineBase"), 1]).all()
    assert (p[:, joint("SpineBase"), 1] > p[:, joint("AnkleLeft"), 1]).all()
    assert (p[:, joint("ShoulderLeft"), 0] > p[:, joint("ShoulderRight"), 0]).all()  # facing +Z
    assert (p[:, joint("FootLeft"), 2] > p[:, joint("AnkleLeft"), 2]).all()


# --- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["stgcn", "msg3d", "ctrgcn"])
def test_round_trip(tmp_path, layout):
    path = tmp_path / FILES[layout]
    written = motions()
    ntu_array.write_all(written, path, layout=layout)
    read = ntu_array.read_all(path, layout=layout)

    assert len(read) == 2
    for before, after in zip(written, read, strict=True):
        assert after.skeleton.name == "ntu25" and after.fps == 30.0
        assert after.frame_count == before.frame_count  # padding to 300 frames is dropped
        np.testing.assert_allclose(after.positions, before.positions, atol=1e-6, rtol=0)  # NaN where NaN
        np.testing.assert_array_equal(after.mask, ~np.isnan(before.positions).any(-1))
        assert_upright(after)
    assert [m.meta["label"] for m in read] == [5, 0]
    assert [m.meta["action"] for m in read] == ["pickup", "drink water"]
    assert [m.meta["action_number"] for m in read] == [6, 1]
    assert [m.meta["sample_name"] for m in read] == ["S001C001P001R001A006.skeleton", "sample000001"]
    assert not read[1].mask[10].any() and np.isnan(read[1].positions[10]).all()


def test_single_missing_joint_is_written_as_zero_with_a_warning(tmp_path):
    written = motions()
    positions = np.array(written[0].positions)
    positions[12, joint("HandLeft")] = np.nan
    path = tmp_path / "train_data.npy"
    with pytest.warns(UserWarning, match="1 missing joint"):
        ntu_array.write_all([written[0].replace(positions=positions)], path)
    back = ntu_array.read(path, layout="stgcn")
    np.testing.assert_array_equal(back.positions[12, joint("HandLeft")], 0.0)  # the file's origin
    np.testing.assert_allclose(back.positions[11], positions[11], atol=1e-6, rtol=0)


@pytest.mark.parametrize("layout", ["stgcn", "msg3d", "ctrgcn"])
def test_files_are_in_the_layouts_own_axes_and_shape(tmp_path, layout):
    path = tmp_path / FILES[layout]
    ntu_array.write_all(motions(), path, layout=layout)
    if layout == "ctrgcn":
        with np.load(path, allow_pickle=False) as archive:
            assert set(archive.files) == {"x_train", "y_train", "sample_name_train"}
            x, y = archive["x_train"], archive["y_train"]
        assert x.shape == (2, 300, 150) and x.dtype == np.float32
        assert y.shape == (2, 120) and y[0, 5] == 1 and y[1, 0] == 1 and y.sum() == 2
        data = x.reshape(2, 300, 2, 25, 3).transpose(0, 4, 1, 3, 2)  # as CTR-GCN's feeder does
    else:
        data = np.load(path, allow_pickle=False)
        assert data.shape == (2, 3, 300, 25, 2) and data.dtype == np.float32
        assert (tmp_path / FILES[layout].replace("_data_joint", "_label").replace("_data", "_label")
                ).with_suffix(".pkl").is_file()
    assert not data[..., 1].any()  # second body is empty
    assert not data[0, :, 40:].any() and not data[1, :, 25:].any()  # zero padding
    sample = data[0, :, 0, :, 0]  # [3, 25] first frame, dataset joint order (1-based numbers - 1)
    head, base, left_shoulder, right_shoulder = sample[:, 3], sample[:, 0], sample[:, 4], sample[:, 8]
    if layout == "msg3d":  # up +Z, shoulders right→left along +X
        assert head[2] > base[2] and left_shoulder[0] > right_shoulder[0]
    else:  # Kinect camera: up +Y, the person faces the camera (−Z), so their left is −X
        assert head[1] > base[1] and left_shoulder[0] < right_shoulder[0]
        assert abs(base[2] - 3.0) < 0.05  # 3 m in front of the sensor


def test_skeleton_file_to_stgcn(tmp_path):
    source = tmp_path / "S001C002P003R002A013.skeleton"
    source.write_text(two_people().text)
    motion = ntu_skeleton.read(source)
    target = tmp_path / "train_data.npy"
    ntu_array.write_all([motion], target)  # stgcn is the default layout
    names, labels = ntu_array.load_labels(tmp_path / "train_label.pkl")
    assert names == ["S001C002P003R002A013.skeleton"] and labels == [12]
    back = ntu_array.read(target, layout="stgcn")
    assert back.meta["action"] == "tear up paper"
    np.testing.assert_allclose(back.positions, motion.positions, atol=1e-6, rtol=0)


def test_explicit_label_path(tmp_path):
    path = tmp_path / "poses.npy"
    ntu_array.write_all(motions(), path, labels_path=tmp_path / "my_labels.pkl")
    read = ntu_array.read_all(path, layout="stgcn", labels=tmp_path / "my_labels.pkl")
    assert [m.meta["label"] for m in read] == [5, 0]
    with pytest.raises(FormatError, match="no such label file"):
        ntu_array.read_all(path, layout="stgcn", labels=tmp_path / "absent.pkl")


def test_default_label_sibling_for_other_stems(tmp_path):
    path = tmp_path / "poses.npy"
    ntu_array.write_all(motions(), path)
    assert (tmp_path / "poses_label.pkl").is_file()
    assert [m.meta["label"] for m in ntu_array.read_all(path, layout="stgcn")] == [5, 0]


def test_no_label_file_warns(tmp_path):
    path = tmp_path / "train_data.npy"
    ntu_array.write_all(motions(), path)
    (tmp_path / "train_label.pkl").unlink()
    with pytest.warns(UserWarning, match="no label file"):
        read = ntu_array.read_all(path, layout="stgcn")
    assert "action" not in read[0].meta and read[0].meta["sample_name"] is None


def test_zero_frames_inside_and_trailing_padding(tmp_path):
    data = np.zeros((1, 3, 300, 25, 2), dtype=np.float32)
    data[0, :, :50, :, 0] = 1.0 + np.random.default_rng(0).random((3, 50, 25))
    data[0, :, 20] = 0.0  # a frame with nobody
    data[0, :, 50:60, :, 1] = 2.0  # the second body stays after the first leaves
    path = tmp_path / "x_data.npy"
    np.save(path, data)
    with open(tmp_path / "x_label.pkl", "wb") as stream:
        pickle.dump((["a"], [3]), stream)
    first = ntu_array.read(path, layout="stgcn")
    assert first.frame_count == 60  # trimmed after the last frame of any body
    assert np.isnan(first.positions[20]).all() and not first.mask[20].any()
    assert np.isnan(first.positions[50:]).all() and not first.mask[50:].any()
    assert first.mask[:20].all() and first.mask[21:50].all()
    second = ntu_array.read(path, layout="stgcn", body=1)
    assert second.mask[50:60].all() and not second.mask[:50].any()
    with pytest.raises(ConfigError, match="body"):
        ntu_array.read(path, layout="stgcn", body=2)


def test_samples_selection(tmp_path):
    path = tmp_path / "train_data.npy"
    ntu_array.write_all(motions(), path)
    only = ntu_array.read_all(path, layout="stgcn", samples=[1])
    assert len(only) == 1 and only[0].meta["index"] == 1 and only[0].frame_count == 25


# --- the restricted unpickler ------------------------------------------------------------------

class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_label_pickle_calling_os_system_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    payload = pickle.dumps((["a"], [_Evil(f"touch {marker}")]))
    label_path = tmp_path / "train_label.pkl"
    label_path.write_bytes(payload)

    calls = []

    def recorder(command):
        calls.append(command)
        return 0

    system_module = sys.modules[os.system.__module__]  # posix on Linux/macOS, nt on Windows
    monkeypatch.setattr(system_module, "system", recorder)
    monkeypatch.setattr(os, "system", recorder)
    pickle.loads(payload)  # the payload is live: plain pickle would run the command
    assert calls == [f"touch {marker}"]
    calls.clear()

    with pytest.raises(FormatError, match=r"label file tries to import \w+\.system; refusing"):
        ntu_array.load_labels(label_path)
    assert calls == [] and not marker.exists()

    np.save(tmp_path / "train_data.npy", np.zeros((1, 3, 300, 25, 2), dtype=np.float32))
    with pytest.raises(FormatError, match="refusing"):
        ntu_array.read_all(tmp_path / "train_data.npy", layout="stgcn")
    assert calls == [] and not marker.exists()


@pytest.mark.parametrize("content", [
    (["a"], np.array([1])),
    (["a"], [np.int64(1)]),
    np.array([1, 2]),
])
def test_label_pickle_with_numpy_objects_is_refused(tmp_path, content):
    path = tmp_path / "labels.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(FormatError, match=r"tries to import numpy\..*; refusing"):
        ntu_array.load_labels(path)


@pytest.mark.parametrize("content, fragment", [
    ({"names": ["a"], "labels": [1]}, "(sample_names, labels)"),
    ((["a"],), "(sample_names, labels)"),
    ((["a", "b"], [1]), "2 sample names but 1 labels"),
    ((["a"], ["1"]), "label 0"),
    ((["a"], [-1]), "label 0"),
    ((["a"], [True]), "label 0"),
    (([1], [1]), "sample name 0"),
    (("ab", [1, 2]), "two lists"),
])
def test_label_pickle_structure_is_checked(tmp_path, content, fragment):
    path = tmp_path / "labels.pkl"
    path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(FormatError) as caught:
        ntu_array.load_labels(path)
    assert fragment in caught.value.reason


@pytest.mark.parametrize("data", [b"", b"not a pickle", pickle.dumps((["a"], [1]))[:-3], b"\x80\x04K"])
def test_garbage_label_files(tmp_path, data):
    path = tmp_path / "labels.pkl"
    path.write_bytes(data)
    with pytest.raises(FormatError, match="label"):
        ntu_array.load_labels(path)


def test_label_count_must_match_samples(tmp_path):
    path = tmp_path / "train_data.npy"
    ntu_array.write_all(motions(), path)
    (tmp_path / "train_label.pkl").write_bytes(pickle.dumps((["a"], [1])))
    with pytest.raises(FormatError, match="lists 1 samples"):
        ntu_array.read_all(path, layout="stgcn")


# --- layout and shape errors ------------------------------------------------------------------

def test_layout_must_be_declared(tmp_path):
    path = tmp_path / "train_data.npy"
    ntu_array.write_all(motions(), path)
    with pytest.raises(FormatError, match="--layout stgcn|msg3d|ctrgcn") as caught:
        ntu_array.read_all(path)
    assert "train_data.npy" in str(caught.value)
    with pytest.raises(ConfigError, match="unknown NTU array layout"):
        ntu_array.read_all(path, layout="kinetics")


def test_four_dimensional_array_declared_stgcn(tmp_path):
    path = tmp_path / "poses.npy"
    np.save(path, np.zeros((2, 40, 25, 3), dtype=np.float32))
    with pytest.raises(FormatError, match=r"\(N, 3, T, 25, M\).*\[2, 40, 25, 3\]"):
        ntu_array.read_all(path, layout="stgcn")


@pytest.mark.parametrize("shape, fragment", [
    ((2, 3, 300, 24, 2), "25 joints"),
    ((2, 2, 300, 25, 2), "3 coordinates"),
    ((0, 3, 300, 25, 2), "no data"),
])
def test_bad_stgcn_shapes(tmp_path, shape, fragment):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros(shape, dtype=np.float32))
    with pytest.raises(FormatError, match=fragment):
        ntu_array.read_all(path, layout="msg3d")


def test_bad_ctrgcn_archives(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((2, 300, 144), np.float32), y_train=np.eye(120)[[0, 1]])
    with pytest.raises(FormatError, match="25 joints"):
        ntu_array.read_all(path, layout="ctrgcn")
    np.savez(path, x_train=np.ones((2, 300, 150), np.float32), y_train=np.full((2, 120), 0.5))
    with pytest.raises(FormatError, match="one-hot"):
        ntu_array.read_all(path, layout="ctrgcn")
    with pytest.raises(FormatError, match="x_test"):
        ntu_array.read_all(path, layout="ctrgcn", split="test")
    with pytest.raises(FormatError, match="--layout ctrgcn"):
        ntu_array.read_all(path, layout="stgcn")
    with pytest.raises(FormatError, match=".npz"):
        ntu_array.read_all(tmp_path / "x.npy", layout="ctrgcn")


def test_ctrgcn_without_names_uses_its_own(tmp_path):
    path = tmp_path / "ntu.npz"
    x = np.zeros((2, 300, 150), np.float32)
    x[:, :30] = 1.0
    np.savez(path, x_test=x, y_test=np.eye(120, dtype=np.float32)[[7, 9]])
    read = ntu_array.read_all(path, layout="ctrgcn", split="test")
    assert [m.meta["sample_name"] for m in read] == ["test_0", "test_1"]
    assert [m.meta["label"] for m in read] == [7, 9] and read[0].frame_count == 30


# --- writing errors ---------------------------------------------------------------------------

def test_write_needs_ntu25_motions_with_labels(tmp_path):
    other = load_skeleton("h36m17")
    foreign = Motion(positions=np.zeros((5, other.joint_count, 3)), skeleton=other, fps=30.0, meta={"label": 1})
    with pytest.raises(ConfigError, match="ntu25"):
        ntu_array.write_all([foreign], tmp_path / "x_data.npy")
    unlabelled = Motion(positions=camera_to_internal(actor(5)), skeleton=SKELETON, fps=30.0)
    with pytest.raises(ConfigError, match="no NTU action label"):
        ntu_array.write_all([unlabelled], tmp_path / "x_data.npy")
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind


def test_write_checks_suffix_per_layout(tmp_path):
    with pytest.raises(ConfigError, match=".npy"):
        ntu_array.write_all(motions(), tmp_path / "x.npz", layout="stgcn")
    with pytest.raises(ConfigError, match=".npz"):
        ntu_array.write_all(motions(), tmp_path / "x.npy", layout="ctrgcn")
    with pytest.raises(ConfigError, match="two files"):
        ntu_array.write_all(motions(), "-", layout="msg3d")
    assert list(tmp_path.iterdir()) == []


# --- sniffing ---------------------------------------------------------------------------------

def test_sniff_claims_only_ntu_arrays(tmp_path):
    cases = {
        "five.npy": (np.zeros((1, 3, 10, 25, 2), np.float32), True),
        "four.npy": (np.zeros((1, 10, 25, 3), np.float32), False),
        "three.npy": (np.zeros((10, 25, 3), np.float32), False),
    }
    for name, (array, expected) in cases.items():
        np.save(tmp_path / name, array)
        assert ntu_array.sniff(tmp_path / name) is expected, name
    np.savez(tmp_path / "ctr.npz", x_test=np.zeros((1, 10, 150)), y_test=np.eye(120)[:1])
    np.savez(tmp_path / "plain.npz", positions=np.zeros((10, 25, 3)))
    (tmp_path / "junk.npy").write_bytes(b"junk")
    assert ntu_array.sniff(tmp_path / "ctr.npz") is True
    assert ntu_array.sniff(tmp_path / "plain.npz") is False
    assert ntu_array.sniff(tmp_path / "junk.npy") is False
    assert ntu_array.sniff(tmp_path / "absent.npy") is False
