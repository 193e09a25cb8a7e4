"""Library calls behind every CLI command: ``motiongen.api.convert(...)`` and friends."""

from motiongen.api.convert import ConvertResult, convert, convert_motion
from motiongen.api.info import MotionInfo, describe
from motiongen.api.train import ResolvedTraining, train_from_options

__all__ = ["convert", "convert_motion", "ConvertResult", "describe", "MotionInfo", "train_from_options",
           "ResolvedTraining"]
