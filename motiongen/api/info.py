"""``info``: what a motion file holds (skeleton, frames, fps, duration, missing joints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from motiongen.formats import detect_format, read_motions


@dataclass
class MotionInfo:
    file: str
    format: str
    sequence: int
    skeleton: str
    joints: int
    frames: int
    fps: float
    duration_s: float
    has_rotations: bool
    missing_values: int
    missing_by_joint: dict[str, int]
    action: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def describe(path: str | Path, **read_options) -> list[MotionInfo]:
    """One `MotionInfo` per sequence in the file."""
    path = Path(path)
    format_name = detect_format(path).NAME if path.exists() else "?"
    infos = []
    for index, motion in enumerate(read_motions(path, **read_options)):
        missing = motion.missing_counts()
        infos.append(MotionInfo(
            file=str(path),
            format=format_name,
            sequence=index,
            skeleton=motion.skeleton.name,
            joints=motion.joint_count,
            frames=motion.frame_count,
            fps=motion.fps,
            duration_s=motion.duration_s,
            has_rotations=motion.has_rotations,
            missing_values=int(missing.sum()),
            missing_by_joint={motion.skeleton.joint_names[j]: int(c) for j, c in enumerate(missing) if c},
            action=motion.meta.get("action"),
        ))
    return infos
