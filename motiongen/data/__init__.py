"""Datasets of motion windows, the feature representation the models learn, normalisation
statistics and batch augmentation (DESIGN §2 ``data/``)."""

from motiongen.data.dataset import MotionDataset, cut_windows, prepare_dataset
from motiongen.data.features import (
    Normalization,
    from_features,
    to_channels_first,
    to_channels_last,
    to_features,
)
from motiongen.data.manifest import ClipEntry, find_clips, read_manifest, scan_folder

__all__ = [
    "MotionDataset", "prepare_dataset", "cut_windows",
    "Normalization", "to_features", "from_features", "to_channels_first", "to_channels_last",
    "ClipEntry", "find_clips", "read_manifest", "scan_folder",
]
