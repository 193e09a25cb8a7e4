"""Training: one loop with phases, WGAN-GP losses, EMA, DDP helpers, checkpoints (DESIGN §7)."""

from motiongen.training.checkpoint import (
    LoadedCheckpoint,
    load_checkpoint,
    load_resume_state,
    read_metadata,
    resume_path_for,
    save_checkpoint,
    save_resume_state,
)
from motiongen.training.loop import TrainingDiverged, TrainProgress, TrainResult, train

__all__ = [
    "train", "TrainProgress", "TrainResult", "TrainingDiverged",
    "save_checkpoint", "load_checkpoint", "LoadedCheckpoint", "read_metadata", "resume_path_for",
    "save_resume_state", "load_resume_state",
]
