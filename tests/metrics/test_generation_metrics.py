"""Generation metrics (`motiongen.metrics.generation`) against closed forms and direct loops."""

from __future__ import annotations

import numpy as np
import pytest

from motiongen.errors import ConfigError
from motiongen.metrics import generation
from motiongen.metrics.generation import (
    accuracy, diversity, fid, frechet_distance, gaussian_statistics, mean_interval, mmd, mmd_action,
    mmd_sequence, multimodality,
)

MEAN_A = np.array([1.0, -1.0, 0.5, 0.0, 2.0])
MEAN_B = np.zeros(5)
VARIANCE_A = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
VARIANCE_B = np.array([4.0, 1.0, 0.5, 2.0, 1.0])
# Fréchet distance of two Gaussians with commuting covariances: ||Δμ||² + Σ(√a − √b)².
CLOSED_FORM = np.sum((MEAN_A - MEAN_B) ** 2) + np.sum((np.sqrt(VARIANCE_A) - np.sqrt(VARIANCE_B)) ** 2)


def random_rotation(dim: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


# --- FID ------------------------------------------------------------------------------------

def test_frechet_distance_matches_the_closed_form_for_diagonal_and_rotated_covariances():
    exact = frechet_distance(MEAN_A, np.diag(VARIANCE_A), MEAN_B, np.diag(VARIANCE_B))
    assert exact == pytest.approx(CLOSED_FORM, rel=1e-10)
    rotation = random_rotation(5, seed=0)  # a shared rotation keeps Σ1 and Σ2 commuting
    rotated = frechet_distance(rotation @ MEAN_A, rotation @ np.diag(VARIANCE_A) @ rotation.T,
                               rotation @ MEAN_B, rotation @ np.diag(VARIANCE_B) @ rotation.T)
    assert rotated == pytest.approx(CLOSED_FORM, rel=1e-10)


def test_frechet_distance_matches_the_eigenvalues_of_the_covariance_product():
    rng = np.random.default_rng(1)
    factor_1, factor_2 = rng.normal(size=(2, 6, 6))
    cov_1, cov_2 = factor_1 @ factor_1.T + 0.1 * np.eye(6), factor_2 @ factor_2.T + 0.1 * np.eye(6)
    # Σ1Σ2 is not symmetric, but its eigenvalues are real and positive.
    trace_sqrt = np.sqrt(np.linalg.eigvals(cov_1 @ cov_2).real).sum()
    expected = np.trace(cov_1) + np.trace(cov_2) - 2 * trace_sqrt + 4.0  # means 2 apart along one axis
    mean_2 = np.zeros(6)
    mean_2[3] = 2.0
    assert frechet_distance(np.zeros(6), cov_1, mean_2, cov_2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_samples_is_within_one_percent_of_the_closed_form():
    rng = np.random.default_rng(2)
    samples_a = MEAN_A + rng.normal(size=(100_000, 5)) * np.sqrt(VARIANCE_A)
    samples_b = MEAN_B + rng.normal(size=(100_000, 5)) * np.sqrt(VARIANCE_B)
    assert fid(samples_a, samples_b) == pytest.approx(CLOSED_FORM, rel=0.01)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16)) + 3.0
    scale = np.trace(gaussian_statistics(features)[1])
    assert fid(features, features) <= 1e-6 * scale
    other = rng.normal(size=(400, 16)) * 2.0
    assert fid(features, other) == pytest.approx(fid(other, features), rel=1e-9)


def test_fid_grows_with_the_noise_added_to_the_features():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 8))
    noise = rng.normal(size=features.shape)
    distances = [fid(features, features + level * noise) for level in (0.05, 0.1, 0.2, 0.4, 0.8)]
    assert np.all(np.diff(distances) > 0), distances
    assert distances[0] > 0


