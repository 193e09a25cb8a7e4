"""Imputation errors (`motiongen.metrics.imputation`) against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from motiongen.errors import ConfigError
from motiongen.metrics.imputation import imputation_errors


def hand_case():
    """One sequence, two frames, two joints. Hidden: frame 0 joint 0 x (off by 3 cm), frame 1
    joint 1 y and z (off by 3 and 4 cm). Observed entries are off too, at joint 1 frame 1 x, which
    counts in MPJPE only (that triple has hidden coordinates), and at joint 0 frame 1, which counts
    nowhere."""
    truth = np.arange(12, dtype=np.float64).reshape(1, 2, 2, 3) / 10
    filled = truth.copy()
    missing = np.zeros(truth.shape, dtype=bool)
    missing[0, 0, 0, 0] = True
    filled[0, 0, 0, 0] += 0.03
    missing[0, 1, 1, 1:] = True
    filled[0, 1, 1, 1:] += [0.03, -0.04]
    filled[0, 1, 1, 0] += 0.12  # observed but changed: part of that joint's Euclidean error
    filled[0, 1, 0, :] += 1.0  # observed, in a triple with nothing hidden: ignored
    return truth, filled, missing


def test_hand_computed_values():
    truth, filled, missing = hand_case()
    errors = imputation_errors(truth, filled, missing)
    assert set(errors) == {"mse_m2", "mse_mm2", "mpjpe_mm", "missing_fraction"}
    mse = (0.03**2 + 0.03**2 + 0.04**2) / 3
    assert errors["mse_m2"] == pytest.approx(mse, rel=1e-12)
    assert errors["mse_mm2"] == pytest.approx((30**2 + 30**2 + 40**2) / 3, rel=1e-9)
    # triples: frame 0 joint 0 → 30 mm; frame 1 joint 1 → |(120, 30, -40)| = 130 mm
    assert errors["mpjpe_mm"] == pytest.approx((30 + 130) / 2, rel=1e-9)
    assert errors["missing_fraction"] == pytest.approx(3 / 12)
    assert all(isinstance(value, float) for value in errors.values())


def test_perfect_fill_is_zero_and_float32_is_accepted():
    truth = np.random.default_rng(0).normal(size=(3, 10, 4, 3)).astype(np.float32)
    missing = np.random.default_rng(1).random(truth.shape) < 0.3
    errors = imputation_errors(truth, truth.copy(), missing)
    assert errors["mse_m2"] == 0 and errors["mpjpe_mm"] == 0
    assert errors["missing_fraction"] == pytest.approx(missing.mean())


def test_a_broken_imputer_shows_as_nan():
    truth, filled, missing = hand_case()
    filled[0, 0, 0, 0] = np.nan
    errors = imputation_errors(truth, filled, missing)
    assert np.isnan(errors["mse_m2"]) and np.isnan(errors["mpjpe_mm"])


def test_refusals():
    truth, filled, missing = hand_case()
    with pytest.raises(ConfigError, match="nothing is missing"):
        imputation_errors(truth, filled, np.zeros_like(missing))
    with pytest.raises(ConfigError, match="bool"):
        imputation_errors(truth, filled, missing.astype(float))
    with pytest.raises(ConfigError, match=r"\[N, T, J, 3\]"):
        imputation_errors(truth, filled[:, :1], missing)
    truth[0, 1, 1, 0] = np.nan  # in a triple that is evaluated
    with pytest.raises(ConfigError, match="truth is not finite"):
        imputation_errors(truth, filled, missing)
