"""CSGN: Convolutional Sequence Generation Network (Yan, Li, Xiong, Yan, Lin, ICCV 2019), class
conditional, as a `ModelPair` for WGAN-GP training (DESIGN §6.2).

Generator (fully convolutional over time, so one checkpoint makes any length):

    z [B, C0, L]  (L = ceil(T / 16) steps of a Gaussian-process latent sequence)
      ⊕ class embedding at every step                     -> [B, C0 + E, L]
    stem: temporal conv k=3 at one vertex                  -> [1, B, L, c_0]   (vertex-major inside)
    N blocks (block b: c_b -> c_{b+1}):
      graph upsampling (one pyramid level up: x ← U x, U = level.upsample, fixed) in the first G
      blocks (G = pyramid levels − 1); spatially-varying graph conv (a weight matrix per
      (vertex, neighbour)); temporal ×2 upsampling (linear) in the last 4 blocks → BN → LeakyReLU;
      temporal conv k=3 → BN → LeakyReLU
    linear to 3 channels per vertex and frame, tanh        -> [B, 3, 16 L, V], cropped to T

(The paper's order is upsample-then-convolve; the graph conv and the linear time upsampling are both
linear and act on different axes, so they commute and the graph conv runs on half the frames.)

Critic (WGAN-GP: no normalisation): class embedding as input channels, 1×1 stem, then per block an
ST-GCN graph conv → LeakyReLU → temporal conv k=3 (stride 2 in the first 4 blocks) → LeakyReLU →
coarsening by node selection (``level.select``) in the last G blocks; global mean over time and
joints → linear → score [B]. It accepts any length ≥ 1. (Where selection would drop vertices that
are two hops from every kept one — a whole level merged into one vertex — it pools instead; see
`csgn_levels`.)

`CSGNEncoder` is CSGN's inverse mapping H (motion → latent sequence; the paper trains it with a
cycle-consistency loss and uses it for completion and prediction). It is implemented and tested for
shapes and gradients but NOT yet wired into `motiongen.training`.

Conventions chosen here (the paper leaves them open, or its full text was not at hand to check):
- ``length_scale_frames`` (σ̄) is in OUTPUT frames: channel c has length scale
  ``σ_c = (c / C0) · σ̄ / 16`` latent steps (σ̄ = 100 frames → 0.05 … 6.25 steps), so the spectrum
  means the same thing in frames whatever the sequence length.
- BatchNorm + LeakyReLU(0.2) after every generator conv (DCGAN-style); no normalisation in the
  critic (WGAN-GP). Sampling runs the generator in eval mode (running statistics), so samples do not
  depend on batch composition. An EMA copy must copy buffers too.
- Temporal convs in the generator pad by replication, so the ends of a sequence see a continuation
  of the signal rather than zeros (less to unlearn when a model trained on short windows samples long
  ones). The critic zero-pads.
- Truncation: CSGN has no W space; ``forward(..., truncation=ψ)`` scales the latent sequence
  towards zero (``ψ · z``, the mode of the GP prior); the class embedding is not scaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.models.base import ModelPair, MotionCritic, MotionGenerator, config_from_dict, seeded_normal
from motiongen.nn.action_classifier import ActionClassifierMixin, classifier_option_problems, limb_masks
from motiongen.nn.class_projection import ClassProjection, class_projection_problem
from motiongen.nn.critic_augment import critic_augment_names, critic_augment_problem
from motiongen.nn.frame_changes import FrameChanges, frame_change_floor_problem
from motiongen.nn.jitter import CriticJitterMixin, jitter_option_problems
from motiongen.nn.minibatch_stddev import MinibatchStddev, stddev_group_problem
from motiongen.nn.mode_seeking import mode_seeking_problem
from motiongen.nn.smoothness import GeneratorSmoothnessMixin, smoothness_weight_problem
from motiongen.nn.csgn_layers import (
    ChannelsLastBatchNorm,
    GaussianProcessPrior,
    PartitionGraphConv,
    SpatiallyVaryingGraphConv,
    TemporalConv,
    upsample_time_linear,
)
from motiongen.nn.graph import PyramidLevel, graph_pyramid, make_graph

__all__ = [
    "CSGNConfig",
    "CSGNGenerator",
    "CSGNCritic",
    "CSGNEncoder",
    "CSGNLevel",
    "csgn_levels",
    "build",
    "build_encoder",
]

FRAMES_PER_LATENT_STEP = 16  # the generator doubles time 4 times
TIME_DOUBLINGS = 4
MIN_FRAMES = 16  # one latent step
MAX_FRAMES = 1_000_000  # ~2.3 hours at 120 fps; the 32-channel last layer alone is 3 GB per sample there


# --- config ------------------------------------------------------------------------------------


CRITIC_INITS = ("he", "pytorch")  # critic_init values


@dataclass
class CSGNConfig:
    frames: int = 64  # training window length in frames, a multiple of 16 (sampling takes any length ≥ 16)
    latent_channels: int = 128  # C0: channels of the Gaussian-process latent sequence
    length_scale_frames: float = 100.0  # σ̄ in output frames; channel c gets σ_c = (c / C0) · σ̄
    channels: tuple[int, ...] = (1024, 512, 256, 128, 64, 32)  # generator widths: stem, then one per block
    class_channels: int = 64  # width of the learned class embedding (generator input, critic input)
    critic_channels: tuple[int, ...] = (32, 64, 128, 256, 512)  # critic (and encoder) widths: stem, then one per block
    leaky_slope: float = 0.2  # negative slope of every LeakyReLU
    batch_norm: bool = True  # BatchNorm after each generator conv (no normalisation in the critic)
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
    # Critic and encoder start: "pytorch" (PyTorch's default) or "he" (He-normal convs, zero biases).
    # "pytorch" is the default: each CPU run started with "he" stood still at step 1000 (`_he_initialise`).
    critic_init: str = "pytorch"

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.critic_channels = tuple(int(c) for c in self.critic_channels)
        self.length_scale_frames = float(self.length_scale_frames)
        self.leaky_slope = float(self.leaky_slope)
        try:
            self.critic_augment = critic_augment_names(self.critic_augment)
        except ConfigError as error:
            raise ConfigError(f"csgn {error}") from None
        for problem in classifier_option_problems(self.action_classifier_weight, self.classifier_rejects_fakes,
                                                  self.classify_fakes_among_actions, self.classifier_motion_only,
                                                  self.classifier_rejects_stills,
                                                  self.classifier_rejects_held_limbs,
                                                  self.classifier_rejects_jitter):
            raise ConfigError(f"csgn {problem}")
        for problem in jitter_option_problems(self.critic_jitter_share, self.jitter_kind,
                                              self.classifier_rejects_jitter):
            raise ConfigError(f"csgn {problem}")
        if self.critic_init not in CRITIC_INITS:
            raise ConfigError(f"csgn critic_init must be one of {', '.join(CRITIC_INITS)}, got {self.critic_init!r}")
        for problem in (stddev_group_problem(self.critic_minibatch_stddev),
                        frame_change_floor_problem(self.critic_frame_change_floor),
                        mode_seeking_problem(self.mode_seeking_weight),
                        smoothness_weight_problem(self.smoothness_weight),
                        class_projection_problem(self.critic_class_projection),
                        critic_augment_problem(self.critic_augment_probability)):
            if problem:
                raise ConfigError(f"csgn {problem}")
        for name in ("frames", "latent_channels", "class_channels", "classifier_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ConfigError(f"csgn {name} must be a positive whole number, got {value!r}")
            setattr(self, name, int(value))
        if not MIN_FRAMES <= self.frames <= MAX_FRAMES or self.frames % FRAMES_PER_LATENT_STEP:
            raise ConfigError(f"csgn training frames must be a multiple of {FRAMES_PER_LATENT_STEP} between "
                              f"{MIN_FRAMES} and {MAX_FRAMES:,} (sampling takes any length), got {self.frames}")
        if not (math.isfinite(self.length_scale_frames) and self.length_scale_frames > 0):
            raise ConfigError(f"csgn length_scale_frames must be positive, got {self.length_scale_frames}")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ConfigError(f"csgn leaky_slope must be in [0, 1), got {self.leaky_slope}")
        for name in ("channels", "critic_channels"):
            widths = getattr(self, name)
            if len(widths) < TIME_DOUBLINGS + 1 or min(widths) < 1:
                raise ConfigError(
                    f"csgn {name} needs at least {TIME_DOUBLINGS + 1} positive widths "
                    f"(a stem and one block per doubling of time), got {list(widths)}"
                )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CSGNConfig":
        return config_from_dict(cls, values, "csgn")


def _check_pyramid(config: CSGNConfig, pyramid: list[PyramidLevel], skeleton_name: str) -> None:
    steps = len(pyramid) - 1
    for name in ("channels", "critic_channels"):
        blocks = len(getattr(config, name)) - 1
        if blocks < steps:
            raise ConfigError(
                f"skeleton {skeleton_name} has a {len(pyramid)}-level graph pyramid; csgn {name} needs at "
                f"least {steps + 1} widths (one block per level), got {blocks + 1}"
            )


@dataclass(frozen=True, eq=False)
class CSGNLevel:
    """One graph-pyramid level as CSGN uses it (index 0 = one vertex, last = the full skeleton)."""

    joint_count: int
    adjacency: np.ndarray  # [V, V] 0/1
    partitions: np.ndarray  # [3, V, V] ST-GCN partitions of ``adjacency``
    select: np.ndarray | None  # [V] this level's vertices in the finer level (None for the finest)
    upsample: np.ndarray  # [V_finer, V]: finer = upsample @ this
    pool: np.ndarray | None  # [V_finer, V] region means replacing `select` where selection would lose vertices


def csgn_levels(pyramid: list[PyramidLevel]) -> list[CSGNLevel]:
    """`graph_pyramid` levels with two repairs, keeping the vertex sets and selections.

    - A finer vertex whose ``upsample`` row is all zero (it had no kept neighbour: the pyramid merges
      a level without edges into one vertex, as in ntu25's 5 → 1 and cmu31's 6 → 1) takes the mean of
      all coarse vertices — a copy when the coarse level is one vertex.
    - A coarse level's edges also join vertices whose regions touch in the finer level,
      ``A_c ∪ [Uᵀ (A_f + I) U > 0]``. The two-hop rule alone leaves ntu25's 5- and 6-vertex levels with
      0 and 1 edges: graph convs there could not pass messages, and the critic's node selection
      would drop whatever never reached a kept vertex.
    - Node selection keeps the information of a removed vertex only if it is next to a kept one (the
      graph conv before the selection carries it over). Where that fails (a merge of a whole level
      into one vertex, e.g. cmu31's 6 → 1 with the hands two hops from the hips), ``pool`` gives the
      critic the mean over each coarse vertex's region instead (columns of ``U`` normalised).
    """
    count = len(pyramid)
    adjacency: list[np.ndarray] = [np.zeros(0)] * count
    upsample: list[np.ndarray] = [np.zeros(0)] * count
    adjacency[-1] = (pyramid[-1].graph.adjacency > 0).astype(np.float32)
    upsample[-1] = pyramid[-1].upsample
    for index in range(count - 2, -1, -1):
        matrix = pyramid[index].upsample.astype(np.float32).copy()
        orphans = matrix.sum(1) == 0
        matrix[orphans] = 1.0 / matrix.shape[1]
        finer = adjacency[index + 1] + np.eye(len(matrix), dtype=np.float32)
        touching = (matrix.T @ finer @ matrix) > 0
        np.fill_diagonal(touching, False)
        adjacency[index] = np.maximum(pyramid[index].graph.adjacency > 0, touching).astype(np.float32)
        upsample[index] = matrix
    levels = []
    for index, level in enumerate(pyramid):
        graph = make_graph(adjacency[index], center=level.graph.center)
        select, pool = (None, None) if index == count - 1 else (level.select, None)
        if select is not None:
            reach = adjacency[index + 1] + np.eye(len(adjacency[index + 1]), dtype=np.float32)
            if not (reach[:, select] > 0).any(1).all():
                pool = upsample[index] / upsample[index].sum(0, keepdims=True)
        levels.append(CSGNLevel(graph.joint_count, graph.adjacency, graph.partitions, select, upsample[index], pool))
    return levels


def _leaky(slope: float) -> nn.Module:
    return nn.LeakyReLU(slope)


# --- generator ---------------------------------------------------------------------------------


class _UpBlock(nn.Module):
    """Graph upsampling → spatially-varying graph conv → temporal ×2 → temporal conv (one CSGN up-block).

    Vertex-major ``[V_coarse, B, T, C_in] -> [V_fine, B, 2T or T, C_out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, upsample: np.ndarray | None, graph_adjacency: np.ndarray,
                 double_time: bool, config: CSGNConfig):
        super().__init__()
        self.graph_up = upsample is not None
        self.double_time = double_time
        if upsample is not None:  # [V_fine, V_coarse]: a kept vertex copies itself, a new one averages its sources
            self.register_buffer("upsample", torch.as_tensor(upsample), persistent=False)
        gain = math.sqrt(2.0 / (1.0 + config.leaky_slope**2))
        self.graph_conv = SpatiallyVaryingGraphConv(in_channels, out_channels, graph_adjacency, gain=gain)
        self.temporal = TemporalConv(out_channels, out_channels, kernel_size=3)
        norm = ChannelsLastBatchNorm if config.batch_norm else (lambda _: nn.Identity())
        self.norm_graph, self.norm_time = norm(out_channels), norm(out_channels)
        self.act = _leaky(config.leaky_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.graph_up:
            vertices, batch, frames, channels = x.shape
            fine = torch.matmul(self.upsample.to(x.dtype), x.reshape(vertices, -1))
            x = fine.view(-1, batch, frames, channels)
        x = self.graph_conv(x)
        if self.double_time:  # after the graph conv: both are linear and act per frame / per vertex, so
            x = upsample_time_linear(x)  # they commute, and the graph conv then runs on half the frames
        x = self.act(self.norm_graph(x))
        return self.act(self.norm_time(self.temporal(x)))


class CSGNGenerator(GeneratorSmoothnessMixin, MotionGenerator):
    """Latent sequence ``[B, C0, L]`` + labels ``[B]`` → motion features ``[B, 3, 16 L, V]`` in [-1, 1].

    Inside, activations are vertex-major ``[V, B, T, C]`` (see `motiongen.nn.csgn_layers`).
    """

    kind = "csgn"

    def __init__(self, config: CSGNConfig, pyramid: list[CSGNLevel], num_classes: int,
                 mirror: np.ndarray | None = None):
        """``mirror``: the skeleton's `mirror_index` (identity when not given), for `nn.smoothness`."""
        super().__init__()
        self.config = config
        self.joint_count = pyramid[-1].joint_count
        channels = config.latent_channels
        length_scales = np.arange(1, channels + 1) / channels * config.length_scale_frames / FRAMES_PER_LATENT_STEP
        self.prior = GaussianProcessPrior(length_scales)  # plain object: caches factors, not in state_dict
        self.class_embedding = nn.Embedding(num_classes, config.class_channels)
        widths = config.channels
        self.stem = TemporalConv(config.latent_channels + config.class_channels, widths[0], kernel_size=3)
        self.stem_norm = ChannelsLastBatchNorm(widths[0]) if config.batch_norm else nn.Identity()
        self.act = _leaky(config.leaky_slope)
        block_count = len(widths) - 1
        blocks, level = [], 0
        for index in range(block_count):
            goes_up = level < len(pyramid) - 1
            upsample = pyramid[level].upsample if goes_up else None
            level += int(goes_up)
            double_time = index >= block_count - TIME_DOUBLINGS
            blocks.append(_UpBlock(widths[index], widths[index + 1], upsample, pyramid[level].adjacency,
                                   double_time, config))
        self.blocks = nn.ModuleList(blocks)
        self.to_motion = nn.Linear(widths[-1], 3)
        self._init_smoothness(np.arange(self.joint_count) if mirror is None else mirror, num_classes,
                              config.smoothness_weight)

    def fit_data(self, positions, labels=None, normalization=None) -> None:
        """The smoothness term's target from the training windows (when it is on)."""
        self._fit_smoothness(positions, labels, normalization)

    # latent -------------------------------------------------------------------------------------

    def frames_supported(self, frames: int) -> str | None:
        if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)):
            return f"frames must be a whole number, got {frames!r}"
        if frames < MIN_FRAMES:
            return (f"CSGN generates at least {MIN_FRAMES} frames (one latent step is "
                    f"{FRAMES_PER_LATENT_STEP} frames); {frames} were asked")
        if frames > MAX_FRAMES:
            return (f"{frames} frames is more than CSGN's limit of {MAX_FRAMES:,} frames "
                    f"(memory grows with length); generate in pieces")
        return None

    @staticmethod
    def latent_steps(frames: int) -> int:
        """Latent sequence length L for ``frames`` output frames (the output is cropped to ``frames``)."""
        return -(-int(frames) // FRAMES_PER_LATENT_STEP)

    def make_latent(self, seeds: Sequence[int], frames: int) -> torch.Tensor:
        """GP latent sequences ``[B, C0, ceil(frames / 16)]`` float32 on the CPU (the caller moves them);
        row k depends on ``seeds[k]`` only (white noise from its own CPU generator, then the cached GP
        factor). ``forward(..., frames=frames)`` crops the ``16 L`` generated frames to ``frames``."""
        reason = self.frames_supported(frames)
        if reason is not None:
            raise ConfigError(reason)
        steps = self.latent_steps(frames)
        noise = seeded_normal(seeds, (self.config.latent_channels, self.prior.noise_length(steps)))
        return self.prior.sample(noise, steps)

    # generation ---------------------------------------------------------------------------------

    def forward(self, latent: torch.Tensor, labels: torch.Tensor, truncation: float = 1.0,
                frames: int | None = None) -> torch.Tensor:
        """``latent [B, C0, L]``, ``labels [B]`` (int64) → ``[B, 3, T, V]`` with ``T = frames`` (≤ 16 L)
        or ``16 L``. ``truncation`` ψ scales the latent towards the prior's mode: ``ψ · z``."""
        steps = latent.shape[-1]
        scaled = latent * truncation
        embedding = self.class_embedding(labels).to(scaled.dtype)[:, :, None].expand(-1, -1, steps)
        x = torch.cat([scaled, embedding], dim=1).transpose(1, 2)[None]  # [1, B, L, C0 + E]: one vertex
        x = self.act(self.stem_norm(self.stem(x)))
        for block in self.blocks:
            x = block(x)
        motion = torch.tanh(self.to_motion(x))  # [V, B, 16 L, 3]
        if frames is not None:
            motion = motion[:, :, :frames]
        return motion.permute(1, 3, 2, 0).contiguous()


# --- critic and encoder ------------------------------------------------------------------------


class _DownBlock(nn.Module):
    """ST-GCN graph conv → temporal conv (stride 2 to halve time) → coarsening by node selection."""

    def __init__(self, in_channels: int, out_channels: int, partitions: np.ndarray, coarser: CSGNLevel | None,
                 halve_time: bool, slope: float):
        super().__init__()
        self.graph_conv = PartitionGraphConv(in_channels, out_channels, partitions)
        stride = 2 if halve_time else 1
        self.temporal = nn.Conv2d(out_channels, out_channels, (3, 1), stride=(stride, 1), padding=(1, 0))
        self.coarsen = "none" if coarser is None else "pool" if coarser.pool is not None else "select"
        if coarser is not None and coarser.pool is not None:
            self.register_buffer("pool", torch.as_tensor(coarser.pool, dtype=torch.float32), persistent=False)
        elif coarser is not None:
            self.register_buffer("select", torch.as_tensor(coarser.select, dtype=torch.long), persistent=False)
        self.act = _leaky(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.graph_conv(x))
        x = self.act(self.temporal(x))
        if self.coarsen == "select":
            return x.index_select(3, self.select)
        if self.coarsen == "pool":
            return torch.matmul(x, self.pool.to(x.dtype))
        return x


def _initialise_trunk(modules: Sequence[nn.Module], config: CSGNConfig) -> None:
    """The critic's and encoder's starting weights as ``config.critic_init`` asks."""
    if config.critic_init == "he":
        _he_initialise(modules, config.leaky_slope)


def _he_initialise(modules: Sequence[nn.Module], slope: float) -> None:
    """He initialisation (for LeakyReLU) of the critic's and encoder's convolutions, biases zero.
    Why it exists: with PyTorch's default (variance 1/(3 fan-in)) and the partitions' neighbour
    averaging, the differences between clips shrink about 10× per block; at the last block of a new
    critic they are 7 × 10⁻⁵ of the stem's, so its first scores barely depend on its input. Why it is
    not the default: on the CPU (CMU, 32 frames, seed 0) the run started with it made one still pose
    per action by step 1000 (spread over time 0.002) where the same run with PyTorch's default moved
    (0.163; real windows 0.115); each of the three runs with it that reached step 1000 stood still
    there (docs/ARCHITECTURE.md, benchmarks/RESULTS.md)."""
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, a=slope, nonlinearity="leaky_relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


def _down_blocks(widths: Sequence[int], pyramid: list[CSGNLevel], slope: float,
                 extra_last_inputs: int = 0) -> nn.ModuleList:
    """Blocks from the full skeleton down the pyramid: time halves in the first 4 blocks, vertices are
    selected in the last G blocks (G = levels − 1), mirroring the generator. The last block reads
    ``extra_last_inputs`` more channels (the critic's minibatch spread)."""
    block_count = len(widths) - 1
    coarsenings = len(pyramid) - 1
    level = len(pyramid) - 1
    blocks = []
    for index in range(block_count):
        coarsen = index >= block_count - coarsenings
        coarser = pyramid[level - 1] if coarsen else None
        extra = extra_last_inputs if index == block_count - 1 else 0
        blocks.append(_DownBlock(widths[index] + extra, widths[index + 1], pyramid[level].partitions, coarser,
                                 index < TIME_DOUBLINGS, slope))
        level -= int(coarsen)
    return nn.ModuleList(blocks)


class CSGNCritic(ActionClassifierMixin, CriticJitterMixin, MotionCritic):
    """``features [B, 3, T, V]`` + ``labels [B]`` → Wasserstein critic scores ``[B]`` (any T ≥ 1);
    with ``classify`` (feature sequences) also the auxiliary classifier's logits."""

    def __init__(self, config: CSGNConfig, pyramid: list[CSGNLevel], num_classes: int,
                 held_limbs: np.ndarray | None = None):
        """``held_limbs``: `limb_masks` of the skeleton when the config rejects held limbs."""
        super().__init__()
        widths = config.critic_channels
        self.class_embedding = nn.Embedding(num_classes, config.class_channels)
        self.frame_changes = (FrameChanges(pyramid[-1].joint_count, config.critic_frame_change_floor)
                              if config.critic_frame_changes else None)
        inputs = 3 * (2 if self.frame_changes is not None else 1)
        self.stem = nn.Conv2d(inputs + config.class_channels, widths[0], kernel_size=1)
        self.act = _leaky(config.leaky_slope)
        group = config.critic_minibatch_stddev
        self.minibatch_stddev = MinibatchStddev(group) if group else None  # read by the last block
        self.blocks = _down_blocks(widths, pyramid, config.leaky_slope, extra_last_inputs=int(bool(group)))
        self.head = nn.Linear(widths[-1], 1)
        self.class_projection = ClassProjection(num_classes, widths[-1]) if config.critic_class_projection else None
        _initialise_trunk([self.stem, self.blocks], config)
        self._init_action_classifier(pyramid[-1].joint_count, config.classifier_width, num_classes,
                                     config.action_classifier_weight, config.classifier_rejects_fakes,
                                     config.classify_fakes_among_actions, config.classifier_motion_only,
                                     config.classifier_rejects_stills, held_limbs,
                                     config.classifier_rejects_jitter)
        self._init_critic_jitter(pyramid[-1].joint_count, config.critic_jitter_share, config.jitter_kind)

    def forward(self, features: torch.Tensor, labels: torch.Tensor, classify: torch.Tensor | None = None):
        batch, _, frames, joints = features.shape
        embedding = self.class_embedding(labels).to(features.dtype)[:, :, None, None].expand(-1, -1, frames, joints)
        seen = features if self.frame_changes is None else self.frame_changes(features)
        x = self.act(self.stem(torch.cat([seen, embedding], dim=1)))
        for block in self.blocks[:-1]:
            x = block(x)
        x = self.blocks[-1](x if self.minibatch_stddev is None else self.minibatch_stddev(x))
        pooled = x.mean(dim=(2, 3))
        scores = self.head(pooled).squeeze(1)
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


class CSGNEncoder(nn.Module):
    """CSGN's inverse mapping H: ``motion [B, 3, T, V]`` → latent sequence ``[B, C0, ceil(T / 16)]``.

    Same trunk as the critic (no class input), ending on one vertex after 4 halvings of time; a 1×1
    conv maps to the latent channels. Trained in the paper with a cycle-consistency loss
    (‖H(G(z)) − z‖ and ‖G(H(x)) − x‖) for completion and prediction. Not yet wired into training.
    """

    def __init__(self, config: CSGNConfig, pyramid: list[CSGNLevel]):
        super().__init__()
        widths = config.critic_channels
        self.stem = nn.Conv2d(3, widths[0], kernel_size=1)
        self.act = _leaky(config.leaky_slope)
        self.blocks = _down_blocks(widths, pyramid, config.leaky_slope)
        self.to_latent = nn.Conv1d(widths[-1], config.latent_channels, kernel_size=1)
        _initialise_trunk([self.stem, self.blocks], config)

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        x = self.act(self.stem(motion))
        for block in self.blocks:
            x = block(x)
        return self.to_latent(x.mean(dim=3))


# --- build -------------------------------------------------------------------------------------


def build(skeleton: Skeleton, num_classes: int, **config: Any) -> ModelPair:
    """The CSGN generator/critic pair for ``skeleton`` and ``num_classes`` actions."""
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
        raise ConfigError(f"csgn needs at least one class, got num_classes={num_classes!r}")
    settings = CSGNConfig.from_dict(config)
    pyramid = graph_pyramid(skeleton)
    _check_pyramid(settings, pyramid, skeleton.name)
    levels = csgn_levels(pyramid)
    generator = CSGNGenerator(settings, levels, int(num_classes), skeleton.mirror_index())
    held_limbs = limb_masks(skeleton) if settings.classifier_rejects_held_limbs else None
    critic = CSGNCritic(settings, levels, int(num_classes), held_limbs)
    return ModelPair(kind="csgn", config=settings, generator=generator, critic=critic)


def build_encoder(skeleton: Skeleton, **config: Any) -> CSGNEncoder:
    """CSGN's inverse mapping H for ``skeleton`` (same config fields as `build`)."""
    settings = CSGNConfig.from_dict(config)
    pyramid = graph_pyramid(skeleton)
    _check_pyramid(settings, pyramid, skeleton.name)
    return CSGNEncoder(settings, csgn_levels(pyramid))
