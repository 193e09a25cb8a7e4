"""`prepare_dataset` on a small real CMU subset (7 clips, 4 actions, copied with their manifest
rows): windows, labels, splits, fitted skeleton, normalisation, the cache; an NTU array; errors."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from _data import CMU_DIR, cmu_manifest, needs_cmu
from motiongen.core.ops import resample, resampled_frame_count
from motiongen.data.dataset import MotionDataset, cut_windows, prepare_dataset
from motiongen.data.features import ROBUST_OUTSIDE, Normalization, to_channels_first, to_features
from motiongen.errors import ConfigError, FormatError
from motiongen.formats import read_motion
from motiongen.skeletons import load_actions, load_skeleton

# (file, subject): two clips per action, subjects chosen so holding out 08 and 13 leaves train
# clips for every action; the running clip is 1 s long, shorter than a window.
SUBSET = ["walking/07_12.bvh", "walking/08_10.bvh", "jumping/16_01.bvh", "jumping/li2018_train_jumping_4.bvh",
          "basketball/06_09.bvh", "basketball/06_08.bvh", "running/09_03.bvh"]
FPS, FRAMES, STRIDE = 30.0, 40, 20
SETTINGS = dict(skeleton="cmu31", fps=FPS, frames=FRAMES)


def copy_subset(folder: Path, files=SUBSET, manifest: bool = True, extra_columns: dict | None = None) -> Path:
    rows = {row["file"]: row for row in cmu_manifest()}
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CMU_DIR / name, folder / name)
    if manifest:
        columns = ["file", "action", "subject", "tpose_frame0", "frames", *(extra_columns or {})]
        with (folder / "manifest.csv").open("w", newline="") as stream:
            writer = csv.DictWriter(stream, columns, extrasaction="ignore")
            writer.writeheader()
            for name in files:
                writer.writerow({**rows[name], **{k: v(name) for k, v in (extra_columns or {}).items()}})
    return folder


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    if not CMU_DIR.is_dir():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    return copy_subset(tmp_path_factory.mktemp("cmu-subset"))


@pytest.fixture(scope="module")
def prepared(subset, tmp_path_factory) -> MotionDataset:
    with pytest.warns(UserWarning) as record:
        dataset = prepare_dataset(subset, cache_dir=tmp_path_factory.mktemp("cache"), **SETTINGS)
    messages = " | ".join(str(w.message) for w in record)
    assert "1 clip(s) shorter than 40 frames at 30 fps" in messages and "running/09_03.bvh" in messages
    assert "dropping 1 action(s)" in messages and "running (0)" in messages
    return dataset


def manifest_rows(folder: Path) -> dict[str, dict]:
    with (folder / "manifest.csv").open(newline="") as stream:
        return {row["file"]: row for row in csv.DictReader(stream)}


def count_reads(monkeypatch) -> list:
    """Patch the format registry's reader to record each file read."""
    import motiongen.formats as formats

    calls, real = [], formats.read_motions
    monkeypatch.setattr(formats, "read_motions", lambda path, *a, **k: calls.append(path) or real(path, *a, **k))
    return calls


# --- windows and labels --------------------------------------------------------------------------

