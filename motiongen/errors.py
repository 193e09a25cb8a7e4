"""The exception hierarchy. The CLI maps each to a one-line message and an exit code (DESIGN §8)."""

from __future__ import annotations

from pathlib import Path


class MotionGenError(Exception):
    """Base of every error motiongen raises on purpose (bad input, bad usage)."""


class ConfigError(MotionGenError):
    """An impossible or inconsistent request (options, sizes, names)."""


class SkeletonError(MotionGenError):
    """A skeleton definition is invalid, unknown, or cannot be mapped."""


class CheckpointError(MotionGenError):
    """A checkpoint is missing, corrupt, or of an unknown format version."""


class FormatError(MotionGenError):
    """A motion file is malformed; carries the file and (for text formats) the line number."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where} line {line}"
        super().__init__(f"{where}: {message}")
