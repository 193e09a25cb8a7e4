"""motiongen: generate, impute and convert skeleton motion."""

__version__ = "0.1.0"

from motiongen.core import Motion, Skeleton  # noqa: E402
from motiongen.errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    FormatError,
    MotionGenError,
    SkeletonError,
)

__all__ = ["Motion", "Skeleton", "MotionGenError", "FormatError", "SkeletonError", "ConfigError",
           "CheckpointError", "__version__"]
