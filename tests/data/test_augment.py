"""Mirroring and rotation about the up axis: they commute with the feature transform, so
augmenting features equals the features of augmented positions; draws follow the generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from _data import CMU_DIR
from motiongen.core.ops import resample
from motiongen.data.augment import (
    apply_augmentation,
    augment_features,
    draw_augmentation,
    mirror,
    mirror_numpy,
    rotate_about_up,
)
from motiongen.data.dataset import cut_windows
from motiongen.data.features import Normalization, to_channels_first, to_channels_last, to_features
from motiongen.errors import ConfigError
from motiongen.formats import read_motion
from motiongen.skeletons import load_skeleton

SKELETON = load_skeleton("cmu31")


@pytest.fixture(scope="module")
def positions() -> torch.Tensor:
    """``[B, 3, T, V]`` float64: 32-frame windows of a real CMU walk at 30 fps, in metres."""
    path = CMU_DIR / "walking" / "02_01.bvh"
    if not path.is_file():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    motion = resample(read_motion(path)[1:], 30.0)
    windows = cut_windows(motion.positions.astype(np.float64), 32, 8)  # [B, T, V, 3]
    return torch.as_tensor(to_channels_first(windows))


def features_of(positions_first: torch.Tensor) -> torch.Tensor:
    """Features ``[B, 3, T, V]`` of positions ``[B, 3, T, V]``."""
    return to_channels_first(to_features(to_channels_last(positions_first)))


def test_mirror_commutes_with_features(positions):
    mask = torch.arange(positions.shape[0]) % 2 == 0
    torch.testing.assert_close(mirror(features_of(positions), SKELETON, mask),
                               features_of(mirror(positions, SKELETON, mask)), atol=1e-12, rtol=0)


def test_rotation_commutes_with_features(positions):
    angles = torch.linspace(-math.pi, math.pi, positions.shape[0], dtype=torch.float64)
    torch.testing.assert_close(rotate_about_up(features_of(positions), angles),
                               features_of(rotate_about_up(positions, angles)), atol=1e-12, rtol=0)


def test_mirror_swaps_sides_and_negates_x(positions):
    batch = positions.shape[0]
    mirrored = mirror(positions, SKELETON, torch.ones(batch, dtype=torch.bool))
    left, right = SKELETON.index("LeftHand"), SKELETON.index("RightHand")
    torch.testing.assert_close(mirrored[:, 0, :, left], -positions[:, 0, :, right])
    torch.testing.assert_close(mirrored[:, 1:, :, left], positions[:, 1:, :, right])
    torch.testing.assert_close(mirror(mirrored, SKELETON, torch.ones(batch, dtype=torch.bool)), positions)
    untouched = mirror(positions, SKELETON, torch.zeros(batch, dtype=torch.bool))
    assert torch.equal(untouched, positions)
    # numpy helper, channels last, agrees
    np.testing.assert_allclose(mirror_numpy(to_channels_last(positions).numpy(), SKELETON),
                               to_channels_last(mirrored).numpy())


def test_rotation_is_about_the_up_axis(positions):
    quarter = torch.full((positions.shape[0],), math.pi / 2, dtype=torch.float64)
    turned = rotate_about_up(positions, quarter)
    torch.testing.assert_close(turned[:, 1], positions[:, 1])  # heights unchanged
    torch.testing.assert_close(turned[:, 0], positions[:, 2])  # +Z turns towards +X
    torch.testing.assert_close(turned[:, 2], -positions[:, 0])


def test_augment_features_equals_features_of_augmented_positions(positions):
    features = features_of(positions)
    norm = Normalization.from_features_data(to_channels_last(features).numpy())
    normalized = norm.normalize(features, channels_first=True)
    augmented = augment_features(normalized, norm, SKELETON, torch.Generator().manual_seed(7))
    mirror_mask, angles = draw_augmentation(positions.shape[0], torch.Generator().manual_seed(7))
    assert 0 < int(mirror_mask.sum()) < positions.shape[0]  # the seed mirrors some, not all
    expected = norm.normalize(features_of(apply_augmentation(positions, SKELETON, mirror_mask, angles)),
                              channels_first=True)
    torch.testing.assert_close(augmented, expected, atol=1e-9, rtol=0)


def test_augmentation_is_deterministic_per_seed(positions):
    features = features_of(positions).float()
    norm = Normalization.from_features_data(to_channels_last(features).numpy())
    normalized = norm.normalize(features, channels_first=True)
    run = lambda seed: augment_features(normalized, norm, SKELETON, torch.Generator().manual_seed(seed))  # noqa: E731
    first, again, other = run(3), run(3), run(4)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    assert first.dtype == torch.float32 and first.shape == normalized.shape
    # one generator continues: two batches in a row differ, and replaying from the seed repeats them
    generator = torch.Generator().manual_seed(3)
    batch_one = augment_features(normalized, norm, SKELETON, generator)
    batch_two = augment_features(normalized, norm, SKELETON, generator)
    assert torch.equal(batch_one, first) and not torch.equal(batch_two, first)


def test_no_augmentation_is_identity(positions):
    features = features_of(positions)
    norm = Normalization.from_features_data(to_channels_last(features).numpy())
    normalized = norm.normalize(features, channels_first=True)
    same = augment_features(normalized, norm, SKELETON, torch.Generator().manual_seed(0),
                            mirror_prob=0.0, rotate=False)
    torch.testing.assert_close(same, normalized, atol=1e-12, rtol=0)


def test_a_probability_per_sample_mirrors_those_samples_alone():
    generator = torch.Generator().manual_seed(0)
    mask, _ = draw_augmentation(6, generator, torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0]), rotate=False)
    assert mask.tolist() == [True, False, True, False, True, False]
    # the same uniforms are drawn whatever the probabilities: the stream does not shift
    again = torch.Generator().manual_seed(0)
    draw_augmentation(6, again, 0.5, rotate=False)
    assert torch.equal(torch.rand(1, generator=generator), torch.rand(1, generator=again))


def test_bad_inputs():
    generator = torch.Generator().manual_seed(0)
    norm = Normalization(np.zeros((31, 3)), np.ones((31, 3)))
    with pytest.raises(ConfigError, match=r"\[B, 3, T, 31\]"):
        augment_features(torch.zeros(2, 3, 8, 25), norm, SKELETON, generator)
    with pytest.raises(ConfigError, match="mirror_prob"):
        augment_features(torch.zeros(2, 3, 8, 31), norm, SKELETON, generator, mirror_prob=1.5)
    for per_sample in (torch.tensor([0.5, 0.5, 0.5]), torch.tensor([0.5, -0.1])):  # wrong length, out of range
        with pytest.raises(ConfigError, match="mirror_prob"):
            augment_features(torch.zeros(2, 3, 8, 31), norm, SKELETON, generator, mirror_prob=per_sample)
    with pytest.raises(ConfigError, match="25 joints"):
        augment_features(torch.zeros(2, 3, 8, 31), Normalization(np.zeros((25, 3)), np.ones((25, 3))),
                         SKELETON, generator)
