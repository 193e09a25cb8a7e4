"""Builders of small Human3.6M expmap and AMASS files in each dataset's own layout and axes (no real
files may be shipped), shared by the format tests and the end-to-end conversion tests."""

from __future__ import annotations

import numpy as np

from motiongen.core import rotations as R

H36M_FRAMES = 60
AMASS_FRAMES = 40


# --- Human3.6M expmap (.txt: root mm + 32 expmaps per row, Z up, 50 Hz) ------------------------

def walking_values(frames: int = H36M_FRAMES, seed: int = 0) -> np.ndarray:
    """``[T, 99]`` expmap rows: a walking-like gait, small motion everywhere, a root that stands
    the body up in the Z-up world and turns about world Z, and a root path in mm."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(frames) / 50.0
    phase = 2 * np.pi * 1.0 * time_s
    expmap = rng.normal(0.0, 0.08, (frames, 32, 3))
    expmap[:, 1, 0] += 0.4 * np.sin(phase)  # right hip
    expmap[:, 6, 0] -= 0.4 * np.sin(phase)  # left hip
    # Knees bend the shin backwards: local rotation +θ about X, i.e. expmap −θ (see the module).
    expmap[:, 2, 0] -= 0.3 * (1 - np.cos(phase))  # right knee
    expmap[:, 7, 0] -= 0.3 * (1 + np.cos(phase))  # left knee
    # Root: the column-vector rotation that stands the body up is Rz(yaw) · Rx(+90°) (Y -> Z);
    # the row-vector file stores its transpose, so a pure stand-up is the expmap (-π/2, 0, 0).
    yaw = 0.8 * time_s
    stand = R.axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))
    turn = R.axis_angle_to_matrix(np.stack([0 * yaw, 0 * yaw, yaw], -1))
    expmap[:, 0] = R.matrix_to_axis_angle(np.swapaxes(turn @ stand, -1, -2))
    root_mm = np.stack([100.0 * time_s, -1000.0 * time_s, 920.0 + 20.0 * np.sin(2 * phase)], -1)
    return np.concatenate([root_mm, expmap.reshape(frames, -1)], axis=1)


def write_table(path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, values, delimiter=",", fmt="%.7f")


# --- AMASS (.npz, SMPL-H: poses [T, 156] axis-angle, trans [T, 3] m, Z up) --------------------

def body_motion(frames: int = AMASS_FRAMES, seed: int = 0):
    """Axis-angle ``[T, 52, 3]`` (SMPL-H joint order) and ``trans [T, 3]``: a walking-like gait with
    a root that stands SMPL's Y-up body up in the Z-up world and turns about world Z."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(frames) / 60.0
    phase = 2 * np.pi * time_s
    pose = rng.normal(0.0, 0.08, (frames, 52, 3))
    pose[:, 1, 0] += 0.4 * np.sin(phase)  # left hip
    pose[:, 2, 0] -= 0.4 * np.sin(phase)  # right hip
    pose[:, 4, 0] += 0.3 * (1 - np.cos(phase))  # left knee
    pose[:, 5, 0] += 0.3 * (1 + np.cos(phase))  # right knee
    pose[:, 22:] += rng.normal(0.0, 0.3, (frames, 30, 3))  # fingers
    yaw = 0.7 * time_s
    stand = R.axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))  # +90° about X: Y up -> Z up
    turn = R.axis_angle_to_matrix(np.stack([0 * yaw, 0 * yaw, yaw], -1))
    pose[:, 0] = R.matrix_to_axis_angle(turn @ stand)
    trans = np.stack([0.2 * time_s, -1.2 * time_s, 0.93 + 0.02 * np.sin(2 * phase)], -1)
    return pose, trans


def smplh_file(path, frames: int = AMASS_FRAMES):
    pose, trans = body_motion(frames)
    betas = np.linspace(-1, 1, 16)
    np.savez(path, poses=pose.reshape(frames, 156), trans=trans, betas=betas,
             gender=np.array(b"female"), mocap_framerate=np.array(120.0),
             dmpls=np.zeros((frames, 8)))
    return pose, trans, betas
