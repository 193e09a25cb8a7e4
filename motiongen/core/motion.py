"""`Motion`: the one type that flows through motiongen (DESIGN §3).

Positions are always present (``[T, J, 3]`` float32, metres, internal frame: Y up, facing +Z).
Local rotations (``[T, J, 4]`` unit quaternions, w first) and ``root_translation [T, 3]`` are kept
when the source has them (BVH, AMASS, H3.6M angles); positions are derived from them by FK and
rotations are derived from positions only by an explicit `with_ik` call. ``mask [T, J]`` is False
where a joint is missing or was not tracked (its position is then NaN or an estimate).
A Motion is immutable: every operation returns a new one sharing unchanged arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from motiongen.core import kinematics, rotations as R
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError


def _frozen(array: np.ndarray | None, dtype) -> np.ndarray | None:
    if array is None:
        return None
    array = np.asarray(array, dtype=dtype)
    if array.flags.writeable:  # copy what the caller could still change, then freeze it
        array = array.copy()
        array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Motion:
    positions: np.ndarray  # float32 [T, J, 3] metres
    skeleton: Skeleton
    fps: float
    # Rotations and root translation stay float64 so format round trips lose nothing.
    rotations: np.ndarray | None = None  # float64 [T, J, 4] local, w first
    root_translation: np.ndarray | None = None  # float64 [T, 3] metres
    mask: np.ndarray | None = None  # bool [T, J]; None means every joint observed
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        positions = _frozen(self.positions, np.float32)
        if positions.ndim != 3 or positions.shape[1:] != (self.skeleton.joint_count, 3):
            raise ConfigError(
                f"positions must be [T, {self.skeleton.joint_count}, 3] for skeleton "
                f"{self.skeleton.name!r}, got {list(positions.shape)}"
            )
        frames = positions.shape[0]
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "rotations", _frozen(self.rotations, np.float64))
        object.__setattr__(self, "root_translation", _frozen(self.root_translation, np.float64))
        object.__setattr__(self, "mask", _frozen(self.mask, bool))
        object.__setattr__(self, "fps", float(self.fps))
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"fps must be a positive number, got {self.fps}")
        if self.rotations is not None:
            if self.rotations.shape != (frames, self.skeleton.joint_count, 4):
                raise ConfigError(f"rotations must be [{frames}, {self.skeleton.joint_count}, 4]")
            if self.root_translation is None or self.root_translation.shape != (frames, 3):
                raise ConfigError(f"rotations need root_translation [{frames}, 3]")
        if self.mask is not None and self.mask.shape != (frames, self.skeleton.joint_count):
            raise ConfigError(f"mask must be [{frames}, {self.skeleton.joint_count}]")

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def from_rotations(cls, rotations, root_translation, skeleton: Skeleton, fps: float, **kwargs) -> "Motion":
        """Build from local rotations by FK (float64 inside, so positions carry no float32 drift)."""
        rotations = np.asarray(rotations, dtype=np.float64)
        root_translation = np.asarray(root_translation, dtype=np.float64)
        positions = kinematics.skeleton_fk(skeleton, rotations, root_translation)
        return cls(positions=positions, skeleton=skeleton, fps=fps, rotations=rotations,
                   root_translation=root_translation, **kwargs)

    # --- basic facts ----------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return int(self.positions.shape[0])

    @property
    def joint_count(self) -> int:
        return self.skeleton.joint_count

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    @property
    def frame_time_s(self) -> float:
        return 1.0 / self.fps

    @property
    def has_rotations(self) -> bool:
        return self.rotations is not None

    def observed(self) -> np.ndarray:
        """``[T, J]`` True where a joint is observed and finite."""
        finite = np.isfinite(self.positions).all(-1)
        return finite if self.mask is None else finite & self.mask

    def missing_counts(self) -> np.ndarray:
        """``[J]`` number of frames in which each joint is missing."""
        return (~self.observed()).sum(0)

    def __len__(self) -> int:
        return self.frame_count

    def __getitem__(self, frames) -> "Motion":
        """Slice in time (views, no copies): ``motion[10:20]``, ``motion[::2]`` (fps unchanged)."""
        if not isinstance(frames, slice):
            raise TypeError("a Motion is sliced by a frame range, e.g. motion[10:20]")
        take = lambda a: None if a is None else a[frames]  # noqa: E731
        return replace(self, positions=self.positions[frames], rotations=take(self.rotations),
                       root_translation=take(self.root_translation), mask=take(self.mask))

    def replace(self, **changes) -> "Motion":
        return replace(self, **changes)

    def with_meta(self, **items) -> "Motion":
        return replace(self, meta={**self.meta, **items})

    # --- conversions ----------------------------------------------------------------------
    def with_ik(self, skeleton: Skeleton | None = None) -> "Motion":
        """Solve local rotations from positions on ``skeleton`` (default: this motion's, whose
        offsets are the fixed bone lengths). Positions are recomputed by FK so the result is
        self-consistent; they equal the input where the bone lengths agree."""
        skeleton = skeleton or self.skeleton
        if not skeleton.same_layout(self.skeleton):
            raise ConfigError(f"IK skeleton {skeleton.name!r} does not match {self.skeleton.name!r}")
        local, root = kinematics.inverse_kinematics(self.positions, skeleton)
        return Motion.from_rotations(local, root, skeleton, self.fps, mask=self.mask, meta=self.meta)

    def euler_degrees(self, order: str = "ZYX") -> np.ndarray:
        """Local rotations as intrinsic Euler angles ``[T, J, 3]`` in degrees, unwrapped in time."""
        if self.rotations is None:
            raise ConfigError("this motion has no rotations; call with_ik() first")
        q = R.quat_continuity(self.rotations.astype(np.float64), axis=0)
        return np.degrees(R.unwrap_euler(R.quat_to_euler(q, order), axis=0))

    def to_tensor(self, device=None, dtype=None):
        """Positions as a torch tensor ``[T, J, 3]`` (NaN kept)."""
        import torch

        return torch.as_tensor(np.array(self.positions), device=device, dtype=dtype or torch.float32)

    @classmethod
    def from_tensor(cls, tensor, skeleton: Skeleton, fps: float, **kwargs) -> "Motion":
        """From a ``[T, J, 3]`` tensor of positions in metres."""
        return cls(positions=tensor.detach().cpu().float().numpy(), skeleton=skeleton, fps=fps, **kwargs)

    def __repr__(self) -> str:
        extra = ", rotations" if self.has_rotations else ""
        return f"Motion({self.skeleton.name!r}, {self.frame_count} frames @ {self.fps:g} fps{extra})"
