"""Builders of small NTU RGB+D files in the dataset's own layout (no real NTU data may be shipped).

People are the ``ntu25`` rest pose (internal frame: Y up, facing +Z, left = +X) turned into the
Kinect camera frame (Y up, facing the camera, i.e. −Z) and put about 3 m in front of the sensor.
Arrays named ``*_camera`` are in the dataset's joint order and the camera frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motiongen.core import rotations as R
from motiongen.skeletons import load_skeleton

SKELETON = load_skeleton("ntu25")
CAMERA_TO_INTERNAL = R.axis_change(SKELETON.up, SKELETON.forward)  # rows: internal axes in camera coords
DATASET_INDEX = SKELETON.dataset_index  # skeleton joint j is dataset joint DATASET_INDEX[j]
MAIN_ID = "72057594037931101"
SECOND_ID = "72057594037931115"


def to_dataset_order(skeleton_order: np.ndarray) -> np.ndarray:
    """``[..., 25, C]`` skeleton order → dataset order."""
    out = np.empty_like(skeleton_order)
    out[..., DATASET_INDEX, :] = skeleton_order
    return out


def internal_to_camera(points: np.ndarray) -> np.ndarray:
    return points @ CAMERA_TO_INTERNAL  # inverse of the proper rotation camera → internal


def camera_to_internal(points_camera: np.ndarray) -> np.ndarray:
    """What the reader should return: dataset → skeleton order, camera → internal axes."""
    return points_camera[..., DATASET_INDEX, :] @ CAMERA_TO_INTERNAL.T


def actor(frames: int, walking: bool = True, x_offset: float = 0.0, depth_m: float = 3.0) -> np.ndarray:
    """``[T, 25, 3]`` camera-frame positions, dataset order, rounded to what the file stores.

    Internal frame: the rest pose, pelvis over the floor, a small step sideways (+X) per frame and
    hands and feet swinging forward and back (±Z) when walking; a still person only sways a little.
    """
    t = np.arange(frames, dtype=np.float64)[:, None]
    rest = SKELETON.rest_positions()  # [25, 3] internal, metres
    internal = np.broadcast_to(rest, (frames, 25, 3)).copy()
    internal[..., 0] += x_offset
    if walking:
        internal[..., 0] += 0.01 * t
        swing = 0.15 * np.sin(2 * np.pi * t / 30.0)
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            for joint in (f"Hand{side}", f"Wrist{side}", f"HandTip{side}", f"Thumb{side}"):
                internal[:, SKELETON.index(joint), 2] -= sign * swing[:, 0]
            for joint in (f"Ankle{side}", f"Foot{side}"):
                internal[:, SKELETON.index(joint), 2] += sign * swing[:, 0]
    else:
        internal[..., 0] += 0.002 * np.sin(t / 5.0)
    camera = internal_to_camera(internal) + np.asarray([0.0, -0.9, depth_m])
    return np.round(to_dataset_order(camera), 7)


@dataclass
class Body:
    body_id: str
    xyz_camera: np.ndarray  # [T, 25, 3] dataset order
    states: np.ndarray  # [T, 25] 0/1/2
    frames: list[int]  # frames (of the file) in which the body appears; row k of xyz is frame frames[k]
    extra: np.ndarray = field(default=None)  # [T, 25, 8] depthX depthY colorX colorY qW qX qY qZ

    def __post_init__(self):
        if self.extra is None:
            rng = np.random.default_rng(len(self.frames))
            count = len(self.frames)
            depth = rng.uniform(100, 400, (count, 25, 2))
            color = rng.uniform(300, 1500, (count, 25, 2))
            quat = rng.normal(size=(count, 25, 4))
            quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
            self.extra = np.round(np.concatenate([depth, color, quat], axis=-1), 5)


def format_skeleton(frame_count: int, bodies: list[Body], order: list[str] | None = None,
                    newline: str = "\n", trailing: str = "") -> str:
    """The text of a ``.skeleton`` file holding ``bodies``; ``order`` lists body IDs in the order
    they are written within a frame (default: as given)."""
    by_id = {b.body_id: b for b in bodies}
    order = order or [b.body_id for b in bodies]
    lines = [f"{frame_count}"]
    for frame in range(frame_count):
        present = [by_id[i] for i in order if frame in by_id[i].frames]
        lines.append(f"{len(present)}")
        for body in present:
            row = body.frames.index(frame)
            lines.append(f"{body.body_id} 0 1 1 1 1 0 0.02764709 -0.05745083 2")
            lines.append("25")
            for j in range(25):
                x, y, z = body.xyz_camera[row, j]
                extra = " ".join(f"{v:.5f}" for v in body.extra[row, j])
                lines.append(f"{x:.7f} {y:.7f} {z:.7f} {extra} {int(body.states[row, j])}")
    return newline.join(line + trailing for line in lines) + newline


@dataclass
class Sample:
    text: str
    frame_count: int
    main: Body
    second: Body


def two_people(frame_count: int = 30, second_frames: range = range(8, 20), main_frames=None,
               main_listed_second: bool = False, seed: int = 0) -> Sample:
    """A walking main actor and a mostly still second person present in fewer frames; tracking
    states mostly 2 with some inferred (1) and untracked (0) joints."""
    rng = np.random.default_rng(seed)
    main_frames = list(range(frame_count)) if main_frames is None else list(main_frames)
    states = rng.choice([2, 2, 2, 2, 1, 0], size=(len(main_frames), 25))
    main = Body(MAIN_ID, actor(frame_count, walking=True)[main_frames], states, main_frames)
    second_frames = list(second_frames)
    second = Body(SECOND_ID, actor(frame_count, walking=False, x_offset=-1.2, depth_m=3.5)[second_frames],
                  np.full((len(second_frames), 25), 2), second_frames)
    order = [SECOND_ID, MAIN_ID] if main_listed_second else [MAIN_ID, SECOND_ID]
    return Sample(format_skeleton(frame_count, [main, second], order), frame_count, main, second)