@needs_cmu
def test_windows_labels_and_clips(prepared, subset):
    dataset = prepared
    assert dataset.actions == ("basketball", "jumping", "walking")
    assert dataset.fps == FPS and dataset.frames == FRAMES and len(dataset.clips) == 6
    rows = manifest_rows(subset)
    for clip in dataset.clips:
        source_frames = int(rows[clip["file"]]["frames"]) - (rows[clip["file"]]["tpose_frame0"] == "yes")
        assert clip["frames"] == resampled_frame_count(source_frames, 120.0, FPS)
        assert clip["windows"] == (clip["frames"] - FRAMES) // STRIDE + 1
        assert clip["split"] == "train" and clip["subject"] == rows[clip["file"]]["subject"]
    assert len(dataset) == sum((c["frames"] - FRAMES) // STRIDE + 1 for c in dataset.clips)
    assert dataset.windows.shape == (len(dataset), FRAMES, 31, 3) and dataset.windows.dtype == np.float32
    assert dataset.labels.dtype == np.int64 and dataset.clip_index.dtype == np.int64
    clip_actions = [dataset.clips[i]["action"] for i in dataset.clip_index]
    assert [dataset.actions[k] for k in dataset.labels] == clip_actions
    assert dataset.label_counts() == {a: clip_actions.count(a) for a in dataset.actions}
    assert np.all(dataset.windows[:, 0, 0, [0, 2]] == 0.0)  # every window starts at the origin
    assert 0.7 < float(np.median(dataset.windows[:, :, 0, 1])) < 1.2  # hips about a metre up


@needs_cmu
def test_windows_are_the_resampled_clip(prepared, subset):
    """Window k of a clip is frames [k·stride, k·stride + T) of the clip at 30 fps, moved to the origin."""
    clip = next(i for i, c in enumerate(prepared.clips) if c["file"] == "walking/07_12.bvh")
    motion = resample(read_motion(subset / "walking/07_12.bvh")[1:], FPS)  # frame 0: the T-pose
    windows = prepared.windows[prepared.clip_index == clip]
    for k, window in enumerate(windows):
        expected = motion.positions[k * STRIDE: k * STRIDE + FRAMES].astype(np.float64)
        expected[..., [0, 2]] -= expected[0, 0, [0, 2]]
        np.testing.assert_allclose(window, expected, atol=2e-6)


def test_cut_windows_index_arithmetic():
    positions = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    windows = cut_windows(positions, 4, 3)
    assert windows.shape == (3, 4, 2, 3)
    np.testing.assert_array_equal(windows[:, :, 0, 0], [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert cut_windows(positions, 11, 1).shape == (0, 11, 2, 3)
    assert cut_windows(positions, 10, 5).shape == (1, 10, 2, 3)


@needs_cmu
def test_skeleton_fitted_to_training_frames(prepared):
    registry = load_skeleton("cmu31")
    skeleton = prepared.skeleton
    assert skeleton.name == "cmu31" and skeleton.same_layout(registry)
    lengths = skeleton.bone_lengths()
    assert not np.allclose(lengths, registry.bone_lengths(), atol=1e-3)  # fitted, not the registry's
    np.testing.assert_allclose(lengths, lengths[skeleton.mirror_index()], atol=1e-9)  # left = right
    thigh = lengths[registry.index("LeftLeg")]
    assert 0.3 < thigh < 0.55



def _assert_in_unit_range_but_the_quantiles_share(features: np.ndarray) -> None:
    """Normalised training features ``[N, 3, T, V]`` lie in [-1, 1] but for at most the
    `ROBUST_OUTSIDE` share at each end of every (coordinate, joint) (+ one value of rounding)."""
    values = features.transpose(1, 3, 0, 2).reshape(features.shape[1] * features.shape[3], -1)
    allowed = 2 * (np.ceil(ROBUST_OUTSIDE * values.shape[1]) + 1)
    assert (np.abs(values) > 1 + 1e-5).sum(1).max() <= allowed

@needs_cmu
def test_features_and_normalisation(prepared):
    features = prepared.features()
    assert features.shape == (len(prepared), 3, FRAMES, 31) and features.dtype == np.float32
    expected = to_channels_first(prepared.normalization.normalize(to_features(prepared.windows)))
    np.testing.assert_allclose(features, expected, atol=1e-6)
    _assert_in_unit_range_but_the_quantiles_share(features)  # all training data here
    np.testing.assert_array_equal(prepared.features([3, 1]), features[[3, 1]])


# --- splits ----------------------------------------------------------------------------------------

@needs_cmu
def test_holdout_subjects(subset, tmp_path):
    calls = []
    with pytest.warns(UserWarning):
        dataset = prepare_dataset(subset, holdout_subjects=("08", "13"), cache_dir=tmp_path,
                                  progress=lambda done, total: calls.append((done, total)), **SETTINGS)
    assert calls == [(k, len(SUBSET)) for k in range(1, len(SUBSET) + 1)]
    test = dataset.split("test")
    assert {dataset.clips[i]["file"] for i in test.clip_index} == {
        "walking/08_10.bvh", "jumping/li2018_train_jumping_4.bvh"}
    train = dataset.split("train")
    assert len(train) + len(test) == len(dataset) and set(dataset.split_names()) == {"train", "test"}
    assert test.actions == train.actions == dataset.actions and test.normalization is dataset.normalization
    # statistics come from the training windows only
    expected = Normalization.from_features_data(to_features(train.windows), ROBUST_OUTSIDE)
    np.testing.assert_array_equal(dataset.normalization.centre, expected.centre)
    np.testing.assert_array_equal(dataset.normalization.half_range, expected.half_range)
    _assert_in_unit_range_but_the_quantiles_share(train.features())
    with pytest.raises(ConfigError, match="no split 'val'.*test, train"):
        dataset.split("val")


@needs_cmu
def test_holdout_subject_must_exist(subset, tmp_path):
    with pytest.raises(ConfigError, match=r"holdout subject\(s\) 99 not in the data; subjects: 06, 07, 08"):
        prepare_dataset(subset, holdout_subjects=("99",), cache_dir=tmp_path, **SETTINGS)


@needs_cmu
def test_actions_with_too_few_training_clips_are_dropped(subset, tmp_path):
    with pytest.warns(UserWarning) as record:
        dataset = prepare_dataset(subset, holdout_subjects=("8", "13"), min_clips_per_action=2,  # "8" is "08"
                                  cache_dir=tmp_path, **SETTINGS)
    assert any("fewer than 2 training clip(s): jumping (1), running (0), walking (1)" in str(w.message)
               for w in record)
    assert dataset.actions == ("basketball",)
    assert {c["action"] for c in dataset.clips} == {"basketball"}


@needs_cmu
def test_manifest_split_column(tmp_path):
    folder = copy_subset(tmp_path / "data", SUBSET[:6],
                         extra_columns={"split": lambda name: "val" if name.startswith("jumping/16") else ""})
    dataset = prepare_dataset(folder, cache_dir=tmp_path / "cache", **SETTINGS)
    assert set(dataset.split_names()) == {"train", "val"}
    assert [c["file"] for c in dataset.clips if c["split"] == "val"] == ["jumping/16_01.bvh"]
    with pytest.raises(ConfigError, match="split column; holdout_subjects"):
        prepare_dataset(folder, holdout_subjects=("08",), cache_dir=tmp_path / "cache", **SETTINGS)


# --- cache -----------------------------------------------------------------------------------------

@needs_cmu
def test_cache_hit_reads_nothing_and_returns_the_same(subset, tmp_path, monkeypatch):
    with pytest.warns(UserWarning):
        cold = prepare_dataset(subset, cache_dir=tmp_path, **SETTINGS)
    assert len(list(tmp_path.glob("dataset-*.npz"))) == 1 and len(list(tmp_path.glob("dataset-*.json"))) == 1
    reads = count_reads(monkeypatch)
    warm = prepare_dataset(subset, cache_dir=tmp_path, **SETTINGS)
    assert reads == []  # loaded from the cache: no clip was read
    for name in ("windows", "labels", "clip_index"):
        np.testing.assert_array_equal(getattr(warm, name), getattr(cold, name))
    np.testing.assert_array_equal(warm.normalization.centre, cold.normalization.centre)
    np.testing.assert_array_equal(warm.normalization.half_range, cold.normalization.half_range)
    np.testing.assert_array_equal(warm.skeleton.offsets, cold.skeleton.offsets)
    assert warm.skeleton.same_layout(cold.skeleton) and warm.skeleton.symmetry == cold.skeleton.symmetry
    assert warm.actions == cold.actions and warm.clips == cold.clips and warm.fps == cold.fps

    # a touched file, or any argument that changes the result, misses the cache
    clip = subset / "walking" / "07_12.bvh"
    info = clip.stat()
    os.utime(clip, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    with pytest.warns(UserWarning):
        prepare_dataset(subset, cache_dir=tmp_path, **SETTINGS)
    assert len(reads) == len(SUBSET)
    with pytest.warns(UserWarning):
        prepare_dataset(subset, cache_dir=tmp_path, stride=10, **SETTINGS)
    assert len(reads) == 2 * len(SUBSET)
    assert len(list(tmp_path.glob("dataset-*.npz"))) == 3


@needs_cmu
def test_default_cache_folder_and_folder_labels(tmp_path, monkeypatch):
    """A folder without a manifest: labels from folder names; the cache lands in the user cache
    ($MOTIONGEN_CACHE/datasets), never inside the (possibly shared, read-only) data folder."""
    folder = copy_subset(tmp_path / "mocap", ["walking/07_12.bvh", "basketball/06_09.bvh"], manifest=False)
    monkeypatch.setenv("MOTIONGEN_CACHE", str(tmp_path / "cache"))
    first = prepare_dataset(folder, **SETTINGS)
    assert first.actions == ("basketball", "walking")
    assert [c["file"] for c in first.clips] == ["basketball/06_09.bvh", "walking/07_12.bvh"]
    assert list((tmp_path / "cache" / "datasets").glob("dataset-*.npz"))
    assert not [p for p in folder.rglob("*") if "cache" in p.name]
    reads = count_reads(monkeypatch)
    again = prepare_dataset(folder, **SETTINGS)
    assert reads == [] and np.array_equal(again.windows, first.windows)


@needs_cmu
def test_unwritable_cache_warns_and_goes_on(tmp_path):
    folder = copy_subset(tmp_path / "data", ["walking/07_12.bvh"])
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="cannot write the dataset cache"):
        dataset = prepare_dataset(folder, cache_dir=blocker / "cache", **SETTINGS)
    assert dataset.actions == ("walking",) and len(dataset) > 0


@needs_cmu
def test_corrupt_cache_is_rebuilt(tmp_path):
    folder = copy_subset(tmp_path / "data", ["walking/07_12.bvh"])
    cold = prepare_dataset(folder, cache_dir=tmp_path / "cache", **SETTINGS)
    (arrays,) = (tmp_path / "cache").glob("dataset-*.npz")
    arrays.write_bytes(b"not an archive")
    with pytest.warns(UserWarning, match="ignoring unreadable dataset cache"):
        again = prepare_dataset(folder, cache_dir=tmp_path / "cache", **SETTINGS)
    np.testing.assert_array_equal(again.windows, cold.windows)


# --- errors -----------------------------------------------------------------------------------------

@needs_cmu
def test_manifest_naming_a_missing_file(tmp_path):
    folder = copy_subset(tmp_path / "data", ["walking/07_12.bvh"])
    with (folder / "manifest.csv").open("a") as stream:
        stream.write("walking/99_99.bvh,walking,99,yes,300\n")
    with pytest.raises(FormatError, match=r"manifest\.csv line 3: 1 listed file\(s\) do not exist \(line 3: walking/99_99\.bvh\)"):
        prepare_dataset(folder, **SETTINGS)


@pytest.mark.parametrize("arguments, message", [
    (dict(frames=0), "frames must be"),
    (dict(frames=10**9), "frames must be"),
    (dict(frames=16, stride=0), "stride must be"),
    (dict(frames=16, fps=-1.0), "fps must be"),
])
def test_impossible_requests_fail_before_reading(tmp_path, arguments, message):
    with pytest.raises(ConfigError, match=message):
        prepare_dataset(tmp_path / "does-not-matter", **arguments)


def test_nothing_long_enough(tmp_path):
    from motiongen.formats import write_motion
    from motiongen.core.motion import Motion

    skeleton = load_skeleton("cmu31")
    folder = tmp_path / "data" / "idle"
    folder.mkdir(parents=True)
    write_motion(Motion(np.broadcast_to(skeleton.rest_positions(), (10, 31, 3)), skeleton, 30.0), folder / "a.npz")
    with pytest.warns(UserWarning, match="1 clip"), pytest.raises(ConfigError, match="no clip is at least 16"):
        prepare_dataset(tmp_path / "data", frames=16)


# --- NTU arrays ------------------------------------------------------------------------------------

def ntu_motion(frames: int, label: int, sample_name: str, seed: int):
    from motiongen.core.motion import Motion

    skeleton = load_skeleton("ntu25")
    rng = np.random.default_rng(seed)
    positions = skeleton.rest_positions()[None] + np.cumsum(rng.normal(scale=0.003, size=(frames, 25, 3)), 0)
    positions[:, :, 0] += np.linspace(0, 0.5, frames)[:, None]
    return Motion(positions, skeleton, 30.0, meta={"label": label, "sample_name": sample_name})


def test_ntu_array_source(tmp_path):
    from motiongen.formats import ntu_array

    motions = [ntu_motion(50, 12, "S001C001P003R001A013", 0), ntu_motion(60, 0, "S001C002P003R001A001", 1),
               ntu_motion(45, 12, "S002C001P007R002A013", 2), ntu_motion(10, 5, "S001C001P007R001A006", 3)]
    data = tmp_path / "train_data.npy"
    ntu_array.write_all(motions, data, layout="stgcn")
    with pytest.raises(ConfigError, match="needs its layout"):
        prepare_dataset(data, frames=32)
    with pytest.warns(UserWarning) as record:
        dataset = prepare_dataset(data, layout="stgcn", frames=32, holdout_subjects=("7",), cache_dir=tmp_path / "c")
    messages = " | ".join(str(w.message) for w in record)
    ntu120 = load_actions("ntu120")
    assert "1 clip(s) shorter than 32" in messages and "dropping 1 action(s)" in messages and ntu120[5] in messages
    assert dataset.actions == (ntu120[0], ntu120[12])  # label order; 5 had no window, so it is dropped
    assert dataset.skeleton.same_layout(load_skeleton("ntu25")) and dataset.fps == 30.0
    assert [(c["file"], c["subject"], c["split"]) for c in dataset.clips] == [
        ("S001C001P003R001A013", "003", "train"), ("S001C002P003R001A001", "003", "train"),
        ("S002C001P007R002A013", "007", "test")]
    assert [c["windows"] for c in dataset.clips] == [2, 2, 1]  # (T − 32) // 16 + 1
    np.testing.assert_array_equal(dataset.labels, [1, 1, 0, 0, 1])


# --- retargeting ---------------------------------------------------------------------------------------

@needs_cmu
def test_retargets_to_another_skeleton(tmp_path):
    folder = copy_subset(tmp_path / "data", ["walking/07_12.bvh", "basketball/06_09.bvh"])
    dataset = prepare_dataset(folder, skeleton="ntu25", fps=FPS, frames=FRAMES, cache_dir=tmp_path / "cache")
    assert dataset.skeleton.same_layout(load_skeleton("ntu25")) and dataset.windows.shape[2] == 25
    assert np.isfinite(dataset.windows).all() and dataset.normalization.centre.shape == (25, 3)
    head, foot = dataset.skeleton.index("Head"), dataset.skeleton.index("FootLeft")
    height = np.median(dataset.windows[:, :, head, 1] - dataset.windows[:, :, foot, 1])
    assert 1.1 < height < 1.9  # metres: a person, upright


@needs_cmu
def test_unmappable_skeleton_names_the_clip(tmp_path):
    from _data import TALKER
    from motiongen.errors import SkeletonError
    from motiongen.skeletons import skeleton_from_toml_text

    folder = copy_subset(tmp_path / "data", ["walking/07_12.bvh"])
    with pytest.raises(SkeletonError, match=r"walking/07_12\.bvh: cannot retarget cmu31 to talker: joint 'Jaw'"):
        prepare_dataset(folder, skeleton=skeleton_from_toml_text(TALKER), frames=16, cache_dir=tmp_path / "cache")
