"""``sample``: action-conditioned motion from a generator checkpoint to BVH / arrays / stdout.

BVH output is solved by IK onto a fixed skeleton: the checkpoint's training skeleton (bone
lengths fitted to the training data), or, after ``--skeleton`` retargeting, a skeleton fitted to
the retargeted clip (`motiongen.api.convert.solve_rotations`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from motiongen.api.convert import solve_rotations
from motiongen.core.motion import Motion
from motiongen.core.ops import resample
from motiongen.errors import ConfigError
from motiongen.inference.footplant import plant_motion
from motiongen.formats import write_motion
from motiongen.render.pictures import RenderOptions, check_output, render_motions
from motiongen.inference.sampling import check_request, features_to_motions, generate_features, resolve_action
from motiongen.retarget import retarget
from motiongen.skeletons import load_skeleton

SUFFIXES = (".bvh", ".npy", ".npz")


@dataclass
class SampleResult:
    motions: list[Motion]
    written: list[Path] = field(default_factory=list)
    action: str = ""
    picture: Path | None = None
    start_error_mm: list[float] = field(default_factory=list)  # per sample, with a start pose


@dataclass
class StartPose:
    """The first frame of a motion file on a model's skeleton: positions ``[V, 3]`` (metres) and
    the normalised features the generator starts from (``[3, V]``)."""

    positions: np.ndarray
    features: np.ndarray


def load_start_pose(path: str | Path, checkpoint, frame: int = 0) -> StartPose:
    """Frame ``frame`` of any motion file (negative counts from the end), retargeted to the
    checkpoint's skeleton when it is on another."""
    from motiongen.data.features import Normalization, to_channels_first, to_features
    from motiongen.formats import read_motion

    motion = read_motion(path)
    if not -motion.frame_count <= int(frame) < motion.frame_count:
        raise ConfigError(f"{path}: no frame {frame} to start from (it has {motion.frame_count} frames)")
    index = int(frame) % motion.frame_count
    first = motion[index:index + 1]
    if not first.skeleton.same_layout(checkpoint.skeleton):
        first = retarget(first, checkpoint.skeleton)
    positions = np.asarray(first.positions[0], dtype=np.float32)
    if not np.isfinite(positions).all():
        raise ConfigError(f"{path}: frame {index} has missing joints; a start pose needs every joint")
    features = Normalization.of(checkpoint.normalization).normalize(to_features(positions[None]))[0]  # [V, 3]
    return StartPose(positions=positions, features=to_channels_first(features[None])[:, 0])


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA device is available here")
    return torch.device(device)


def output_paths(output: str, count: int) -> list[str]:
    """walk.bvh with 3 samples → walk_000.bvh, walk_001.bvh, walk_002.bvh; '-' stays '-'."""
    if output == "-":
        if count > 1:
            raise ConfigError("-o - writes one sample to stdout; use --count 1 or a file name")
        return ["-"]
    path = Path(output)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"-o {output}: the output must end in {', '.join(SUFFIXES)} (or be - for stdout)")
    if not path.parent.is_dir() and str(path.parent) not in ("", "."):
        raise ConfigError(f"-o {output}: folder {path.parent} does not exist")
    if count == 1:
        return [str(path)]
    width = max(3, len(str(count - 1)))
    return [str(path.with_name(f"{path.stem}_{k:0{width}d}{path.suffix}")) for k in range(count)]


