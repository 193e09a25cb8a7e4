"""Core types and maths: `Motion`, `Skeleton`, rotations, kinematics."""

from motiongen.core.motion import Motion
from motiongen.core.skeleton import DerivedRule, Skeleton

__all__ = ["Motion", "Skeleton", "DerivedRule"]
