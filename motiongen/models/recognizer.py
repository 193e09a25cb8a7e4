"""ST-GCN action recogniser (Yan, Xiong, Lin, AAAI 2018), the frozen feature extractor of
`motiongen evaluate` (classifier FID, accuracy, diversity, multimodality; DESIGN §8).

Action-conditioned generation papers (Action2Motion, ACTOR, MDM) measure samples with a
recogniser trained on the real data; Kinetic-GAN's FID ran an ImageNet Inception network on
skeleton arrays instead. motiongen trains its own, on the training split only, and keeps it frozen:
its penultimate features (after global average pooling) are the FID feature space.

Input: windows of positions ``[B, T, V, 3]`` (metres). The network sees each joint's position
relative to the window's first-frame root (horizontally; height kept, so crouching and jumping
differ from standing) and its velocity (per frame, scaled to 30 fps), 6 channels per joint,
normalised with training statistics stored as buffers (`fit_data`). Facing is not removed:
training rotates every window about the up axis (the loop's augmentation), so the features do not
depend on which way a generated sample faces.

    data BN → [GraphConv(A ⊙ M) → BN → ReLU → temporal conv (9 × 1, stride) → BN → dropout] + residual → ReLU
    × len(channels) → mean over frames and joints → features [B, C_last] → linear → logits

Spatial partitions are ST-GCN's (self, centripetal, centrifugal) with a learned edge-importance
mask per block (`motiongen.nn.layers.GraphConv`). The default widths (32, 64, 64, 128; strides
2, 1, 2, 1) are ST-GCN's ten blocks (64…256, strides at blocks 5 and 8) cut to four and halved in
width, so it trains in minutes on a CPU; the CMU subset (a few thousand windows) needs no more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.models.base import ModelPair, config_from_dict
from motiongen.nn.graph import skeleton_graph
from motiongen.nn.layers import GraphConv

INPUT_CHANNELS = 6  # position relative to the first-frame root, velocity
VELOCITY_FPS = 30.0  # velocities are per frame at this rate, whatever the training fps


@dataclass
class RecognizerConfig:
    frames: int = 64  # window length T the recogniser classifies
    fps: float = 30.0  # frame rate of its windows (velocities are rescaled by it)
    channels: list[int] = field(default_factory=lambda: [32, 64, 64, 128])  # block widths
    strides: list[int] = field(default_factory=lambda: [2, 1, 2, 1])  # temporal stride per block
    temporal_kernel: int = 9  # ST-GCN's temporal kernel
    dropout: float = 0.25  # after each temporal conv, during training

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RecognizerConfig":
        config = config_from_dict(cls, values, "recognizer")
        if len(config.channels) != len(config.strides) or not config.channels:
            raise ConfigError("recognizer: channels and strides need the same (non-zero) length")
        if any(int(c) < 1 for c in config.channels) or any(int(s) not in (1, 2) for s in config.strides):
            raise ConfigError("recognizer: channels must be ≥ 1 and strides 1 or 2")
        if config.temporal_kernel < 1 or config.temporal_kernel % 2 == 0:
            raise ConfigError(f"recognizer: temporal_kernel must be odd, got {config.temporal_kernel}")
        if not 0.0 <= config.dropout < 1.0:
            raise ConfigError(f"recognizer: dropout must be in [0, 1), got {config.dropout}")
        if not config.fps > 0:
            raise ConfigError(f"recognizer: fps must be positive, got {config.fps}")
        return config


# --- blocks --------------------------------------------------------------------------------------

class SpatialTemporalBlock(nn.Module):
    """One ST-GCN unit with its residual path (a strided 1×1 conv + BN when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, partitions: np.ndarray, stride: int, kernel: int,
                 dropout: float, residual: bool = True):
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, partitions, edge_importance=True, bias=True)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels), nn.Dropout(dropout, inplace=True))
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.tcn(self.gcn(x))
        if self.residual is not None:
            out = out + self.residual(x)
        return F.relu(out)


