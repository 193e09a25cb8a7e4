"""Feature-space metrics of action-conditioned motion generation.

Every metric takes recogniser features ``[N, D]`` (an action classifier's penultimate layer) and,
where it needs them, integer action labels ``[N]``; the motion MMDs take positions ``[N, T, J, 3]``.

- FID: the Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017,
  "GANs trained by a two time-scale update rule converge to a local Nash equilibrium"), computed on
  action-recogniser features as in Action2Motion (Guo et al. 2020), ACTOR (Petrovich et al. 2021)
  and MDM (Tevet et al. 2023): ``||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2})``.
- Accuracy: the recogniser's top-1 accuracy on generated motion against the requested actions.
- Diversity and multimodality: Action2Motion (Guo et al. 2020, "Action2Motion: conditioned
  generation of 3D human motions"): mean distance between randomly paired samples, over the whole
  set and within each action.
- MMD_a and MMD_s: Wang et al. (AAAI 2020, "Learning diverse stochastic human-action generators by
  learning smooth latent transitions"), as used by SA-GCN (Yu et al. 2020) and Kinetic-GAN
  (Degardin et al. 2022): the unbiased squared maximum mean discrepancy (Gretton et al. 2012,
  eq. 3) with a Gaussian kernel, between the real and generated poses at each frame position
  (averaged over frames) and between whole sequences.
- `mean_interval`: the mean over repeated evaluations and the half width of its 95 % interval,
  ``1.96 · std / √n`` as Action2Motion and MDM report it.
"""

from __future__ import annotations

from statistics import NormalDist

import math

import numpy as np

from motiongen.errors import ConfigError

__all__ = [
    "gaussian_statistics", "frechet_distance", "fid", "accuracy", "diversity", "multimodality",
    "mmd", "median_bandwidth", "mmd_action", "mmd_sequence", "mean_interval",
]

# Largest kernel block (frames × samples²) `mmd_action` holds at once: 2^24 float64 = 128 MiB,
# several of which are alive together.
_MMD_BLOCK_ELEMENTS = 1 << 24


# --- input checks ---------------------------------------------------------------------------

def _features(values, name: str, minimum: int = 2) -> np.ndarray:
    """``values`` as float64 ``[N, D]`` with N ≥ ``minimum`` and finite entries."""
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ConfigError(f"{name} must be a [N, D] feature array, got shape {list(array.shape)}")
    if array.shape[0] < minimum:
        raise ConfigError(f"{name} needs at least {minimum} samples, got {array.shape[0]}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} has non-finite values")
    return array


def _motions(values, name: str) -> np.ndarray:
    """``values`` as float64 ``[N, T, J, 3]`` with N ≥ 2 and finite entries."""
    array = np.asarray(values)
    if array.ndim != 4 or array.shape[-1] != 3 or 0 in array.shape[1:]:
        raise ConfigError(f"{name} must be [N, T, J, 3] positions, got shape {list(array.shape)}")
    if array.shape[0] < 2:
        raise ConfigError(f"{name} needs at least 2 sequences, got {array.shape[0]}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} has non-finite values")
    return array


def _generator(rng) -> np.random.Generator:
    if not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise ConfigError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")
    return np.random.default_rng(rng)


def _positive_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- FID ------------------------------------------------------------------------------------

