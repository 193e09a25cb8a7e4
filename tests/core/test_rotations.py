"""Rotation conversions: round trips and agreement between numpy and torch (property tests)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from motiongen.core import rotations as R

finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
quats = arrays(np.float64, (8, 4), elements=finite).filter(lambda q: np.all(np.linalg.norm(q, axis=-1) > 1e-3))


def angle_between(m1, m2):
    """Geodesic angle between rotation matrices [..., 3, 3]; from the chord (‖M1 − M2‖_F = 2√2
    sin(θ/2)), which stays accurate near zero where arccos of the trace does not."""
    chord = np.linalg.norm(m1 - m2, axis=(-2, -1))
    return 2.0 * np.arcsin(np.clip(chord / (2.0 * np.sqrt(2.0)), 0.0, 1.0))


@settings(max_examples=200, deadline=None)
@given(quats)
def test_quaternion_matrix_round_trip(q):
    q = R.quat_normalize(q)
    back = R.matrix_to_quat(R.quat_to_matrix(q))
    assert np.allclose(np.abs((q * back).sum(-1)), 1.0, atol=1e-9)
    assert np.all(back[..., 0] >= 0)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
@settings(max_examples=100, deadline=None)
@given(q=quats)
def test_euler_round_trip_every_order(order, q):
    m = R.quat_to_matrix(R.quat_normalize(q))
    angles = R.matrix_to_euler(m, order)
    assert np.all(np.abs(angles[..., 1]) <= np.pi / 2 + 1e-9)
    assert np.max(angle_between(R.euler_to_matrix(angles, order), m)) < 1e-6
    assert np.max(angle_between(R.quat_to_matrix(R.euler_to_quat(angles, order)), m)) < 1e-6


@pytest.mark.parametrize("order", R.EULER_ORDERS)
def test_euler_is_intrinsic_in_listed_order(order):
    """R = R_first(a0) @ R_second(a1) @ R_third(a2): the BVH channel convention."""
    angles = np.array([0.3, -0.7, 1.1])
    expected = np.eye(3)
    for a, axis in zip(angles, order):
        c, s = np.cos(a), np.sin(a)
        basic = {"X": [[1, 0, 0], [0, c, -s], [0, s, c]], "Y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
                 "Z": [[c, -s, 0], [s, c, 0], [0, 0, 1]]}[axis]
        expected = expected @ np.asarray(basic)
    assert np.allclose(R.euler_to_matrix(angles, order), expected, atol=1e-12)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
def test_euler_gimbal_lock(order):
    angles = np.array([[0.4, np.pi / 2, -0.2], [-1.0, -np.pi / 2, 0.5]])
    m = R.euler_to_matrix(angles, order)
    assert np.max(angle_between(R.euler_to_matrix(R.matrix_to_euler(m, order), order), m)) < 1e-6


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, (8, 3), elements=st.floats(-3.0, 3.0)))
def test_axis_angle_round_trip(v):
    m = R.axis_angle_to_matrix(v)
    back = R.axis_angle_to_matrix(R.matrix_to_axis_angle(m))
    assert np.max(angle_between(back, m)) < 1e-6


def test_axis_angle_near_zero_is_smooth():
    v = np.array([[1e-9, 0, 0], [0, 0, 0], [0, 1e-5, 0]])
    q = R.axis_angle_to_quat(v)
    assert np.allclose(q[:, 0], 1.0) and np.all(np.isfinite(q))
    assert np.allclose(R.quat_to_axis_angle(q), v, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(quats)
def test_6d_round_trip(q):
    m = R.quat_to_matrix(R.quat_normalize(q))
    assert np.allclose(R.sixd_to_matrix(R.matrix_to_6d(m)), m, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(quats, arrays(np.float64, (8, 3), elements=finite))
def test_quat_apply_matches_matrix(q, v):
    q = R.quat_normalize(q)
    assert np.allclose(R.quat_apply(q, v), np.einsum("nij,nj->ni", R.quat_to_matrix(q), v), atol=1e-9)


def test_quat_multiply_composes_like_matrices():
    rng = np.random.default_rng(1)
    a, b = R.quat_normalize(rng.normal(size=(2, 50, 4)))
    assert np.allclose(R.quat_to_matrix(R.quat_multiply(a, b)), R.quat_to_matrix(a) @ R.quat_to_matrix(b))


def test_quat_between_including_opposite():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(100, 3))
    for b in (rng.normal(size=(100, 3)), -a):
        q = R.quat_between(a, b)
        rotated = R.quat_apply(q, a / np.linalg.norm(a, axis=-1, keepdims=True))
        assert np.allclose(rotated, b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-9)


def test_slerp_endpoints_and_midpoint():
    a = R.axis_angle_to_quat(np.array([0.0, 0.0, 0.0]))
    b = R.axis_angle_to_quat(np.array([0.0, 1.0, 0.0]))
    assert np.allclose(R.quat_slerp(a, b, np.array(0.0)), a)
    assert np.allclose(R.quat_slerp(a, b, np.array(1.0)), b)
    assert np.allclose(R.quat_to_axis_angle(R.quat_slerp(a, b, np.array(0.5))), [0, 0.5, 0])
    # the short way round, even when b is given with the other sign
    assert np.allclose(R.quat_to_axis_angle(R.quat_slerp(a, -b, np.array(0.5))), [0, 0.5, 0])


def test_continuity_removes_sign_flips():
    rng = np.random.default_rng(3)
    steps = R.axis_angle_to_quat(rng.normal(scale=0.05, size=(200, 3)))
    path = [np.array([1.0, 0, 0, 0])]
    for step in steps[1:]:
        path.append(R.quat_multiply(step, path[-1]))
    path = np.stack(path)
    flipped = path * rng.choice([-1.0, 1.0], size=(200, 1))
    fixed = R.quat_continuity(flipped)
    assert np.all((fixed[1:] * fixed[:-1]).sum(-1) > 0)
    assert np.allclose(np.abs((fixed * path).sum(-1)), 1.0)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
def test_torch_matches_numpy(order):
    rng = np.random.default_rng(4)
    q = R.quat_normalize(rng.normal(size=(64, 4)))
    t = torch.tensor(q)
    assert np.allclose(R.quat_to_matrix(t).numpy(), R.quat_to_matrix(q))
    assert np.allclose(R.matrix_to_quat(torch.tensor(R.quat_to_matrix(q))).numpy(), R.matrix_to_quat(R.quat_to_matrix(q)))
    assert np.allclose(R.matrix_to_euler(R.quat_to_matrix(t), order).numpy(), R.matrix_to_euler(R.quat_to_matrix(q), order))
    assert np.allclose(R.euler_to_quat(torch.tensor(R.quat_to_euler(q, order)), order).numpy(),
                       R.euler_to_quat(R.quat_to_euler(q, order), order))
    assert np.allclose(R.sixd_to_matrix(R.matrix_to_6d(R.quat_to_matrix(t))).numpy(), R.quat_to_matrix(q))
    assert np.allclose(R.quat_to_axis_angle(t).numpy(), R.quat_to_axis_angle(q))
    assert np.allclose(R.quat_continuity(t).numpy(), R.quat_continuity(q))


def test_torch_keeps_gradients_and_dtype():
    v = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float32, requires_grad=True)
    m = R.axis_angle_to_matrix(v)
    assert m.dtype == torch.float32
    m.sum().backward()
    assert v.grad is not None and torch.all(torch.isfinite(v.grad))


def test_axis_change_is_a_proper_rotation():
    for up in ("+x", "-x", "+y", "-y", "+z", "-z"):
        for forward in ("+x", "-x", "+y", "-y", "+z", "-z"):
            if up[1] == forward[1]:
                with pytest.raises(ValueError):
                    R.axis_change(up, forward)
                continue
            c = R.axis_change(up, forward)
            assert np.isclose(np.linalg.det(c), 1.0)
            axis = {"x": 0, "y": 1, "z": 2}
            u = np.zeros(3)
            u[axis[up[1]]] = 1.0 if up[0] == "+" else -1.0
            f = np.zeros(3)
            f[axis[forward[1]]] = 1.0 if forward[0] == "+" else -1.0
            assert np.allclose(c @ u, [0, 1, 0]) and np.allclose(c @ f, [0, 0, 1])
