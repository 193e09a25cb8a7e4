"""Kinetic-GAN (Degardin et al., WACV 2022, "Generative Adversarial Graph Convolutional Networks for
Human Action Synthesis"), faithful to the paper and its public implementation, then made fast.

Generator (paper §3, Fig. 2): ``w = f([z, e(c)])`` by a mapping MLP (depth 4–8, LeakyReLU 0.2); w
is a graph of one vertex and one frame with ``w_dim`` channels; blocks then grow it through the
skeleton's graph pyramid (1 vertex → … → V joints, `motiongen.nn.graph.graph_pyramid`) and through
time (1 → T/16 → … → T). Each block: spatial unpooling (a new joint is the mean of its coarse
neighbours) → nearest temporal upsampling (option: linear) → ST-GCN graph convolution (3
partitions, edge importance M = 1 at start) → temporal convolution (k = 3) → + residual (a
temporal-only path: 1×1 convolution or identity) → noise injection (per-channel weight, 0 at
start) → LeakyReLU; tanh on the last.
Batch norm only in blocks without spatial upsampling (and, as the reference, not in the first).
The schedule generalises the reference's 7 blocks for a 4-level pyramid (NTU 1→5→11→25): two blocks
on one vertex, then per finer level an unpooling block followed by a plain one (none after the
last); the last blocks double time, the first reaches T/16.

Truncation on W (§3.3): ``w' = w̄_c + ψ (w − w̄_c)`` with the per-class centres w̄_c computed once
(`compute_truncation_centres`) and kept in the ``w_centres`` buffer, so checkpoints carry them.

Critic: mirrors the generator: the class as input channels (a learned embedding broadcast over
T × V), blocks of graph convolution + temporal convolution (+ residual) that coarsen by node
selection and halve time, no normalisation, global average pool → linear → score.

Latents: ``[z | noise of block 0 | noise of block 1 | …]`` per sample, drawn by `make_latent` from
that sample's own seeded CPU generator, so sample k with seed S+k is the same whatever the batch.

Speed: no Python loop over samples, joints or frames; graph convolutions are one matmul + one
convolution each with unpooling/selection fused into the graph matrices; work that commutes with
the temporal upsampling (graph convolution, residual) runs at the short length; critic
downsampling is a strided convolution computing only the frames kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.models.base import ModelPair, MotionCritic, MotionGenerator, seeded_normal
from motiongen.nn.action_classifier import ActionClassifierMixin, classifier_option_problems, limb_masks
from motiongen.nn.class_projection import ClassProjection, class_projection_problem
from motiongen.nn.critic_augment import critic_augment_names, critic_augment_problem
from motiongen.nn.frame_changes import FrameChanges, frame_change_floor_problem
from motiongen.nn.graph import PyramidLevel, graph_pyramid
from motiongen.nn.jitter import CriticJitterMixin, jitter_option_problems
from motiongen.nn.layers import (GraphConv, MappingNetwork, NoiseInjection, add_repeated, interpolate_frames,
                                 repeat_frames)
from motiongen.nn.minibatch_stddev import MinibatchStddev, stddev_group_problem
from motiongen.nn.mode_seeking import mode_seeking_problem
from motiongen.nn.smoothness import GeneratorSmoothnessMixin, smoothness_weight_problem

KIND = "kinetic-gan"
COORDINATES = 3  # output channels: x, y, z per joint
TEMPORAL_DOUBLINGS = 4  # T/16 → T
TEMPORAL_UPSAMPLINGS = ("nearest", "linear")


# --- config ------------------------------------------------------------------------------------

@dataclass
class KineticGANConfig:
    """Every field of a Kinetic-GAN; checkpoints store it (as a dict) and `build` takes its fields.

    The skeleton's pyramid fixes the number of blocks (generator 2L − 1, critic 2L − 2 for L
    levels); a channel list shorter than that repeats its last entry (the generator's last block
    always makes 3 channels). The reference's NTU generator is ``(512, 256, 128, 64, 32, 3)`` on a
    4-level pyramid; the default keeps 32 channels in the last-but-one block instead of 3. A class
    embedding size of 0 means the class count, as the reference.
    """

    frames: int = 64  # T, frames per clip; a multiple of 16 (the generator makes exactly this many)
    latent_dim: int = 512  # size of z, the per-clip Gaussian latent
    w_dim: int = 512  # size of w, the mapping network's output (channels of the 1×1 start graph)
    mapping_depth: int = 4  # linear layers in the mapping network (the paper uses 4–8)
    class_embedding_dim: int = 0  # learned class embedding size (G input, D channels); 0 = class count
    generator_channels: tuple[int, ...] = (512, 256, 128, 64, 32)  # G block widths before the 3-wide output block
    critic_channels: tuple[int, ...] = (32, 64, 128, 256, 512, 512)  # D block widths, first onwards
    noise_injection: bool = True  # per-block noise per (frame, joint) with a learned per-channel weight (0 at start)
    leaky_slope: float = 0.2  # negative slope of every LeakyReLU
    batch_norm: bool = True  # batch norm in generator blocks without spatial upsampling (never in the critic)
    edge_importance: bool = True  # learn a per-partition edge-importance mask M (ones at start)
    truncation: float = 0.95  # default ψ when sampling with the truncation trick on W (1 = none)
    # Not in the paper, off by default: the critic's auxiliary action classifier (AC-GAN, K + 1).
    action_classifier_weight: float = 0.0  # weight of the fakes' classification in the generator's loss
    classifier_rejects_fakes: bool = False  # the classifier also learns a "generated" class
    classify_fakes_among_actions: bool = False  # generator's term over the K actions only (`nn.action_classifier`)
    classifier_width: int = 128  # channels of the classifier's temporal convolutions
    classifier_motion_only: bool = False  # the classifier sees motion, not posture (`nn.action_classifier`)
    classifier_rejects_stills: bool = False  # it reads real windows frozen still as no action (`nn.action_classifier`)
    classifier_rejects_held_limbs: bool = False  # ... and windows with their busiest limbs held (`nn.action_classifier`)
    classifier_rejects_jitter: bool = False  # ... and jittered windows (`nn.jitter`, `jitter_kind`)
    critic_frame_changes: bool = False  # the critic also sees frame-to-frame changes (`nn.frame_changes`)
    critic_frame_change_floor: float = 0.5  # their scale's floor: a fraction of the median spread
    critic_jitter_share: float = 0.0  # share of the critic's fakes that are jittered real windows (`nn.jitter`)
    jitter_kind: str = "white"  # what those and the classifier's jittered windows are: "white" or "sharpened"
    critic_minibatch_stddev: int = 0  # group size of the critic's spread channel (`nn.minibatch_stddev`); 0 = off
    mode_seeking_weight: float = 0.0  # generator's mode-seeking term (`nn.mode_seeking`); 0 = off
    smoothness_weight: float = 0.0  # generator's hinge on second differences above the data's (`nn.smoothness`)
    critic_class_projection: bool = False  # the critic's score adds ⟨e_y, features⟩ (`nn.class_projection`)
    critic_augment: tuple[str, ...] = ()  # what the critic sees is augmented (`nn.critic_augment`); () = off
    critic_augment_probability: float = 1.0  # per clip and transformation (ADA's p)
    temporal_upsampling: str = "nearest"  # G's time resize: "nearest" (the paper's) or "linear" (no steps)

    def __post_init__(self):
        self.generator_channels = tuple(int(c) for c in self.generator_channels)
        self.critic_channels = tuple(int(c) for c in self.critic_channels)
        problems = []
        if self.frames < 16 or self.frames % 16:
            problems.append(f"frames must be a positive multiple of 16 (the generator doubles T/16 "
                            f"{TEMPORAL_DOUBLINGS} times), got {self.frames}")
        for name in ("latent_dim", "w_dim", "mapping_depth"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.class_embedding_dim < 0:
            problems.append(f"class_embedding_dim must be 0 (= class count) or more, got {self.class_embedding_dim}")
        for name in ("generator_channels", "critic_channels"):
            channels = getattr(self, name)
            if not channels or min(channels) < 1:
                problems.append(f"{name} must list positive channel counts, got {channels}")
        if self.leaky_slope < 0:
            problems.append(f"leaky_slope must be ≥ 0, got {self.leaky_slope}")
        if not 0.0 <= self.truncation <= 1.0:
            problems.append(f"truncation must be in [0, 1], got {self.truncation}")
        problems += classifier_option_problems(self.action_classifier_weight, self.classifier_rejects_fakes,
                                               self.classify_fakes_among_actions, self.classifier_motion_only,
                                               self.classifier_rejects_stills, self.classifier_rejects_held_limbs,
                                               self.classifier_rejects_jitter)
        if self.classifier_width < 1:
            problems.append(f"classifier_width must be at least 1, got {self.classifier_width}")
        problems += jitter_option_problems(self.critic_jitter_share, self.jitter_kind, self.classifier_rejects_jitter)
        problems += [problem for problem in (stddev_group_problem(self.critic_minibatch_stddev),
                                             frame_change_floor_problem(self.critic_frame_change_floor),
                                             mode_seeking_problem(self.mode_seeking_weight),
                                             smoothness_weight_problem(self.smoothness_weight),
                                             class_projection_problem(self.critic_class_projection),
                                             critic_augment_problem(self.critic_augment_probability)) if problem]
        if self.temporal_upsampling not in TEMPORAL_UPSAMPLINGS:
            problems.append(f"temporal_upsampling must be one of {', '.join(TEMPORAL_UPSAMPLINGS)}, "
                            f"got {self.temporal_upsampling!r}")
        try:
            self.critic_augment = critic_augment_names(self.critic_augment)
        except ConfigError as error:
            problems.append(str(error))
        if problems:
            raise ConfigError("kinetic-gan config: " + "; ".join(problems))


# --- block schedules -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockPlan:
    level: int  # pyramid level the block's output lives on (0 = one vertex)
    resample: bool  # generator: unpool from level-1 first; critic: select level-1's vertices after
    frames_in: int
    frames_out: int
    in_channels: int
    out_channels: int
    batch_norm: bool
    residual: bool


def _widths(channels: tuple[int, ...], count: int, name: str, pyramid: list[PyramidLevel]) -> list[int]:
    if len(channels) > count:
        sizes = "→".join(str(level.graph.joint_count) for level in pyramid)
        raise ConfigError(f"{name} lists {len(channels)} widths but this skeleton's pyramid ({sizes} joints) "
                          f"makes {count} blocks to set")
    return list(channels) + [channels[-1]] * (count - len(channels))


def generator_plan(config: KineticGANConfig, pyramid: list[PyramidLevel]) -> list[BlockPlan]:
    """Blocks: two on one vertex, then per finer level an unpooling block and (but the last) a plain
    one; the last TEMPORAL_DOUBLINGS blocks double time, the second reaches T/16 from 1 frame."""
    steps = [(0, False), (0, False)]
    for level in range(1, len(pyramid)):
        steps.append((level, True))
        if level < len(pyramid) - 1:
            steps.append((level, False))
    count = len(steps)
    widths = _widths(config.generator_channels, count - 1, "generator_channels", pyramid) + [COORDINATES]
    frames_out = [1] + [config.frames // 2 ** min(count - 1 - i, TEMPORAL_DOUBLINGS) for i in range(1, count)]
    plans = []
    for i, (level, unpool) in enumerate(steps):
        plans.append(BlockPlan(
            level=level, resample=unpool, frames_in=1 if i == 0 else frames_out[i - 1], frames_out=frames_out[i],
            in_channels=config.w_dim if i == 0 else widths[i - 1], out_channels=widths[i],
            batch_norm=config.batch_norm and not unpool and i > 0, residual=i > 0))
    return plans


def critic_plan(config: KineticGANConfig, pyramid: list[PyramidLevel], in_channels: int) -> list[BlockPlan]:
    """Blocks: per coarser level a block that selects its vertices after the convolution, then a plain
    one on it; time halves from the third block on until T/16."""
    steps = []
    for level in range(len(pyramid) - 1, 0, -1):
        steps += [(level - 1, True), (level - 1, False)]
    widths = _widths(config.critic_channels, len(steps), "critic_channels", pyramid)
    frames = [config.frames] + [config.frames // 2 ** min(max(i - 1, 0), TEMPORAL_DOUBLINGS)
                                for i in range(len(steps))]
    return [BlockPlan(level=level, resample=select, frames_in=frames[i], frames_out=frames[i + 1],
                      in_channels=in_channels if i == 0 else widths[i - 1], out_channels=widths[i],
                      batch_norm=False, residual=i > 0)
            for i, (level, select) in enumerate(steps)]


# --- generator ---------------------------------------------------------------------------------

class GeneratorBlock(nn.Module):
    """``x [B, C_in, T_in, V_coarse or V] -> [B, C_out, T_out, V]`` (see the module docstring)."""

    def __init__(self, plan: BlockPlan, pyramid: list[PyramidLevel], config: KineticGANConfig, final: bool):
        super().__init__()
        self.plan, self.final, self.slope = plan, final, config.leaky_slope
        self.factor = plan.frames_out // plan.frames_in
        self.resize = interpolate_frames if config.temporal_upsampling == "linear" else repeat_frames
        upsample = pyramid[plan.level - 1].upsample if plan.resample else None
        self.gcn = GraphConv(plan.in_channels, plan.out_channels, pyramid[plan.level].graph.partitions,
                             upsample=upsample, edge_importance=config.edge_importance)
        self.tcn = nn.Conv2d(plan.out_channels, plan.out_channels, (3, 1), padding=(1, 0))
        self.norm = nn.BatchNorm2d(plan.out_channels) if plan.batch_norm else None
        self.residual = self.residual_norm = None
        if plan.residual and plan.in_channels != plan.out_channels:
            self.residual = nn.Conv2d(plan.in_channels, plan.out_channels, 1)
            self.residual_norm = nn.BatchNorm2d(plan.out_channels) if plan.batch_norm else None
        self.noise = NoiseInjection(plan.out_channels) if config.noise_injection else None

    @property
    def noise_shape(self) -> tuple[int, int]:
        return self.plan.frames_out, self.gcn.output_vertices

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        # The graph convolution, unpooling and the residual's 1×1 convolution act per frame, so they
        # commute with either upsampling in time and run at T_in; only the temporal convolution sees
        # T_out. (With linear upsampling the residual's batch norm sees T_in frames' statistics.)
        y = self.tcn(self.resize(self.gcn(x), self.factor))
        if self.norm is not None:
            y = self.norm(y)
        if self.plan.residual:
            shortcut = x if self.residual is None else self.residual(x)
            if self.residual_norm is not None:  # nearest repeats leave batch statistics unchanged
                shortcut = self.residual_norm(shortcut)
            if self.gcn.unpool is not None:
                shortcut = torch.matmul(shortcut, self.gcn.unpool)
            y = add_repeated(y, shortcut, self.factor) if self.resize is repeat_frames else \
                y + self.resize(shortcut, self.factor)
        if self.noise is not None:
            y = self.noise(y, noise)
        return torch.tanh(y) if self.final else F.leaky_relu(y, self.slope)


class KineticGANGenerator(GeneratorSmoothnessMixin, MotionGenerator):
    kind = KIND

    def __init__(self, config: KineticGANConfig, skeleton: Skeleton, num_classes: int):
        super().__init__()
        self.config, self.num_classes = config, num_classes
        pyramid = graph_pyramid(skeleton)
        if len(pyramid) < 2:
            raise ConfigError(f"skeleton {skeleton.name!r} has one joint; Kinetic-GAN needs a graph to grow")
        embedding_dim = config.class_embedding_dim or num_classes
        self.class_embedding = nn.Embedding(num_classes, embedding_dim)
        self.mapping = MappingNetwork(config.latent_dim + embedding_dim, config.w_dim, config.mapping_depth,
                                      config.leaky_slope)
        plans = generator_plan(config, pyramid)
        self.blocks = nn.ModuleList(GeneratorBlock(plan, pyramid, config, final=i == len(plans) - 1)
                                    for i, plan in enumerate(plans))
        self.noise_shapes = [block.noise_shape for block in self.blocks] if config.noise_injection else []
        self.latent_size = config.latent_dim + sum(t * v for t, v in self.noise_shapes)
        self.register_buffer("w_centres", torch.zeros(num_classes, config.w_dim))  # w̄_c, saved in checkpoints
        self.centres_ready = False
        self.register_load_state_dict_post_hook(_note_loaded_centres)
        self._init_smoothness(skeleton.mirror_index(), num_classes, config.smoothness_weight)

    def fit_data(self, positions, labels=None, normalization=None) -> None:
        """The smoothness term's target from the training windows (when it is on)."""
        self._fit_smoothness(positions, labels, normalization)

    # -- the MotionGenerator contract --
    def frames_supported(self, frames: int) -> str | None:
        if frames == self.config.frames:
            return None
        return (f"this Kinetic-GAN checkpoint generates {self.config.frames} frames, not {frames}; "
                f"use a CSGN or LARNet checkpoint for other lengths (`motiongen models list` names the shipped ones), "
                f"or train Kinetic-GAN with --frames "
                f"{max(16, -(-frames // 16) * 16)}")

    def make_latent(self, seeds: Sequence[int], frames: int) -> torch.Tensor:
        """``[len(seeds), latent_size]`` on the CPU: z then each block's noise, row k from seed k."""
        reason = self.frames_supported(frames)
        if reason is not None:
            raise ConfigError(reason)
        return seeded_normal(seeds, (self.latent_size,))

    def mapped(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``w [B, w_dim]`` from ``z [B, latent_dim]`` and ``labels [B]``."""
        return self.mapping(torch.cat([z, self.class_embedding(labels)], dim=1))

    def forward(self, latent: torch.Tensor, labels: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """``latent [B, latent_size]``, ``labels [B]`` (int64) → ``[B, 3, T, V]`` in (-1, 1)."""
        if latent.ndim != 2 or latent.shape[1] != self.latent_size:
            raise ValueError(f"latent must be [B, {self.latent_size}] (from make_latent), got {tuple(latent.shape)}")
        batch, latent_dim = latent.shape[0], self.config.latent_dim
        w = self.mapped(latent[:, :latent_dim], labels)
        if truncation != 1.0:
            if not self.centres_ready:
                raise ConfigError("truncation needs the class centres of W: call compute_truncation_centres() "
                                  "(or load a checkpoint that has them), or sample with truncation 1")
            centres = self.w_centres[labels].to(w.dtype)
            w = centres + truncation * (w - centres)
        x = w[:, :, None, None]
        offset = latent_dim
        for index, block in enumerate(self.blocks):
            noise = None
            if self.noise_shapes:
                frames, vertices = self.noise_shapes[index]
                noise = latent[:, offset:offset + frames * vertices].reshape(batch, 1, frames, vertices)
                offset += frames * vertices
            x = block(x, noise)
        return x

    # -- truncation --
    @torch.no_grad()
    def compute_truncation_centres(self, samples_per_class: int = 1000, seed: int = 0,
                                   chunk_size: int = 8192) -> torch.Tensor:
        """Fill ``w_centres [num_classes, w_dim]`` with the mean w of ``samples_per_class`` latents per
        class (a seeded CPU draw, so the centres are reproducible); returns them."""
        if samples_per_class < 1:
            raise ConfigError(f"samples_per_class must be at least 1, got {samples_per_class}")
        device = self.w_centres.device
        generator = torch.Generator().manual_seed(int(seed))
        sums = torch.zeros(self.num_classes, self.config.w_dim, dtype=torch.float64, device=device)
        total = self.num_classes * samples_per_class
        for start in range(0, total, chunk_size):  # bounded memory for many classes
            count = min(chunk_size, total - start)
            z = torch.randn(count, self.config.latent_dim, generator=generator).to(device)
            labels = torch.arange(start, start + count, device=device) // samples_per_class
            sums.index_add_(0, labels, self.mapped(z, labels).double())
        self.w_centres.copy_(sums / samples_per_class)
        self.centres_ready = True
        return self.w_centres


def _note_loaded_centres(module: KineticGANGenerator, incompatible_keys) -> None:
    module.centres_ready = bool(module.w_centres.abs().sum() > 0)


# --- critic --------------------------------------------------------------------------------------

class CriticBlock(nn.Module):
    """``x [B, C_in, T, V] -> [B, C_out, T / stride, V or V_coarse]``: graph conv → temporal conv
    (+ residual) → node selection → nearest downsampling in time → LeakyReLU, with the selection and
    downsampling folded in (only kept joints and frames are computed)."""

    def __init__(self, plan: BlockPlan, pyramid: list[PyramidLevel], config: KineticGANConfig):
        super().__init__()
        self.plan, self.slope = plan, config.leaky_slope
        self.stride = plan.frames_in // plan.frames_out
        fine = plan.level + 1 if plan.resample else plan.level
        select = pyramid[plan.level].select if plan.resample else None
        self.gcn = GraphConv(plan.in_channels, plan.out_channels, pyramid[fine].graph.partitions,
                             select=select, edge_importance=config.edge_importance)
        self.tcn = nn.Conv2d(plan.out_channels, plan.out_channels, (3, 1), stride=(self.stride, 1), padding=(1, 0))
        self.residual = None
        if plan.residual and plan.in_channels != plan.out_channels:
            self.residual = nn.Conv2d(plan.in_channels, plan.out_channels, 1, stride=(self.stride, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.plan.residual:
            if self.residual is not None:
                shortcut = self.residual(x)
            else:
                shortcut = x[:, :, ::self.stride] if self.stride > 1 else x
            if self.gcn.select is not None:
                shortcut = shortcut.index_select(3, self.gcn.select)
            y = y + shortcut
        return F.leaky_relu(y, self.slope)


class KineticGANCritic(ActionClassifierMixin, CriticJitterMixin, MotionCritic):
    def __init__(self, config: KineticGANConfig, skeleton: Skeleton, num_classes: int):
        super().__init__()
        self.config = config
        pyramid = graph_pyramid(skeleton)
        embedding_dim = config.class_embedding_dim or num_classes
        self.class_embedding = nn.Embedding(num_classes, embedding_dim)
        self.frame_changes = (FrameChanges(len(skeleton.parents), config.critic_frame_change_floor)
                              if config.critic_frame_changes else None)
        inputs = COORDINATES * (2 if self.frame_changes is not None else 1)
        plans = critic_plan(config, pyramid, inputs + embedding_dim)
        self.minibatch_stddev = None
        if config.critic_minibatch_stddev:  # the last block also reads the group's spread
            self.minibatch_stddev = MinibatchStddev(config.critic_minibatch_stddev)
            plans[-1] = dataclasses.replace(plans[-1], in_channels=plans[-1].in_channels + 1)
        self.blocks = nn.ModuleList(CriticBlock(plan, pyramid, config) for plan in plans)
        self.score = nn.Linear(plans[-1].out_channels, 1)
        self.class_projection = (ClassProjection(num_classes, plans[-1].out_channels)
                                 if config.critic_class_projection else None)
        self._init_action_classifier(len(skeleton.parents), config.classifier_width, num_classes,
                                     config.action_classifier_weight, config.classifier_rejects_fakes,
                                     config.classify_fakes_among_actions, config.classifier_motion_only,
                                     config.classifier_rejects_stills,
                                     limb_masks(skeleton) if config.classifier_rejects_held_limbs else None,
                                     config.classifier_rejects_jitter)
        self._init_critic_jitter(len(skeleton.parents), config.critic_jitter_share, config.jitter_kind)

    def forward(self, features: torch.Tensor, labels: torch.Tensor, classify: torch.Tensor | None = None):
        """``features [B, 3, T, V]``, ``labels [B]`` → scores ``[B]``; with ``classify`` (feature
        sequences) also the action classifier's logits, ``(scores, logits)``."""
        batch, _, frames, vertices = features.shape
        classes = self.class_embedding(labels).to(features.dtype)[:, :, None, None]
        seen = features if self.frame_changes is None else self.frame_changes(features)
        x = torch.cat([seen, classes.expand(batch, classes.shape[1], frames, vertices)], dim=1)
        for block in self.blocks[:-1]:
            x = block(x)
        x = self.blocks[-1](x if self.minibatch_stddev is None else self.minibatch_stddev(x))
        pooled = x.mean(dim=(2, 3))
        scores = self.score(pooled).squeeze(1)
        if self.class_projection is not None:
            scores = scores + self.class_projection(pooled, labels)
        return scores if classify is None else (scores, self.classify(classify))

    def fit_data(self, positions, normalization=None) -> None:
        """The frame-change scales from the training windows (when the critic or its classifier
        has them)."""
        if self.frame_changes is not None:
            self.frame_changes.fit(positions, normalization)
        self._fit_action_classifier(positions, normalization)
        self._fit_critic_jitter(positions, normalization)


# --- registry entry -----------------------------------------------------------------------------

def build(skeleton: Skeleton, num_classes: int, **config) -> ModelPair:
    """The generator/critic pair for ``skeleton`` and ``num_classes`` classes from config fields."""
    known = {field.name for field in dataclasses.fields(KineticGANConfig)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(f"unknown kinetic-gan config key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if num_classes < 1:
        raise ConfigError(f"kinetic-gan needs at least one class, got {num_classes}")
    cfg = KineticGANConfig(**config)
    return ModelPair(kind=KIND, config=cfg, generator=KineticGANGenerator(cfg, skeleton, num_classes),
                     critic=KineticGANCritic(cfg, skeleton, num_classes))
