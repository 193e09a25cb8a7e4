"""Test-only helpers: a tiny model that keeps the `motiongen.models.base` contract (registered as
``tiny-test``) and small datasets, synthetic or cut from a few real CMU clips.

The tiny generator has what the real ones have and the loop must get right: a batch-norm buffer,
noise drawn from the global RNG inside forward (so resume must restore RNG states), and truncation
centres filled by ``compute_truncation_centres``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from motiongen.core.skeleton import Skeleton
from motiongen.data import MotionDataset, Normalization, to_features
from motiongen.errors import ConfigError
from motiongen.models import is_model, register_model
from motiongen.models.base import ModelPair, MotionCritic, MotionGenerator, seeded_normal
from motiongen.skeletons import load_skeleton

TINY = "tiny-test"


@dataclass
class TinyConfig:
    latent_channels: int = 4
    hidden: int = 8


class TinyGenerator(MotionGenerator):
    kind = TINY

    def __init__(self, config: TinyConfig, joints: int, num_classes: int):
        super().__init__()
        self.config = config
        self.joints = joints
        self.embed = nn.Embedding(num_classes, config.latent_channels)
        self.body = nn.Sequential(nn.Conv1d(config.latent_channels, config.hidden, 3, padding=1),
                                  nn.BatchNorm1d(config.hidden), nn.LeakyReLU(0.2),
                                  nn.Conv1d(config.hidden, 3 * joints, 3, padding=1))
        self.noise_weight = nn.Parameter(torch.full((1,), 0.1))
        self.register_buffer("w_centres", torch.zeros(num_classes, config.latent_channels))

    def make_latent(self, seeds: Sequence[int], frames: int) -> torch.Tensor:
        return seeded_normal(seeds, (self.config.latent_channels, frames))

    def frames_supported(self, frames: int) -> str | None:
        return None if frames >= 2 else "needs at least 2 frames"

    def forward(self, latent, labels, truncation: float = 1.0):
        embedded = self.embed(labels)[:, :, None]
        x = latent + embedded
        if truncation != 1.0:
            centre = self.w_centres[labels][:, :, None]
            x = centre + truncation * (x - centre)
        out = self.body(x)
        out = out + self.noise_weight * torch.randn_like(out)  # noise injection: global RNG
        batch, _, frames = out.shape
        return torch.tanh(out.view(batch, 3, self.joints, frames).transpose(2, 3))

    @torch.no_grad()
    def compute_truncation_centres(self, samples_per_class: int = 8) -> None:
        for label in range(self.w_centres.shape[0]):
            latent = seeded_normal(range(samples_per_class), (self.config.latent_channels, 1))
            self.w_centres[label] = (latent.mean(0)[:, 0] + self.embed.weight[label]).to(self.w_centres)


class TinyCritic(MotionCritic):
    def __init__(self, config: TinyConfig, joints: int, num_classes: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, config.hidden)
        self.conv = nn.Conv1d(3 * joints, config.hidden, 3, padding=1)
        self.out = nn.Linear(config.hidden, 1)

    def forward(self, features, labels):
        batch, channels, frames, joints = features.shape
        x = features.permute(0, 1, 3, 2).reshape(batch, channels * joints, frames)
        h = nn.functional.leaky_relu(self.conv(x), 0.2).mean(-1) + self.embed(labels)
        return self.out(h).squeeze(-1)


def build_tiny(skeleton: Skeleton, num_classes: int, **config) -> ModelPair:
    cfg = TinyConfig(**config)
    if min(cfg.latent_channels, cfg.hidden) < 1:
        raise ConfigError(f"tiny-test widths must be positive, got {cfg}")
    return ModelPair(kind=TINY, config=cfg, generator=TinyGenerator(cfg, skeleton.joint_count, num_classes),
                     critic=TinyCritic(cfg, skeleton.joint_count, num_classes))


def register() -> None:
    if not is_model(TINY):
        register_model(TINY, build_tiny)


# --- datasets -------------------------------------------------------------------------------------

def synthetic_dataset(windows: int = 24, frames: int = 8, actions: tuple[str, ...] = ("walk", "wave"),
                      skeleton: str = "h36m17", seed: int = 0) -> MotionDataset:
    """Windows of a rest pose swaying by a per-window sine, labelled alternately."""
    rng = np.random.default_rng(seed)
    skel = load_skeleton(skeleton)
    rest = _rest_positions(skel)  # [V, 3]
    t = np.arange(frames)[None, :, None, None]
    phase = rng.uniform(0, 2 * math.pi, size=(windows, 1, 1, 1))
    sway = 0.05 * np.sin(2 * math.pi * t / frames + phase)
    positions = np.broadcast_to(rest, (windows, frames, *rest.shape)).copy()
    positions[..., 0] += sway[..., 0]
    positions[..., 2] += 0.01 * t[..., 0] * (1 + np.arange(windows)[:, None, None] % 2)
    positions = positions.astype(np.float32)
    labels = (np.arange(windows) % len(actions)).astype(np.int64)
    normalization = Normalization.from_features_data(to_features(positions))
    clips = tuple({"file": f"clip{i}", "action": actions[i % len(actions)], "subject": None, "split": "train",
                   "frames": frames, "windows": 1} for i in range(windows))
    return MotionDataset(windows=positions, labels=labels, actions=actions, skeleton=skel, fps=30.0, frames=frames,
                         normalization=normalization, clip_index=np.arange(windows), clips=clips,
                         meta={"source": "synthetic"})


def _rest_positions(skeleton: Skeleton) -> np.ndarray:
    positions = np.zeros((skeleton.joint_count, 3))
    for joint in range(1, skeleton.joint_count):
        positions[joint] = positions[skeleton.parents[joint]] + skeleton.offsets[joint]
    return positions + np.array([0.0, 1.0, 0.0])


CMU_CLIPS = ("walking/02_01.bvh", "walking/02_02.bvh", "jumping/16_01.bvh", "jumping/16_02.bvh")


def cmu_subset(target: Path, files: Sequence[str] = CMU_CLIPS) -> Path:
    """A folder with a manifest naming a few CMU clips (symlinks), for `prepare_dataset`."""
    from _data import CMU_DIR, cmu_manifest

    rows = {row["file"]: row for row in cmu_manifest()}
    target.mkdir(parents=True, exist_ok=True)
    lines = ["file,action,subject,tpose_frame0"]
    for name in files:
        source = CMU_DIR / name
        link = target / name.replace("/", "_")
        if not link.exists():
            link.symlink_to(source)
        row = rows[name]
        lines.append(f"{link.name},{row['action']},{row['subject']},{row['tpose_frame0']}")
    (target / "manifest.csv").write_text("\n".join(lines) + "\n")
    return target
