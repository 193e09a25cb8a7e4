"""Features (root velocity + root-relative joints), their inverse, normalisation and layouts, on
numpy and torch; the real-data checks use a CMU walk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _data import CMU_DIR, needs_cmu
from motiongen.data.features import (
    MIN_HALF_RANGE,
    ROBUST_OUTSIDE,
    Normalization,
    from_features,
    to_channels_first,
    to_channels_last,
    to_features,
)
from motiongen.errors import ConfigError
from motiongen.formats import read_motion


def random_walk(shape=(2, 40, 5), seed=0) -> np.ndarray:
    """``[*shape, 3]`` positions drifting in time (float64)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=0.05, size=(*shape, 3))
    return np.cumsum(steps, axis=-3) + rng.normal(size=(shape[0], 1, shape[2], 3))


@pytest.fixture(scope="module")
def walk_positions() -> np.ndarray:
    path = CMU_DIR / "walking" / "02_01.bvh"
    if not path.is_file():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    return read_motion(path).positions[1:]  # frame 0 is the converter's T-pose


# --- the representation ---------------------------------------------------------------------

def test_features_by_hand():
    positions = np.zeros((3, 2, 3))
    positions[:, 0] = [[0.0, 1.0, 0.0], [0.1, 1.1, 0.2], [0.3, 0.9, 0.3]]  # root
    positions[:, 1] = positions[:, 0] + [0.5, -0.4, 0.25]
    features = to_features(positions)
    np.testing.assert_allclose(features[:, 0], [[0.1, 1.0, 0.2], [0.2, 1.1, 0.1], [0.2, 0.9, 0.1]])
    # x and z relative to the root, height absolute
    np.testing.assert_allclose(features[:, 1], [[0.5, 0.6, 0.25], [0.5, 0.7, 0.25], [0.5, 0.5, 0.25]])