def sample(model: str | Path, action: str | int, frames: int | None = None, count: int = 1, seed: int = 0,
           truncation: float | None = None, skeleton: str | None = None, fps: float | None = None,
           output: str | None = None, device: str = "auto", batch_size: int = 64,
           render: str | Path | None = None, start_pose: str | Path | None = None,
           start_frame: int = 0, plant_feet: bool = True) -> SampleResult:
    """Generate ``count`` clips of ``action``; write them when ``output`` is given, and draw them
    side by side (GIF/MP4 animation or PNG contact sheet) when ``render`` is given. A generator
    that starts from a pose (LARNet) starts every sample at frame ``start_frame`` of ``start_pose``
    (any motion file), in place, and reports how far the first frame lands from it. With
    ``plant_feet`` each frame is shifted so that feet on the floor do not slide
    (`inference.footplant`): the generator's poses, with the root path its strides give."""
    from motiongen.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(model)
    if not hasattr(checkpoint.pair.generator, "make_latent"):
        raise ConfigError(f"{checkpoint.path}: a {checkpoint.kind} checkpoint fills in missing joints rather than "
                          "generating motion; use motiongen impute, or sample from a kinetic-gan, csgn or larnet "
                          "checkpoint")
    if start_pose is not None and "start" not in inspect.signature(checkpoint.pair.generator.forward).parameters:
        raise ConfigError(f"--start-pose: a {checkpoint.kind} model does not start from a given pose; "
                          "use a larnet checkpoint")
    frames = int(frames if frames is not None else checkpoint.frames)
    label = resolve_action(action, checkpoint.actions)
    check_request(frames, count, checkpoint.pair.generator)
    if truncation is None:
        truncation = float(checkpoint.config.get("truncation", 1.0))
    if not 0.0 <= truncation <= 2.0:
        raise ConfigError(f"--truncation must be between 0 and 2, got {truncation}")
    paths = output_paths(output, count) if output is not None else []
    if render is not None:
        render = check_output(render)  # a bad picture name fails before any work
    target = load_skeleton(skeleton) if skeleton else None
    start = load_start_pose(start_pose, checkpoint, start_frame) if start_pose is not None else None
    seeds = [seed + k for k in range(count)]
    features = generate_features(checkpoint.pair.generator, label, frames, seeds, truncation,
                                 resolve_device(device), batch_size, None if start is None else start.features)
    meta = {"action": checkpoint.actions[label], "model": checkpoint.kind, "truncation": truncation,
            "feet_planted": bool(plant_feet)}
    start_xz = (0.0, 0.0) if start is None else (float(start.positions[0, 0]), float(start.positions[0, 2]))
    motions = features_to_motions(features, checkpoint, meta, start_xz)
    motions = [m.with_meta(seed=s) for m, s in zip(motions, seeds)]
    errors = [] if start is None else [start_error_mm(m.positions[0], start.positions) for m in motions]
    if fps is not None:
        motions = [resample(m, fps) for m in motions]
    if target is not None and not target.same_layout(checkpoint.skeleton):
        motions = [retarget(m, target) for m in motions]
    if plant_feet:  # on the skeleton and frame rate written
        motions = [plant_motion(m) for m in motions]
    result = SampleResult(motions=motions, action=checkpoint.actions[label], start_error_mm=errors)
    for motion, path in zip(motions, paths):
        if path == "-" or path.lower().endswith(".bvh"):
            motion = _with_rotations(motion, checkpoint)
            if plant_feet:  # again on the fixed bone lengths, which move the feet a little
                motion = plant_motion(motion)
            write_motion(motion, path, "bvh")
        else:
            write_motion(motion, path, "npz")
        result.written.append(Path(path))
    if render is not None:
        titles = [f"{result.action} · seed {s}" for s in seeds]
        result.picture = render_motions(motions, titles, render, RenderOptions(columns=min(count, 4))).path
    return result


def start_error_mm(first_frame: np.ndarray, pose: np.ndarray) -> float:
    """Mean distance over joints (mm) between a sample's first frame and its start pose."""
    return float(np.linalg.norm(np.asarray(first_frame) - np.asarray(pose), axis=-1).mean() * 1000.0)


def _with_rotations(motion: Motion, checkpoint) -> Motion:
    """IK onto the training skeleton when the motion is on it, else onto one fitted to the clip."""
    if motion.skeleton.same_layout(checkpoint.skeleton):
        return motion.with_ik()
    return solve_rotations(motion)