def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` (ddof = 1, float64) of features ``[N, D]``, N ≥ 2."""
    features = _features(features, "features")
    mean = features.mean(axis=0)
    centred = features - mean
    covariance = centred.T @ centred / (features.shape[0] - 1)
    return mean, covariance


def frechet_distance(mean1, cov1, mean2, cov2) -> float:
    """Fréchet (2-Wasserstein²) distance between N(μ1, Σ1) and N(μ2, Σ2):
    ``||μ1 − μ2||² + Tr(Σ1) + Tr(Σ2) − 2 Tr((Σ1 Σ2)^{1/2})``.

    Σ1 Σ2 is not symmetric, but with S1 the symmetric PSD square root of Σ1 it is similar to the
    symmetric PSD S1 Σ2 S1, so ``Tr((Σ1 Σ2)^{1/2})`` is the sum of the square roots of that
    matrix's eigenvalues: two ``eigh`` calls, no complex parts to discard (scipy's ``sqrtm`` path
    in the reference FID code). Eigenvalues are clipped at 0 against rounding, and so is the
    result."""
    mean1, mean2 = np.asarray(mean1, dtype=np.float64), np.asarray(mean2, dtype=np.float64)
    cov1, cov2 = np.asarray(cov1, dtype=np.float64), np.asarray(cov2, dtype=np.float64)
    dim = mean1.shape[0] if mean1.ndim == 1 else -1
    if dim < 1 or mean2.shape != (dim,) or cov1.shape != (dim, dim) or cov2.shape != (dim, dim):
        raise ConfigError(f"need means [D] and covariances [D, D] of one D, got {list(mean1.shape)}, "
                          f"{list(cov1.shape)}, {list(mean2.shape)} and {list(cov2.shape)}")
    if not all(np.isfinite(a).all() for a in (mean1, mean2, cov1, cov2)):
        raise ConfigError("the Gaussian statistics have non-finite values")
    cov1, cov2 = (cov1 + cov1.T) / 2, (cov2 + cov2.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(cov1)
    sqrt_cov1 = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    product = sqrt_cov1 @ cov2 @ sqrt_cov1
    product_eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(product_eigenvalues, 0.0, None)).sum()
    distance = np.sum(np.square(mean1 - mean2)) + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def fid(features_a, features_b) -> float:
    """FID between two feature sets ``[N, D]`` and ``[M, D]`` (N, M ≥ 2)."""
    features_a, features_b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if features_a.shape[1] != features_b.shape[1]:
        raise ConfigError(f"feature sizes differ: {features_a.shape[1]} and {features_b.shape[1]}")
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


# --- accuracy -------------------------------------------------------------------------------

def accuracy(logits_or_predictions, labels) -> float:
    """Top-1 accuracy: ``[N, C]`` logits (their argmax) or ``[N]`` predicted classes against
    ``[N]`` integer labels."""
    scores, labels = np.asarray(logits_or_predictions), np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not _integral(labels):
        raise ConfigError(f"labels must be [N] integers with N ≥ 1, got shape {list(labels.shape)}, "
                          f"dtype {labels.dtype}")
    if scores.ndim == 2:
        if scores.shape[1] == 0 or not np.isfinite(scores).all():
            raise ConfigError("logits must be [N, C] finite values with C ≥ 1")
        predictions = scores.argmax(axis=1)
    elif scores.ndim == 1:
        if not _integral(scores):
            raise ConfigError(f"1-D predictions must be integer classes, got dtype {scores.dtype}")
        predictions = scores
    else:
        raise ConfigError(f"need [N, C] logits or [N] predictions, got shape {list(scores.shape)}")
    if predictions.shape[0] != labels.shape[0]:
        raise ConfigError(f"{predictions.shape[0]} predictions for {labels.shape[0]} labels")
    return float(np.mean(predictions.astype(np.int64) == labels.astype(np.int64)))


def _integral(values: np.ndarray) -> bool:
    if np.issubdtype(values.dtype, np.integer):
        return True
    return (np.issubdtype(values.dtype, np.floating) and bool(np.isfinite(values).all())
            and bool(np.all(values == np.round(values))))


# --- diversity and multimodality (Action2Motion) --------------------------------------------

def diversity(features, pairs: int = 200, *, rng) -> float:
    """Action2Motion's diversity: the mean Euclidean distance between ``features[a_i]`` and
    ``features[b_i]`` for two index sets a, b of size ``pairs`` drawn uniformly with replacement
    (so a pair may be one sample twice, as in the reference code). ``rng``: a numpy Generator (or
    an int seed); results are reproducible only through it."""
    features = _features(features, "features")
    pairs, rng = _positive_count(pairs, "pairs"), _generator(rng)
    first, second = rng.integers(0, features.shape[0], size=(2, pairs))
    return float(np.linalg.norm(features[first] - features[second], axis=1).mean())


def multimodality(features, labels, pairs: int = 20, *, rng) -> float:
    """Action2Motion's multimodality: for each action present, the mean distance over ``pairs``
    pairs drawn uniformly with replacement among that action's samples; averaged over the actions
    with at least 2 samples (an action seen once has no pair of distinct samples to compare).
    Actions are visited in increasing label order, so a seeded ``rng`` gives one result."""
    features = _features(features, "features")
    labels = np.asarray(labels)
    if labels.shape != (features.shape[0],) or not _integral(labels):
        raise ConfigError(f"labels must be [N] integers matching {features.shape[0]} features, "
                          f"got shape {list(labels.shape)}, dtype {labels.dtype}")
    pairs, rng = _positive_count(pairs, "pairs"), _generator(rng)
    actions, counts = np.unique(labels, return_counts=True)
    per_action = []
    for action in actions[counts >= 2]:  # a loop over actions (tens), not samples
        members = np.flatnonzero(labels == action)
        first, second = members[rng.integers(0, members.size, size=(2, pairs))]
        per_action.append(np.linalg.norm(features[first] - features[second], axis=1).mean())
    if not per_action:
        raise ConfigError("multimodality needs an action with at least 2 samples; every action has 1")
    return float(np.mean(per_action))


# --- MMD (Wang et al. 2020) -----------------------------------------------------------------

def _batched_mmd(x: np.ndarray, y: np.ndarray, bandwidth: float | None) -> np.ndarray:
    """Unbiased squared MMD for each of B problems: ``x`` ``[B, N, F]``, ``y`` ``[B, M, F]`` → ``[B]``."""
    count_x, count_y = x.shape[1], y.shape[1]
    pooled = np.concatenate([x, y], axis=1)  # [B, P, F]
    squared_norms = np.einsum("bpf,bpf->bp", pooled, pooled)
    gram = np.matmul(pooled, pooled.transpose(0, 2, 1))  # BLAS; einsum here runs ~10× slower
    # ||a||² + ||b||² − 2ab: no [B, P, P, F] difference tensor; rounding can make it negative.
    distances = squared_norms[:, :, None] + squared_norms[:, None, :] - 2.0 * gram
    del gram
    np.clip(distances, 0.0, None, out=distances)
    diagonal = np.arange(pooled.shape[1])
    distances[:, diagonal, diagonal] = 0.0
    if bandwidth is None:
        upper = np.triu_indices(pooled.shape[1], k=1)
        two_sigma_squared = np.median(distances[:, upper[0], upper[1]], axis=1)  # 2σ² = median
        # With more than half the pairs coincident the median is 0: fall back to the mean squared
        # distance, which is 0 only when every sample is equal (then MMD is 0 for any width).
        degenerate = two_sigma_squared <= 0
        if degenerate.any():
            two_sigma_squared[degenerate] = distances[degenerate].mean(axis=(1, 2))
        two_sigma_squared = np.where(two_sigma_squared > 0, two_sigma_squared, 1.0)
    else:
        two_sigma_squared = np.full(pooled.shape[0], 2.0 * bandwidth ** 2)
    kernel = np.exp(-distances / two_sigma_squared[:, None, None], out=distances)
    kernel[:, diagonal, diagonal] = 0.0  # the unbiased estimate leaves out i = j
    within_x = kernel[:, :count_x, :count_x].sum(axis=(1, 2)) / (count_x * (count_x - 1))
    within_y = kernel[:, count_x:, count_x:].sum(axis=(1, 2)) / (count_y * (count_y - 1))
    across = kernel[:, :count_x, count_x:].sum(axis=(1, 2)) / (count_x * count_y)
    return within_x + within_y - 2.0 * across


def _bandwidth(bandwidth) -> float | None:
    if bandwidth is None:
        return None
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float, np.floating, np.integer)) \
            or not np.isfinite(bandwidth) or bandwidth <= 0:
        raise ConfigError(f"bandwidth must be a positive number (σ, in feature units), got {bandwidth!r}")
    return float(bandwidth)


def median_bandwidth(samples) -> float:
    """σ of the median heuristic for ``samples`` ``[N, D]`` alone (``2σ² =`` the median squared
    distance of distinct pairs). Fixing σ from one reference set (the real test clips) puts the MMD
    of different sets against it on one scale, which a σ per comparison would not."""
    samples = _features(samples, "samples")
    squared = np.einsum("nd,nd->n", samples, samples)
    distances = np.clip(squared[:, None] + squared[None, :] - 2.0 * samples @ samples.T, 0.0, None)
    upper = np.triu_indices(len(samples), k=1)
    median = float(np.median(distances[upper]))
    if median <= 0:
        median = float(distances[upper].mean())
    return math.sqrt(median / 2.0) if median > 0 else 1.0


def mmd(x, y, bandwidth: float | None = None) -> float:
    """Unbiased squared MMD between samples ``x`` ``[N, D]`` and ``y`` ``[M, D]`` (N, M ≥ 2),
    kernel ``k(a, b) = exp(−||a − b||² / (2σ²))`` with σ = ``bandwidth``.

    ``bandwidth=None`` is the median heuristic: ``σ² = median / 2``, the median being over the
    squared distances of all distinct pairs of the pooled N + M samples (so ``2σ²`` equals that
    median). The unbiased estimate can be slightly negative when the two sets match.
    Memory: the pooled ``[N + M, N + M]`` distance matrix, a few copies of it."""
    x, y = _features(x, "x"), _features(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ConfigError(f"feature sizes differ: {x.shape[1]} and {y.shape[1]}")
    return float(_batched_mmd(x[None], y[None], _bandwidth(bandwidth))[0])


def mmd_action(real, generated, *, bandwidth: float | None = None) -> float:
    """MMD_a (Wang et al. 2020): the poses at each frame position t are one sample set, ``real[:, t]``
    against ``generated[:, t]`` (each pose flattened to J·3 values); the squared MMD of `mmd` per t
    (median-heuristic σ per t unless ``bandwidth`` is given), averaged over t.
    ``real`` ``[N, T, J, 3]``, ``generated`` ``[M, T, J, 3]`` with the same T and J.

    Frames are batched (one einsum per block of frames), the block sized to keep about
    ``_MMD_BLOCK_ELEMENTS`` kernel entries alive."""
    real, generated = _motions(real, "real"), _motions(generated, "generated")
    if real.shape[1:] != generated.shape[1:]:
        raise ConfigError(f"real and generated differ in frames/joints: {list(real.shape[1:])} "
                          f"and {list(generated.shape[1:])}")
    bandwidth = _bandwidth(bandwidth)
    frame_count = real.shape[1]
    per_frame_x = real.reshape(real.shape[0], frame_count, -1).transpose(1, 0, 2)  # [T, N, J·3]
    per_frame_y = generated.reshape(generated.shape[0], frame_count, -1).transpose(1, 0, 2)
    pooled = real.shape[0] + generated.shape[0]
    block = max(1, _MMD_BLOCK_ELEMENTS // (pooled * pooled))
    values = [
        _batched_mmd(per_frame_x[start:start + block], per_frame_y[start:start + block], bandwidth)
        for start in range(0, frame_count, block)
    ]
    return float(np.concatenate(values).mean())


def mmd_sequence(real, generated, *, bandwidth: float | None = None) -> float:
    """MMD_s (Wang et al. 2020): `mmd` with each whole sequence ``[T, J, 3]`` flattened to one sample.
    ``real`` ``[N, T, J, 3]``, ``generated`` ``[M, T, J, 3]`` with the same T and J."""
    real, generated = _motions(real, "real"), _motions(generated, "generated")
    if real.shape[1:] != generated.shape[1:]:
        raise ConfigError(f"real and generated differ in frames/joints: {list(real.shape[1:])} "
                          f"and {list(generated.shape[1:])}")
    return mmd(real.reshape(real.shape[0], -1), generated.reshape(generated.shape[0], -1), bandwidth)


# --- repeats --------------------------------------------------------------------------------

def mean_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean of repeated evaluations ``[n]`` and the half width ``z · std / √n`` of its confidence
    interval, with ``np.std`` (ddof = 0) as Action2Motion and MDM compute it. For the default
    0.95, z is their literal 1.96 so numbers match the published tables; other levels use the
    normal quantile. n = 1 gives half width 0."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ConfigError(f"values must be a non-empty 1-D array, got shape {list(values.shape)}")
    if not np.isfinite(values).all():
        raise ConfigError("values has non-finite entries")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence!r}")
    z = 1.96 if confidence == 0.95 else NormalDist().inv_cdf((1.0 + confidence) / 2.0)
    return float(values.mean()), float(z * values.std() / np.sqrt(values.size))