def test_single_frame_has_no_velocity():
    features = to_features(random_walk((1, 1, 4)))
    assert np.all(features[..., 0, 0, [0, 2]] == 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_numpy(dtype):
    positions = random_walk().astype(dtype)
    start = positions[..., 0, 0, [0, 2]]  # [B, 2]: each sequence's own start
    back = from_features(to_features(positions), start_xz=start)
    assert back.dtype == dtype and back.shape == positions.shape
    np.testing.assert_allclose(back, positions, atol=1e-12 if dtype == np.float64 else 2e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_round_trip_torch(dtype):
    positions = torch.as_tensor(random_walk(), dtype=dtype)
    features = to_features(positions)
    assert isinstance(features, torch.Tensor) and features.dtype == dtype
    back = from_features(features, start_xz=positions[..., 0, 0, [0, 2]])
    torch.testing.assert_close(back, positions, atol=1e-12 if dtype == torch.float64 else 2e-6, rtol=0)
    # the same numbers as the numpy path
    np.testing.assert_allclose(features.numpy(), to_features(positions.numpy()), atol=1e-6)


def test_torch_gradients_flow():
    positions = torch.tensor(random_walk(), requires_grad=True)
    from_features(to_features(positions), start_xz=(0.0, 0.0)).sum().backward()
    assert positions.grad is not None and torch.isfinite(positions.grad).all()


def test_default_start_is_origin():
    positions = random_walk((1, 10, 3))
    back = from_features(to_features(positions))
    np.testing.assert_allclose(back[0, 0, 0, [0, 2]], [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(back[0, 0, 0, 1], positions[0, 0, 0, 1])


def test_features_stay_bounded_however_long():
    """A straight walk: positions grow with length, features do not."""
    frames = 10_000
    positions = np.zeros((frames, 3, 3))
    positions[:, :, 2] = np.arange(frames)[:, None] * 0.04 + [0.0, 0.1, -0.1]
    positions[:, :, 1] = [0.9, 1.5, 0.1]
    features = to_features(positions)
    assert np.abs(features).max() < 1.6
    np.testing.assert_allclose(features[:, 0, 2], 0.04)


def test_rejects_bad_shapes():
    with pytest.raises(ConfigError, match=r"\[\.\.\., T, V, 3\]"):
        to_features(np.zeros((10, 4)))
    with pytest.raises(ConfigError):
        from_features(np.zeros((10, 4, 2)))


@needs_cmu
def test_round_trip_on_real_walk(walk_positions):
    features = to_features(walk_positions)
    back = from_features(features, start_xz=walk_positions[0, 0, [0, 2]])
    np.testing.assert_allclose(back, walk_positions, atol=1e-4)  # float32, 343 frames of integration
    # walking at 120 fps: about 1–1.5 m/s, so about 1 cm per frame
    speed = np.linalg.norm(features[:, 0, [0, 2]], axis=-1) * 120.0
    assert 0.5 < np.median(speed) < 2.0


# --- layouts ----------------------------------------------------------------------------------

def test_channels_first_and_back():
    x = np.arange(2 * 5 * 4 * 3, dtype=np.float32).reshape(2, 5, 4, 3)
    first = to_channels_first(x)
    assert first.shape == (2, 3, 5, 4) and first.flags.c_contiguous
    assert first[1, 2, 3, 1] == x[1, 3, 1, 2]
    np.testing.assert_array_equal(to_channels_last(first), x)
    tensor_first = to_channels_first(torch.as_tensor(x))
    assert tensor_first.is_contiguous()
    np.testing.assert_array_equal(tensor_first.numpy(), first)
    np.testing.assert_array_equal(to_channels_last(tensor_first).numpy(), x)


# --- normalisation ------------------------------------------------------------------------------

def test_normalization_maps_data_into_unit_range():
    features = to_features(random_walk((6, 30, 5)))
    norm = Normalization.from_features_data(features)
    assert norm.centre.dtype == np.float32 and norm.centre.shape == (5, 3)
    normalized = norm.normalize(features)
    assert normalized.min() >= -1 - 1e-5 and normalized.max() <= 1 + 1e-5
    # every (joint, coordinate) reaches both ends
    flat = normalized.reshape(-1, 5, 3)
    np.testing.assert_allclose(flat.max(0), 1.0, atol=1e-5)
    np.testing.assert_allclose(flat.min(0), -1.0, atol=1e-5)
    np.testing.assert_allclose(norm.denormalize(normalized), features, atol=1e-5)


def test_a_glitch_does_not_set_the_range_of_a_robust_normalization():
    """One frame's 2 m jump of the root (a capture glitch, as in one CMU walking clip) sets a
    min/max range alone; the dataset's quantile range ignores it."""
    features = to_features(random_walk((40, 50, 3)))
    features[7, 10, 0, 2] = -2.0  # the root's z step in one frame
    exact = Normalization.from_features_data(features)
    robust = Normalization.from_features_data(features, ROBUST_OUTSIDE)
    assert exact.half_range[0, 2] > 0.9 and robust.half_range[0, 2] < 0.2 * exact.half_range[0, 2]
    normalized = robust.normalize(features)
    values = normalized.reshape(-1, 9)  # 2000 values per (joint, coordinate)
    assert (np.abs(values) > 1 + 1e-5).sum(0).max() <= 2 * (np.ceil(ROBUST_OUTSIDE * 2000) + 1)
    np.testing.assert_allclose(robust.denormalize(normalized), features, atol=1e-5)
    with pytest.raises(ConfigError, match="outside the range"):
        Normalization.from_features_data(features, 0.5)


def test_constant_coordinate_gets_minimum_range():
    features = np.zeros((4, 10, 2, 3))
    features[..., 1] = 0.8
    norm = Normalization.from_features_data(features)
    np.testing.assert_allclose(norm.half_range, MIN_HALF_RANGE)
    np.testing.assert_allclose(norm.centre[:, 1], 0.8)
    np.testing.assert_allclose(norm.normalize(features), 0.0, atol=1e-4)  # float32 statistics


def test_normalization_channels_first_and_torch():
    features = to_features(random_walk((3, 20, 4)))
    norm = Normalization.from_features_data(features)
    expected = to_channels_first(norm.normalize(features))
    np.testing.assert_allclose(norm.normalize(to_channels_first(features), channels_first=True), expected, atol=1e-6)
    tensor = torch.as_tensor(to_channels_first(features), dtype=torch.float32)
    normalized = norm.normalize(tensor, channels_first=True)
    assert isinstance(normalized, torch.Tensor) and normalized.dtype == torch.float32
    np.testing.assert_allclose(normalized.numpy(), expected, atol=1e-5)
    torch.testing.assert_close(norm.denormalize(normalized, channels_first=True), tensor, atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="V = 4"):
        norm.normalize(np.zeros((3, 20, 5, 3)))


def test_normalization_dict_round_trip_through_json():
    norm = Normalization.from_features_data(to_features(random_walk((3, 20, 4))))
    data = json.loads(json.dumps(norm.to_dict()))
    assert isinstance(data["centre"], list)
    back = Normalization.from_dict(data)
    np.testing.assert_array_equal(back.centre, norm.centre)
    np.testing.assert_array_equal(back.half_range, norm.half_range)


def test_normalization_rejects_bad_statistics():
    with pytest.raises(ConfigError, match="representation|features"):
        Normalization.from_dict({"representation": "absolute/v0", "centre": [[0, 0, 0]], "half_range": [[1, 1, 1]]})
    with pytest.raises(ConfigError, match="positive"):
        Normalization(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ConfigError, match=r"\[V, 3\]"):
        Normalization.from_dict({"centre": [[0, 0]], "half_range": [[1, 1]]})
    with pytest.raises(ConfigError, match="NaN"):
        Normalization.from_features_data(np.full((2, 4, 3, 3), np.nan))