def test_gaussian_statistics_match_numpy():
    features = np.random.default_rng(5).normal(size=(50, 3)).astype(np.float32)
    mean, covariance = gaussian_statistics(features)
    assert mean.dtype == np.float64 and covariance.shape == (3, 3)
    np.testing.assert_allclose(mean, features.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(covariance, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-10)
    assert gaussian_statistics(features[:, :1])[1].shape == (1, 1)


# --- accuracy, diversity, multimodality -----------------------------------------------------

def test_accuracy_from_logits_and_from_predictions():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])
    labels = np.array([0, 1, 1, 2])
    assert accuracy(logits, labels) == pytest.approx(2 / 4)
    assert accuracy(np.array([0, 1, 2, 0]), labels) == pytest.approx(2 / 4)
    assert accuracy(np.array([0.0, 1.0, 1.0, 2.0]), labels) == 1.0  # integral floats are classes
    with pytest.raises(ConfigError, match="integer classes"):
        accuracy(np.array([0.5, 1.0, 1.0, 2.0]), labels)
    with pytest.raises(ConfigError, match="3 predictions for 4 labels"):
        accuracy(logits[:3], labels)


def test_diversity_is_zero_for_identical_features_and_scales_linearly():
    assert diversity(np.ones((30, 4)), rng=np.random.default_rng(0)) == 0.0
    features = np.random.default_rng(6).normal(size=(100, 8))
    single = diversity(features, rng=np.random.default_rng(7))
    assert single > 0
    assert diversity(2 * features, rng=np.random.default_rng(7)) == pytest.approx(2 * single, rel=1e-12)
    assert diversity(features, rng=7) == single  # an int seed is the same generator


def test_diversity_is_the_mean_distance_of_the_drawn_pairs():
    features = np.random.default_rng(8).normal(size=(20, 3))
    first, second = np.random.default_rng(9).integers(0, 20, size=(2, 50))
    expected = np.mean([np.linalg.norm(features[a] - features[b]) for a, b in zip(first, second)])
    assert diversity(features, pairs=50, rng=np.random.default_rng(9)) == pytest.approx(expected, rel=1e-12)


def test_multimodality_is_small_within_well_separated_actions():
    rng = np.random.default_rng(10)
    labels = np.repeat(np.arange(4), 25)
    features = 10.0 * np.eye(4, 6)[labels] + 0.1 * rng.normal(size=(100, 6))
    within = multimodality(features, labels, rng=np.random.default_rng(11))
    across = diversity(features, rng=np.random.default_rng(11))
    assert 0 < within < 0.1 * across


def test_multimodality_skips_actions_seen_once():
    rng = np.random.default_rng(12)
    labels = np.repeat(np.arange(3), 10)
    features = rng.normal(size=(30, 5))
    plain = multimodality(features, labels, rng=np.random.default_rng(13))
    with_singleton = multimodality(np.vstack([features, np.full((1, 5), 100.0)]), np.append(labels, 7),
                                   rng=np.random.default_rng(13))
    assert with_singleton == plain
    with pytest.raises(ConfigError, match="at least 2 samples"):
        multimodality(features[:3], np.arange(3), rng=0)


# --- MMD ------------------------------------------------------------------------------------

