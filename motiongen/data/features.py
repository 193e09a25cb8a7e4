"""The motion representation the GANs learn, and its normalisation (DESIGN §3, §6.1).

Positions ``[..., T, V, 3]`` (metres, internal frame: Y up, root = joint 0) become features of the
same shape:

- joints 1..V-1: ``(x − root_x, y, z − root_z)`` — horizontal position relative to the root in
  the same frame, absolute height;
- the root: ``(root_x[t+1] − root_x[t], root_y[t], root_z[t+1] − root_z[t])`` — horizontal
  velocity in metres per frame (the last frame repeats the previous velocity) and absolute height.

Every feature is bounded whatever the sequence length (a walker's absolute x grows without bound,
its velocity and its body's extent do not), so long generated sequences stay inside the range the
normalisation was computed on. `from_features` integrates the root velocity back (an exclusive
cumulative sum from ``start_xz``). Mirroring (negate x, swap left/right) and rotation about the up
axis act on features exactly as on positions, so augmentation can work on either.

Every function takes numpy arrays or torch tensors with any leading dimensions and returns the
same type; torch is never imported here (a tensor is recognised by its type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from motiongen.errors import ConfigError

REPRESENTATION = "root-velocity-xz/v1"  # stored with the statistics, checked on load
MIN_HALF_RANGE = 1e-3  # a coordinate that never moves (e.g. a fixed height) must not divide by 0
ROBUST_OUTSIDE = 0.001  # share of a dataset's values per (joint, coordinate) left outside [-1, 1] at each end


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _cat(parts: list, axis: int):
    if _is_torch(parts[0]):
        import torch

        return torch.cat(parts, dim=axis)
    return np.concatenate(parts, axis=axis)


def _cumsum(x, axis: int):
    return x.cumsum(dim=axis) if _is_torch(x) else np.cumsum(x, axis=axis)


def _zeros_like(x):
    return x.new_zeros(x.shape) if _is_torch(x) else np.zeros_like(x)


# --- positions <-> features --------------------------------------------------------------------

def to_features(positions):
    """Positions ``[..., T, V, 3]`` → features ``[..., T, V, 3]`` (see the module docstring)."""
    if positions.ndim < 3 or positions.shape[-1] != 3:
        raise ConfigError(f"positions must be [..., T, V, 3], got {list(positions.shape)}")
    root = positions[..., :, :1, :]  # [..., T, 1, 3]
    joints = positions[..., :, 1:, :]
    relative = _cat([joints[..., :1] - root[..., :1], joints[..., 1:2], joints[..., 2:] - root[..., 2:]], -1)
    if positions.shape[-3] >= 2:
        step = root[..., 1:, :, :] - root[..., :-1, :, :]  # [..., T-1, 1, 3]
        velocity = _cat([step, step[..., -1:, :, :]], -3)
    else:  # a single frame has no motion
        velocity = _zeros_like(root)
    root_feature = _cat([velocity[..., :1], root[..., 1:2], velocity[..., 2:]], -1)
    return _cat([root_feature, relative], -2)


def from_features(features, start_xz=(0.0, 0.0)):
    """Features ``[..., T, V, 3]`` → positions ``[..., T, V, 3]``; the root starts at
    ``start_xz`` (a pair, or ``[..., 2]`` per sequence) and moves by the integrated velocity."""
    if features.ndim < 3 or features.shape[-1] != 3:
        raise ConfigError(f"features must be [..., T, V, 3], got {list(features.shape)}")
    root = features[..., :, :1, :]  # [..., T, 1, 3]
    velocity_xz = _cat([root[..., :1], root[..., 2:]], -1)  # [..., T, 1, 2]
    travelled = _cat([_zeros_like(velocity_xz[..., :1, :, :]), _cumsum(velocity_xz[..., :-1, :, :], -3)], -3)
    if _is_torch(features):
        import torch

        start = torch.as_tensor(start_xz, dtype=features.dtype, device=features.device)
    else:
        start = np.asarray(start_xz, dtype=features.dtype)
    root_xz = travelled + start.reshape(tuple(start.shape[:-1]) + (1, 1, 2))
    root_position = _cat([root_xz[..., :1], root[..., 1:2], root_xz[..., 1:]], -1)
    joints = features[..., :, 1:, :]
    absolute = _cat([joints[..., :1] + root_xz[..., :1], joints[..., 1:2], joints[..., 2:] + root_xz[..., 1:]], -1)
    return _cat([root_position, absolute], -2)


# --- layouts ------------------------------------------------------------------------------------

def to_channels_first(x):
    """``[..., T, V, C]`` → ``[..., C, T, V]`` (ST-GCN order), contiguous."""
    if _is_torch(x):
        return x.movedim(-1, -3).contiguous()
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def to_channels_last(x):
    """``[..., C, T, V]`` → ``[..., T, V, C]``, contiguous."""
    if _is_torch(x):
        return x.movedim(-3, -1).contiguous()
    return np.ascontiguousarray(np.moveaxis(x, -3, -1))


# --- normalisation ------------------------------------------------------------------------------

@dataclass(eq=False)
class Normalization:
    """Per (joint, coordinate) affine map of features to about [-1, 1]:
    ``normalized = (features − centre) / half_range``. Stored in every checkpoint so that samples
    come back in metres."""

    centre: np.ndarray  # float32 [V, 3]
    half_range: np.ndarray  # float32 [V, 3], > 0
    _tensors: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # (device, dtype, layout) → pair

    def __post_init__(self):
        self.centre = np.asarray(self.centre, dtype=np.float32)
        self.half_range = np.asarray(self.half_range, dtype=np.float32)
        if self.centre.ndim != 2 or self.centre.shape[-1] != 3 or self.half_range.shape != self.centre.shape:
            raise ConfigError(f"normalisation centre and half_range must both be [V, 3], got "
                              f"{list(self.centre.shape)} and {list(self.half_range.shape)}")
        if not (np.isfinite(self.centre).all() and np.isfinite(self.half_range).all()
                and (self.half_range > 0).all()):
            raise ConfigError("normalisation statistics must be finite with a positive half_range")
        self.centre.setflags(write=False)
        self.half_range.setflags(write=False)

    @property
    def joint_count(self) -> int:
        return int(self.centre.shape[0])

    @classmethod
    def from_features_data(cls, features, outside: float = 0.0) -> "Normalization":
        """Statistics over every window and frame of ``features [..., V, 3]`` (channels last):
        centre = (high + low) / 2, half_range = max((high − low) / 2, 1e-3), where low and high
        are the ``outside`` and 1 − ``outside`` quantiles of each (joint, coordinate) — the minimum
        and maximum at 0. Datasets use `ROBUST_OUTSIDE`: one motion-capture glitch (a 2 m jump of
        the root in one CMU frame) otherwise sets a velocity's range alone and squeezes every real
        step into a seventh of it, where a generator's smallest error is a fast glide."""
        if _is_torch(features):
            features = features.detach().cpu().numpy()
        features = np.asarray(features, dtype=np.float64)
        if features.ndim < 2 or features.shape[-1] != 3 or features.size == 0:
            raise ConfigError(f"need features [..., V, 3] with data, got {list(features.shape)}")
        if not 0.0 <= outside < 0.5:
            raise ConfigError(f"the share of values left outside the range must be in [0, 0.5), got {outside}")
        flat = features.reshape(-1, *features.shape[-2:])
        if not np.isfinite(flat).all():
            raise ConfigError("features hold NaN or infinite values; fill missing joints first")
        if outside:
            low, high = np.quantile(flat, [outside, 1.0 - outside], axis=0)
        else:
            high, low = flat.max(0), flat.min(0)
        return cls(centre=(high + low) / 2, half_range=np.maximum((high - low) / 2, MIN_HALF_RANGE))

    def _stats(self, x, channels_first: bool):
        """centre and half_range shaped to broadcast against ``x`` (``[..., V, 3]`` or
        ``[..., 3, T, V]``), as x's array type, device and dtype."""
        if channels_first:
            shape = (3, 1, self.joint_count)
            centre, half = self.centre.T.reshape(shape), self.half_range.T.reshape(shape)
        else:
            centre, half = self.centre, self.half_range
        if not _is_torch(x):
            return centre, half
        key = (str(x.device), x.dtype, channels_first)
        if key not in self._tensors:  # copy once per device: no host transfer inside a training step
            import torch

            # torch.tensor copies: the statistics are read-only arrays, which as_tensor warns about
            self._tensors[key] = (torch.tensor(np.ascontiguousarray(centre), device=x.device, dtype=x.dtype),
                                  torch.tensor(np.ascontiguousarray(half), device=x.device, dtype=x.dtype))
        return self._tensors[key]

    def _check(self, x, channels_first: bool) -> None:
        joints, coords = (x.shape[-1], x.shape[-3]) if channels_first else (x.shape[-2], x.shape[-1])
        if x.ndim < (3 if channels_first else 2) or joints != self.joint_count or coords != 3:
            layout = "[..., 3, T, V]" if channels_first else "[..., V, 3]"
            raise ConfigError(f"expected features {layout} with V = {self.joint_count}, got {list(x.shape)}")

    def normalize(self, features, channels_first: bool = False):
        """Features (``[..., V, 3]``, or ``[..., 3, T, V]`` with ``channels_first``) → about [-1, 1]."""
        self._check(features, channels_first)
        centre, half = self._stats(features, channels_first)
        return (features - centre) / half

    def denormalize(self, normalized, channels_first: bool = False):
        """The inverse of `normalize`: back to features in metres."""
        self._check(normalized, channels_first)
        centre, half = self._stats(normalized, channels_first)
        return normalized * half + centre

    def to_dict(self) -> dict:
        """Plain lists, for checkpoint JSON metadata (float32 values survive JSON exactly)."""
        return {"representation": REPRESENTATION, "centre": self.centre.tolist(),
                "half_range": self.half_range.tolist()}

    @classmethod
    def of(cls, value: "Normalization | dict") -> "Normalization":
        """``value`` itself, or the statistics it stores as a dict (a checkpoint's)."""
        return value if isinstance(value, cls) else cls.from_dict(value)

    @classmethod
    def from_dict(cls, data: dict) -> "Normalization":
        if not isinstance(data, dict) or not {"centre", "half_range"} <= set(data):
            raise ConfigError("normalisation metadata must be a dict with 'centre' and 'half_range'")
        representation = data.get("representation", REPRESENTATION)
        if representation != REPRESENTATION:
            raise ConfigError(f"normalisation statistics are for features {representation!r}; "
                              f"this version of motiongen uses {REPRESENTATION!r}")
        try:
            return cls(centre=np.asarray(data["centre"], dtype=np.float32),
                       half_range=np.asarray(data["half_range"], dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"normalisation statistics are not [V, 3] numbers ({exc})") from None