# --- the recogniser ------------------------------------------------------------------------------

class Recognizer(nn.Module):
    kind = "recognizer"

    def __init__(self, config: RecognizerConfig, skeleton: Skeleton, num_classes: int):
        super().__init__()
        self.config = config
        self.joints = skeleton.joint_count
        self.num_classes = int(num_classes)
        partitions = skeleton_graph(skeleton).partitions
        self.register_buffer("input_mean", torch.zeros(INPUT_CHANNELS, 1, self.joints))
        self.register_buffer("input_std", torch.ones(INPUT_CHANNELS, 1, self.joints))
        self.data_norm = nn.BatchNorm1d(INPUT_CHANNELS * self.joints)
        blocks, width = [], INPUT_CHANNELS
        for k, (channels, stride) in enumerate(zip(config.channels, config.strides)):
            blocks.append(SpatialTemporalBlock(width, int(channels), partitions, int(stride),
                                               int(config.temporal_kernel), float(config.dropout), residual=k > 0))
            width = int(channels)
        self.blocks = nn.ModuleList(blocks)
        self.feature_dim = width
        self.classifier = nn.Linear(width, self.num_classes)

    def frames_supported(self, frames: int) -> str | None:
        if frames != int(self.config.frames):
            return f"the recogniser classifies {self.config.frames}-frame windows"
        return None

    # --- input ----------------------------------------------------------------------------------
    def channels(self, positions: torch.Tensor) -> torch.Tensor:
        """``[B, 6, T, V]``: position relative to the first frame's root (horizontally), velocity."""
        if positions.ndim != 4 or positions.shape[-1] != 3 or positions.shape[2] != self.joints:
            raise ConfigError(f"recogniser: expected windows [B, T, {self.joints}, 3], got {list(positions.shape)}")
        origin = positions[:, :1, :1, :] * positions.new_tensor([1.0, 0.0, 1.0])
        relative = positions - origin
        velocity = torch.diff(positions, dim=1, prepend=positions[:, :1]) * (float(self.config.fps) / VELOCITY_FPS)
        return torch.cat([relative, velocity], dim=-1).permute(0, 3, 1, 2)

    def fit_data(self, positions: np.ndarray) -> None:
        """Per channel and joint mean and standard deviation over the training windows."""
        with torch.no_grad():
            chunks = [self.channels(torch.as_tensor(np.asarray(positions[k:k + 1024]), dtype=torch.float64))
                      for k in range(0, len(positions), 1024)]
            values = torch.cat(chunks)  # [N, 6, T, V]
            self.input_mean.copy_(values.mean(dim=(0, 2)).unsqueeze(1).float())
            self.input_std.copy_(values.std(dim=(0, 2)).clamp_min(1e-4).unsqueeze(1).float())

    # --- network --------------------------------------------------------------------------------
    def features(self, positions: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` penultimate features (the FID space) of windows ``[B, T, V, 3]``."""
        x = (self.channels(positions.float()) - self.input_mean) / self.input_std
        batch, channels, frames, joints = x.shape
        # ST-GCN's data BN normalises every (channel, joint) over batch and time
        x = self.data_norm(x.permute(0, 1, 3, 2).reshape(batch, channels * joints, frames))
        x = x.reshape(batch, channels, joints, frames).permute(0, 1, 3, 2)
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` class logits."""
        return self.classifier(self.features(positions))


def build(skeleton: Skeleton, num_classes: int, **config: Any) -> ModelPair:
    """An ST-GCN recogniser for ``skeleton`` (no critic: it trains on cross-entropy)."""
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ConfigError(f"a recogniser needs at least two actions, got {num_classes!r}")
    settings = RecognizerConfig.from_dict(config)
    return ModelPair(kind="recognizer", config=settings, generator=Recognizer(settings, skeleton, int(num_classes)),
                     critic=None)