def reference_mmd(x: np.ndarray, y: np.ndarray, sigma: float | None = None) -> float:
    """Unbiased squared MMD by explicit loops (Gretton et al. 2012, eq. 3)."""
    pooled = np.vstack([x, y])
    if sigma is None:
        pair_distances = [np.sum((pooled[i] - pooled[j]) ** 2)
                          for i in range(len(pooled)) for j in range(i + 1, len(pooled))]
        sigma = np.sqrt(np.median(pair_distances) / 2)

    def kernel(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))

    n, m = len(x), len(y)
    xx = sum(kernel(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(kernel(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_matches_a_loop_reference():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(5, 3)), rng.normal(loc=0.5, size=(7, 3))
    assert mmd(x, y) == pytest.approx(reference_mmd(x, y), rel=1e-10)
    assert mmd(x, y, bandwidth=0.8) == pytest.approx(reference_mmd(x, y, 0.8), rel=1e-10)


def test_mmd_is_near_zero_for_one_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(15)
    same = mmd(rng.normal(size=(300, 4)), rng.normal(size=(300, 4)))
    shifted = mmd(rng.normal(size=(300, 4)), rng.normal(loc=1.0, size=(300, 4)))
    assert abs(same) < 0.01
    assert shifted > 0.1 and shifted > 20 * abs(same)
    assert mmd(np.ones((4, 2)), np.ones((5, 2))) == 0.0  # all samples equal: no bandwidth, no NaN


def test_mmd_action_is_the_mean_of_per_frame_mmd(monkeypatch):
    rng = np.random.default_rng(16)
    real, generated = rng.normal(size=(6, 7, 4, 3)), rng.normal(loc=0.3, size=(9, 7, 4, 3))
    expected = np.mean([mmd(real[:, t].reshape(6, -1), generated[:, t].reshape(9, -1)) for t in range(7)])
    assert mmd_action(real, generated) == pytest.approx(expected, rel=1e-10)
    # Blocks of frames (3 + 3 + 1 here, 15 pooled samples) give the same numbers as one batch.
    monkeypatch.setattr(generation, "_MMD_BLOCK_ELEMENTS", 3 * 15 * 15)
    assert mmd_action(real, generated) == pytest.approx(expected, rel=1e-10)
    fixed = np.mean([mmd(real[:, t].reshape(6, -1), generated[:, t].reshape(9, -1), bandwidth=2.0)
                     for t in range(7)])
    assert mmd_action(real, generated, bandwidth=2.0) == pytest.approx(fixed, rel=1e-10)


def test_mmd_sequence_is_mmd_of_flattened_sequences():
    rng = np.random.default_rng(17)
    real, generated = rng.normal(size=(5, 4, 3, 3)), rng.normal(size=(6, 4, 3, 3))
    assert mmd_sequence(real, generated) == pytest.approx(mmd(real.reshape(5, -1), generated.reshape(6, -1)),
                                                          rel=1e-12)


# --- repeats and refusals -------------------------------------------------------------------

def test_mean_interval_by_hand():
    mean, half_width = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert half_width == pytest.approx(1.96 * np.sqrt(1.25) / 2, rel=1e-12)  # population std √1.25
    assert mean_interval([3.0]) == (3.0, 0.0)
    assert mean_interval([1.0, 2.0, 3.0, 4.0], confidence=0.99)[1] == pytest.approx(
        2.5758293 * np.sqrt(1.25) / 2, rel=1e-6)


def test_bad_inputs_raise_config_error():
    features = np.random.default_rng(18).normal(size=(10, 3))
    with pytest.raises(ConfigError, match="at least 2 samples"):
        gaussian_statistics(features[:1])
    with pytest.raises(ConfigError, match=r"\[N, D\]"):
        gaussian_statistics(features[0])
    with pytest.raises(ConfigError, match="feature sizes differ"):
        fid(features, features[:, :2])
    bad = features.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ConfigError, match="non-finite"):
        fid(features, bad)
    with pytest.raises(ConfigError, match=r"means \[D\]"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ConfigError, match="rng"):
        diversity(features, rng=None)
    with pytest.raises(ConfigError, match="pairs"):
        diversity(features, pairs=0, rng=0)
    with pytest.raises(ConfigError, match="at least 2 samples"):
        mmd(features[:1], features)
    with pytest.raises(ConfigError, match="bandwidth"):
        mmd(features, features, bandwidth=0.0)
    with pytest.raises(ConfigError, match=r"\[N, T, J, 3\]"):
        mmd_action(np.zeros((4, 5, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ConfigError, match="differ in frames"):
        mmd_sequence(np.zeros((4, 5, 2, 3)), np.zeros((4, 6, 2, 3)))
    with pytest.raises(ConfigError, match="non-empty"):
        mean_interval([])
