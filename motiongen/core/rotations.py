"""Batched rotation conversions for numpy arrays and torch tensors.

Glossary (every function here keeps these conventions):
- quaternion: ``[..., 4]`` as ``(w, x, y, z)``, unit length, Hamilton product, active rotation of
  column vectors: ``v' = q v q*``.
- matrix: ``[..., 3, 3]`` rotation matrices acting on column vectors (``v' = R @ v``).
- axis-angle: ``[..., 3]`` rotation vector = unit axis × angle in radians (the exponential map).
- Euler: ``[..., 3]`` radians, *intrinsic* rotations about the axes in the listed order, so
  ``order="ZXY"`` means ``R = Rz(a0) @ Rx(a1) @ Ry(a2)`` — exactly how BVH channel lists read.
- 6D: ``[..., 6]`` the first two columns of the matrix, concatenated (Zhou et al., CVPR 2019).

Every function accepts any leading dimensions and returns the same array type it was given
(numpy in, numpy out; torch in, torch out on the same device and dtype). torch is never imported
here: a tensor is recognised by its type, so numpy-only users do not pay torch's import time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


# --- backend shim ---------------------------------------------------------------------------

def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


class _Numpy:
    stack = staticmethod(np.stack)
    concatenate = staticmethod(np.concatenate)
    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    atan2 = staticmethod(np.arctan2)
    where = staticmethod(np.where)
    abs = staticmethod(np.abs)
    argmax = staticmethod(np.argmax)

    @staticmethod
    def clip(x, lo, hi):
        return np.clip(x, lo, hi)

    @staticmethod
    def norm(x, keepdims=True):
        return np.linalg.norm(x, axis=-1, keepdims=keepdims)

    @staticmethod
    def cross(a, b):
        return np.cross(a, b)

    @staticmethod
    def eye_like(x):
        return np.broadcast_to(np.eye(3, dtype=x.dtype), x.shape[:-1] + (3, 3)).copy()

    @staticmethod
    def take_along_last(x, index):
        return np.take_along_axis(x, index[..., None], axis=-1)[..., 0]

    @staticmethod
    def asfloat(x):
        x = np.asarray(x)
        return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


class _Torch:
    def __init__(self):
        import torch

        self.torch = torch
        self.stack = torch.stack
        self.sqrt = torch.sqrt
        self.sin = torch.sin
        self.cos = torch.cos
        self.atan2 = torch.atan2
        self.where = torch.where
        self.abs = torch.abs

    def concatenate(self, xs, axis=-1):
        return self.torch.cat(xs, dim=axis)

    def argmax(self, x, axis=-1):
        return self.torch.argmax(x, dim=axis)

    def clip(self, x, lo, hi):
        return self.torch.clamp(x, lo, hi)

    def norm(self, x, keepdims=True):
        return self.torch.linalg.vector_norm(x, dim=-1, keepdim=keepdims)

    def cross(self, a, b):
        a, b = self.torch.broadcast_tensors(a, b)
        return self.torch.linalg.cross(a, b, dim=-1)

    def eye_like(self, x):
        eye = self.torch.eye(3, dtype=x.dtype, device=x.device)
        return eye.expand(x.shape[:-1] + (3, 3)).clone()

    def take_along_last(self, x, index):
        return self.torch.gather(x, -1, index[..., None])[..., 0]

    @staticmethod
    def asfloat(x):
        return x if x.is_floating_point() else x.double()


_TORCH_OPS: _Torch | None = None


def _ops(x):
    global _TORCH_OPS
    if _is_torch(x):
        if _TORCH_OPS is None:
            _TORCH_OPS = _Torch()
        return _TORCH_OPS
    return _Numpy


def _eps(x) -> float:
    # float32 needs a looser guard than float64 for the small-angle branches.
    return 1e-6 if str(x.dtype).endswith("float32") or str(x.dtype).endswith("float16") else 1e-12


# --- quaternions ----------------------------------------------------------------------------

def quat_identity(shape: tuple[int, ...] = (), dtype=np.float32) -> np.ndarray:
    """Identity quaternions ``[*shape, 4]`` (numpy)."""
    q = np.zeros(tuple(shape) + (4,), dtype=dtype)
    q[..., 0] = 1.0
    return q


def quat_normalize(q):
    """``[..., 4]`` → unit quaternions."""
    xp = _ops(q)
    return q / xp.clip(xp.norm(q), 1e-12, None)


def quat_conjugate(q):
    """Inverse of a unit quaternion ``[..., 4]``."""
    xp = _ops(q)
    return xp.concatenate([q[..., :1], -q[..., 1:]], axis=-1)


def quat_multiply(a, b):
    """Hamilton product ``a ⊗ b`` (apply b, then a), ``[..., 4]`` with broadcasting."""
    xp = _ops(a)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return xp.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        -1,
    )


def quat_apply(q, v):
    """Rotate vectors ``v [..., 3]`` by quaternions ``q [..., 4]`` (broadcasting)."""
    xp = _ops(q)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * xp.cross(u, v)
    return v + w * t + xp.cross(u, t)


def quat_to_matrix(q):
    """``[..., 4]`` → ``[..., 3, 3]``."""
    xp = _ops(q)
    q = quat_normalize(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    m = xp.stack(rows, -1)
    return m.reshape(tuple(m.shape[:-1]) + (3, 3))


def matrix_to_quat(m):
    """``[..., 3, 3]`` → ``[..., 4]`` with w ≥ 0, stable for every rotation (Shepperd's method:
    take the largest of the four candidate denominators per element)."""
    xp = _ops(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    trace_terms = xp.stack(
        [
            1.0 + m00 + m11 + m22,
            1.0 + m00 - m11 - m22,
            1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22,
        ],
        -1,
    )
    candidates = xp.stack(
        [
            xp.stack([trace_terms[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
            xp.stack([m21 - m12, trace_terms[..., 1], m10 + m01, m02 + m20], -1),
            xp.stack([m02 - m20, m10 + m01, trace_terms[..., 2], m12 + m21], -1),
            xp.stack([m10 - m01, m02 + m20, m12 + m21, trace_terms[..., 3]], -1),
        ],
        -2,
    )  # [..., 4 candidates, 4]
    best = xp.argmax(trace_terms, axis=-1)
    if _is_torch(m):
        index = best[..., None, None].expand(tuple(best.shape) + (1, 4))
        chosen = _TORCH_OPS.torch.gather(candidates, -2, index)[..., 0, :]
    else:
        chosen = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = quat_normalize(chosen)
    return q * xp.where(q[..., :1] < 0, -1.0, 1.0)


def quat_to_axis_angle(q):
    """``[..., 4]`` → rotation vectors ``[..., 3]`` with angle in [0, π]."""
    xp = _ops(q)
    q = quat_normalize(q)
    q = q * xp.where(q[..., :1] < 0, -1.0, 1.0)
    sin_half = xp.norm(q[..., 1:])
    half = xp.atan2(sin_half, q[..., :1])
    # angle / sin(angle/2), with its Taylor series near zero (2 + angle²/12).
    small = sin_half < _eps(q)
    safe_sin = xp.where(small, xp.clip(sin_half, 1.0, None), sin_half)
    scale = xp.where(small, 2.0 + (half * half) / 3.0, 2.0 * half / safe_sin)
    return q[..., 1:] * scale


def axis_angle_to_quat(v):
    """Rotation vectors ``[..., 3]`` → ``[..., 4]``."""
    xp = _ops(v)
    angle = xp.norm(v)
    half = 0.5 * angle
    small = angle < _eps(v)
    safe_angle = xp.where(small, xp.clip(angle, 1.0, None), angle)
    # sin(θ/2)/θ with its Taylor series near zero.
    factor = xp.where(small, 0.5 - angle * angle / 48.0, xp.sin(half) / safe_angle)
    return xp.concatenate([xp.cos(half), v * factor], axis=-1)


def axis_angle_to_matrix(v):
    """Rotation vectors ``[..., 3]`` → ``[..., 3, 3]``."""
    return quat_to_matrix(axis_angle_to_quat(v))


def matrix_to_axis_angle(m):
    """``[..., 3, 3]`` → rotation vectors ``[..., 3]``."""
    return quat_to_axis_angle(matrix_to_quat(m))


def quat_between(a, b):
    """Shortest-arc rotation taking direction ``a`` onto direction ``b`` (``[..., 3]`` each,
    any length). For opposite vectors the axis is any perpendicular one."""
    xp = _ops(a)
    a = a / xp.clip(xp.norm(a), 1e-12, None)
    b = b / xp.clip(xp.norm(b), 1e-12, None)
    dot = (a * b).sum(-1)
    axis = xp.cross(a, b)
    q = xp.concatenate([(1.0 + dot)[..., None], axis], axis=-1)
    # Opposite directions: rotate by π about an axis perpendicular to a.
    opposite = (1.0 + dot) < 1e-7
    helper = xp.where(xp.abs(a[..., :1]) < 0.9, _unit_like(a, 0), _unit_like(a, 1))
    perp = xp.cross(a, helper)
    perp = perp / xp.clip(xp.norm(perp), 1e-12, None)
    q_opposite = xp.concatenate([0.0 * dot[..., None], perp], axis=-1)
    q = xp.where(opposite[..., None], q_opposite, q)
    return quat_normalize(q)


def _unit_like(x, axis: int):
    unit = [0.0, 0.0, 0.0]
    unit[axis] = 1.0
    if _is_torch(x):
        return _TORCH_OPS.torch.tensor(unit, dtype=x.dtype, device=x.device).expand(x.shape)
    return np.broadcast_to(np.asarray(unit, dtype=x.dtype), x.shape)


def quat_slerp(a, b, t):
    """Spherical interpolation between ``a`` and ``b`` (``[..., 4]``) at fractions ``t [...]``,
    taking the short way round."""
    xp = _ops(a)
    dot = (a * b).sum(-1)
    b = b * xp.where(dot < 0, -1.0, 1.0)[..., None]
    dot = xp.abs(dot)
    t = t[..., None]
    theta = xp.atan2(xp.sqrt(xp.clip(1.0 - dot * dot, 0.0, None)), dot)[..., None]
    sin_theta = xp.sin(theta)
    near = sin_theta < 1e-6
    safe = xp.where(near, xp.clip(sin_theta, 1.0, None), sin_theta)
    wa = xp.where(near, 1.0 - t, xp.sin((1.0 - t) * theta) / safe)
    wb = xp.where(near, t, xp.sin(t * theta) / safe)
    return quat_normalize(wa * a + wb * b)


def quat_continuity(q, axis: int = 0):
    """Flip signs so consecutive quaternions along ``axis`` (time) have a non-negative dot product.

    Vectorised: the sign of each step relative to the previous one is accumulated with a
    cumulative product, so there is no loop over frames."""
    xp = _ops(q)
    if _is_torch(q):
        torch = _TORCH_OPS.torch
        qm = torch.movedim(q, axis, 0)
        if qm.shape[0] < 2:
            return q
        flips = torch.where((qm[1:] * qm[:-1]).sum(-1) < 0, -1.0, 1.0).to(q.dtype)
        signs = torch.cat([torch.ones_like(flips[:1]), torch.cumprod(flips, 0)], 0)
        return torch.movedim(qm * signs[..., None], 0, axis)
    qm = np.moveaxis(q, axis, 0)
    if qm.shape[0] < 2:
        return q
    flips = np.where((qm[1:] * qm[:-1]).sum(-1) < 0, -1.0, 1.0)
    signs = np.concatenate([np.ones_like(flips[:1]), np.cumprod(flips, 0)], 0).astype(q.dtype)
    del xp
    return np.moveaxis(qm * signs[..., None], 0, axis)


# --- Euler angles ---------------------------------------------------------------------------

def _check_order(order: str) -> str:
    order = order.upper()
    if order not in EULER_ORDERS:
        raise ValueError(f"Euler order must be one of {', '.join(EULER_ORDERS)}, got {order!r}")
    return order


def _axis_matrix(angle, axis: int, xp):
    c, s = xp.cos(angle), xp.sin(angle)
    one, zero = c * 0 + 1, c * 0
    if axis == 0:
        rows = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == 1:
        rows = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        rows = [c, -s, zero, s, c, zero, zero, zero, one]
    m = xp.stack(rows, -1)
    return m.reshape(tuple(m.shape[:-1]) + (3, 3))


def euler_to_matrix(angles, order: str = "ZYX"):
    """Intrinsic Euler angles ``[..., 3]`` (radians, in the listed order) → ``[..., 3, 3]``."""
    order = _check_order(order)
    xp = _ops(angles)
    m = _axis_matrix(angles[..., 0], _AXIS_INDEX[order[0]], xp)
    for k in (1, 2):
        m = m @ _axis_matrix(angles[..., k], _AXIS_INDEX[order[k]], xp)
    return m


def euler_to_quat(angles, order: str = "ZYX"):
    """Intrinsic Euler angles ``[..., 3]`` → ``[..., 4]``."""
    order = _check_order(order)
    xp = _ops(angles)
    result = None
    for k, axis_name in enumerate(order):
        half = 0.5 * angles[..., k]
        zero = half * 0
        parts = [xp.cos(half), zero, zero, zero]
        parts[1 + _AXIS_INDEX[axis_name]] = xp.sin(half)
        q = xp.stack(parts, -1)
        result = q if result is None else quat_multiply(result, q)
    return result


def matrix_to_euler(m, order: str = "ZYX"):
    """``[..., 3, 3]`` → intrinsic Euler angles ``[..., 3]`` in radians.

    For a Tait–Bryan order (i, j, k), ``R = Ri(a) Rj(b) Rk(c)``; the middle angle lies in
    [-π/2, π/2]. The third angle is solved *after* removing the first rotation, so the result
    reproduces the matrix to machine precision even next to gimbal lock; at lock (cos b = 0)
    the first angle is set to 0 and the third takes the whole remaining rotation."""
    order = _check_order(order)
    xp = _ops(m)
    i, j, k = (_AXIS_INDEX[a] for a in order)
    # +1 for a cyclic (even) permutation such as XYZ, -1 for an odd one such as XZY.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    cos_b = xp.sqrt(m[..., i, i] * m[..., i, i] + m[..., i, j] * m[..., i, j])
    b = xp.atan2(sign * m[..., i, k], cos_b)
    a = xp.atan2(-sign * m[..., j, k], m[..., k, k])
    a = xp.where(cos_b < 1e-12, a * 0, a)
    sin_a, cos_a = xp.sin(a), xp.cos(a)
    # Row j of Ri(a)ᵀ·R equals row j of Rk(c): (sign·sin c) on axis i, cos c on axis j.
    sin_c = sign * cos_a * m[..., j, i] + sin_a * m[..., k, i]
    cos_c = cos_a * m[..., j, j] + sign * sin_a * m[..., k, j]
    return xp.stack([a, b, xp.atan2(sin_c, cos_c)], -1)


def quat_to_euler(q, order: str = "ZYX"):
    """``[..., 4]`` → intrinsic Euler angles ``[..., 3]``."""
    return matrix_to_euler(quat_to_matrix(q), order)


def unwrap_euler(angles, axis: int = 0):
    """Remove 2π jumps along ``axis`` (time) from Euler angles ``[..., 3]`` (numpy)."""
    return np.unwrap(np.asarray(angles), axis=axis)


# --- 6D -------------------------------------------------------------------------------------

def matrix_to_6d(m):
    """``[..., 3, 3]`` → ``[..., 6]`` (first two columns)."""
    xp = _ops(m)
    return xp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def sixd_to_matrix(d6):
    """``[..., 6]`` → ``[..., 3, 3]`` by Gram–Schmidt on the two columns."""
    xp = _ops(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / xp.clip(xp.norm(a1), 1e-12, None)
    b2 = a2 - (b1 * a2).sum(-1)[..., None] * b1
    b2 = b2 / xp.clip(xp.norm(b2), 1e-12, None)
    b3 = xp.cross(b1, b2)
    return xp.stack([b1, b2, b3], -1)


def quat_to_6d(q):
    return matrix_to_6d(quat_to_matrix(q))


def sixd_to_quat(d6):
    return matrix_to_quat(sixd_to_matrix(d6))


# --- axis conventions -----------------------------------------------------------------------

_AXIS_VECTORS = {
    "+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0),
    "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1),
}


def axis_change(up: str, forward: str) -> np.ndarray:
    """The proper rotation ``[3, 3]`` taking a file frame whose up axis is ``up`` and whose people
    face ``forward`` into motiongen's internal frame (Y up, facing +Z). Never a mirror."""
    try:
        u = np.asarray(_AXIS_VECTORS[up.lower()], dtype=np.float64)
        f = np.asarray(_AXIS_VECTORS[forward.lower()], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"axes must be one of {', '.join(_AXIS_VECTORS)}, got {exc.args[0]!r}") from None
    if abs(float(u @ f)) > 0.5:
        raise ValueError(f"up {up!r} and forward {forward!r} must be perpendicular")
    side = np.cross(u, f)  # the file's +X-equivalent of the internal frame (Y × Z = X)
    source = np.stack([side, u, f], axis=1)  # columns: where internal X, Y, Z point in the file
    return source.T.copy()  # file → internal


def degrees(x):
    return x * (180.0 / math.pi)


def radians(x):
    return x * (math.pi / 180.0)
