"""Imputation error: how far filled-in coordinates are from the truth, on the hidden entries only.

The HG-VAE paper (Li et al. 2022) reports the mean squared error over the missing coordinates;
the pose literature's MPJPE (mean per-joint position error, the Euclidean distance per joint and
frame) is given beside it, over every (sequence, frame, joint) with at least one hidden coordinate.
"""

from __future__ import annotations

import numpy as np

from motiongen.errors import ConfigError


def imputation_errors(truth, filled, missing) -> dict[str, float]:
    """Errors of ``filled`` against ``truth`` (both ``[N, T, J, 3]`` metres) where ``missing``
    (bool, same shape) is True:

    - ``mse_m2``: mean squared error over the missing coordinates, m²;
    - ``mse_mm2``: the same in mm²;
    - ``mpjpe_mm``: mean Euclidean error, mm, over the (sequence, frame, joint) triples with at
      least one missing coordinate (its observed coordinates count too, so an imputer that moves
      them is charged for it);
    - ``missing_fraction``: missing coordinates / all coordinates.

    ``truth`` must be finite wherever it is evaluated; a non-finite ``filled`` gives non-finite
    errors (a broken imputer shows as nan or inf, not as a number)."""
    truth, filled, missing = np.asarray(truth), np.asarray(filled), np.asarray(missing)
    if missing.dtype != bool:
        raise ConfigError(f"missing must be a bool array (True = missing), got {missing.dtype}")
    if truth.ndim != 4 or truth.shape[-1] != 3 or filled.shape != truth.shape or missing.shape != truth.shape:
        raise ConfigError(f"truth, filled and missing must all be [N, T, J, 3], got {list(truth.shape)}, "
                          f"{list(filled.shape)} and {list(missing.shape)}")
    count = int(missing.sum())
    if count == 0:
        raise ConfigError("nothing is missing, so there is no imputation error to measure")
    touched = missing.any(axis=-1)  # [N, T, J]
    truth_touched = truth[touched].astype(np.float64)  # [K, 3]
    if not np.isfinite(truth_touched).all():
        raise ConfigError("the truth is not finite where the imputation is evaluated")
    difference = filled[touched].astype(np.float64) - truth_touched  # [K, 3]
    squared = np.square(difference[missing[touched]])
    mse_m2 = float(squared.mean())
    return {
        "mse_m2": mse_m2,
        "mse_mm2": mse_m2 * 1e6,
        "mpjpe_mm": float(np.linalg.norm(difference, axis=-1).mean() * 1e3),
        "missing_fraction": count / missing.size,
    }
