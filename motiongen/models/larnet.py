"""LARNet adapted to skeletons (Biyani, Rawat et al., "LARNet: Latent Action Representation for
Human Action Synthesis", BMVC 2021; DESIGN §6.3), as a `ModelPair` for the shared training loop.

The video method separates appearance from motion; on skeletons the "appearance" is the actor's
body and start pose. Parts (T = ``frames``, the training window; time runs at three scales of
n₃ = T/4, n₂ = T/8 and n₁ = T/16 steps):

    E   motion encoder: real features [B, 3, T, V] → latent action representation
        ê = (ê₁ [B, D, n₁], ê₂ [B, D, n₃])  (strided temporal convs; tanh)
    G_m motion generator: (action semantics a_e, position encoding p_e, noise z) → e = (e₁, e₂)
        with the same shapes; trained with MSE to ê and a WGAN-GP latent critic
    S   start-pose encoder: the first frame → a code that initialises every integrator level
    I   hierarchical recurrent motion integrator: gated recurrent cells at n₁ → n₂ → n₃ steps, each
        level fed the coarser level's states (nearest upsampling) and the latent at its scale; the
        paper's gated update, foreground/background → move/keep per state feature:
            g_t = GRU(input_t, g_{t−1}),   k_t = σ(W_k [input_t, s] + b_k),
            h_t = k_t ⊙ h_{t−1} + (1 − k_t) ⊙ g_t,     h₀ = g₀ = tanh(W₀ s)
        (the keep gate depends on the inputs and the start code, not on h, so the update is a
        linear recurrence, solved for all steps at once by `gated_scan`)
    Dec decoder: the finest states → ×4 in time (two linear upsamplings + convs) → offsets Δ from
        the start pose, Δ₀ removed, so every output starts exactly at its start pose (root
        horizontal velocity, which a pose does not have, is generated freely)
    critics: a latent critic on (e₁ ↑, e₂) vs (ê₁ ↑, ê₂), and a sequence critic on features and
        their frame differences (optionally divided by their training spread), both with the
        class as input channels and no normalisation.

Losses (`LarnetLoss`, each switchable in the config for ablations): latent MSE ‖e − sg(ê)‖²,
latent WGAN-GP, reconstruction MSE ‖Dec(I(S(x₀), ê)) − x‖², sequence WGAN-GP, and the
mix-adversarial loss: each frame of a (real, generated) pair — same start pose, same action — is
taken from one or the other with probability ½ (`mix_frames`) and the mix is counted as fake, so
the critic must judge temporal coherence and not frames alone.

Action semantics: a fixed 384-d sentence embedding of each action name (`action_text`), copied
into the model's weights when it is fitted to its data. Length: a sample longer than T is made in
windows of T, each one starting at the previous one's last frame (its first frame is dropped;
with ``anchor_poses``, that last frame is first eased into the nearest real pose, `anchor_end`);
the noise rolls on with the steps and the position encoding restarts with each window, exactly as
in training.

Conventions: features are the project's normalised root-velocity features (`motiongen.data
.features`), so sampling, evaluation and BVH output are shared with the other generators. The
default start pose of an action is its mean first frame over the training windows, each turned to
face +x first (`fit_data`): a plausible pose, not the sideways-collapsed average of all headings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.inference.footplant import HEIGHT_M as CONTACT_HEIGHT_M
from motiongen.models.action_text import DIMENSION as TEXT_DIMENSION
from motiongen.nn.action_classifier import ActionClassifierMixin, classifier_option_problems
from motiongen.nn.frame_changes import frame_change_spread
from motiongen.nn.sequence import conv1d, flatten_joints, frame_differences, leaky, unflatten_joints
from motiongen.models.base import ModelPair, MotionCritic, MotionGenerator, config_from_dict, seeded_normal

__all__ = ["LarnetConfig", "LarnetGenerator", "LarnetCritic", "build", "gated_scan", "mix_frames"]

FRAMES_PER_STEP = 4  # frames per finest integrator step
FRAMES_PER_COARSE_STEP = 16  # frames per coarsest step
# Foot contact as `metrics.plausibility.foot_skating_ratio` and `footplant` see it: a foot joint
# within 5 cm (CONTACT_HEIGHT_M) of the window's lowest foot height is on the floor (in the
# sliding penalty softly, over about ±1 cm) ...
CONTACT_SOFTNESS_M = 0.01
# ... and may drift this fast before it counts as sliding (the metric counts 0.75 m/s and up;
# real contacts stay well below, and a margin keeps the penalty off mocap's own noise).
FREE_FOOT_SPEED_M_S = 0.25
# A default start pose has its foot joints within this height of each other: standing or in
# stride, not with a knee raised onto a step (CMU's walks include stairs; a sample started there
# kept the leg up for the whole clip). 15 cm, which also drops ordinary swing poses, left more
# double-support starts and raised foot skating (0.042 → 0.057).
GROUNDED_FEET_M = 0.30


@dataclass
class LarnetConfig:
    frames: int = 64  # training window T (multiple of 16); longer samples chain windows
    fps: float = 30.0  # of the training data (informational)
    action_dim: int = 64  # action semantics projected to this
    latent_dim: int = 32  # D: channels of the latent action representation per step
    noise_dim: int = 16  # noise channels per step, at each of the two latent scales
    position_dim: int = 8  # sinusoidal position-encoding channels (pairs of sin/cos)
    hidden: int = 256  # integrator state
    width: int = 128  # encoder, decoder, start-pose encoder and critic channels
    integrator_levels: int = 3  # 3 (n₁ → n₂ → n₃) or 1 (n₃ only), for the ablation
    latent_supervision: bool = True  # MSE of G_m's e to E's ê
    latent_adversarial: bool = True  # WGAN-GP on the latent representation
    reconstruction: bool = True  # MSE of the decoded ê to the real motion
    sequence_adversarial: bool = True  # WGAN-GP on generated sequences
    mix_adversarial: bool = True  # frame-remixed real/generated pairs counted as fake
    mix_probability: float = 0.5  # chance that a frame of the mix comes from the generated clip
    latent_weight: float = 1.0
    reconstruction_weight: float = 1.0
    adversarial_weight: float = 0.02  # on each adversarial term of the generator's loss
    critic_motion_scale: bool = False  # divide the critic's frame differences by their spread (see RESULTS)
    rollout_windows: int = 0  # windows chained after each fake in training, judged as fakes too (see below)
    foot_contact_weight: float = 0.0  # on the generated feet's sliding while on the floor (`foot_sliding`)
    planted_root: bool = False  # the root steps as the feet on the floor push it (`inference.footplant`)
    contact_ease_m: float = 0.02  # planted_root: contact fades out this far above the 5 cm contact height
    truncation: float = 1.0  # default ψ when sampling: the noise is scaled by it (1 = none)
    anchor_poses: int = 0  # real training poses kept to restart chained windows from (`anchor_end`); 0 = off
    anchor_blend_frames: int = 8  # frames at a window's end that ease into its anchor pose
    action_classifier_weight: float = 0.0  # auxiliary action classifier (AC-GAN): weight of its loss on fakes
    classifier_rejects_fakes: bool = False  # the classifier also learns a "generated" class (K + 1 outputs)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LarnetConfig":
        config = config_from_dict(cls, values, "larnet")
        config.check()
        return config

    def check(self) -> None:
        if int(self.frames) < FRAMES_PER_COARSE_STEP or int(self.frames) % FRAMES_PER_COARSE_STEP:
            raise ConfigError(f"larnet trains on windows of a multiple of {FRAMES_PER_COARSE_STEP} frames, "
                              f"got {self.frames}")
        if int(self.integrator_levels) not in (1, 3):
            raise ConfigError(f"larnet integrator_levels must be 1 or 3, got {self.integrator_levels}")
        for name in ("action_dim", "latent_dim", "noise_dim", "hidden", "width"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"larnet {name} must be ≥ 1, got {getattr(self, name)}")
        if int(self.position_dim) < 2 or int(self.position_dim) % 2:
            raise ConfigError(f"larnet position_dim must be an even number ≥ 2, got {self.position_dim}")
        if not 0.0 < float(self.mix_probability) < 1.0:
            raise ConfigError(f"larnet mix_probability must be in (0, 1), got {self.mix_probability}")
        if not (math.isfinite(float(self.foot_contact_weight)) and float(self.foot_contact_weight) >= 0):
            raise ConfigError(f"larnet foot_contact_weight must be a number ≥ 0, got {self.foot_contact_weight}")
        for problem in classifier_option_problems(self.action_classifier_weight, self.classifier_rejects_fakes):
            raise ConfigError(f"larnet {problem}")
        if not 0.0 <= float(self.truncation) <= 1.0:
            raise ConfigError(f"larnet truncation must be in [0, 1], got {self.truncation}")
        for name in ("anchor_poses", "anchor_blend_frames"):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < 0:
                raise ConfigError(f"larnet {name} must be a whole number ≥ 0, got {getattr(self, name)}")
        if int(self.anchor_poses) and not 1 <= int(self.anchor_blend_frames) < int(self.frames):
            raise ConfigError(f"larnet anchor_blend_frames must be between 1 and {int(self.frames) - 1}, "
                              f"got {self.anchor_blend_frames}")
        if isinstance(self.rollout_windows, bool) or int(self.rollout_windows) < 0:
            raise ConfigError(f"larnet rollout_windows must be a whole number ≥ 0, got {self.rollout_windows}")
        if not (math.isfinite(float(self.contact_ease_m)) and float(self.contact_ease_m) > 0):
            raise ConfigError(f"larnet contact_ease_m must be a positive number of metres, got {self.contact_ease_m}")
        if self.planted_root and not int(self.anchor_poses):
            raise ConfigError("larnet planted_root needs the feature normalisation saved with the model: "
                              "set anchor_poses too")
        if int(self.rollout_windows) and not self.sequence_adversarial:
            raise ConfigError("larnet rollout_windows are judged by the sequence critic: "
                              "they need sequence_adversarial")
        if not (self.reconstruction or self.latent_supervision or self.sequence_adversarial
                or self.mix_adversarial):
            raise ConfigError("larnet needs at least one loss on the generated or reconstructed motion")

    @property
    def steps(self) -> int:  # n₃
        return int(self.frames) // FRAMES_PER_STEP


# --- building blocks -----------------------------------------------------------------------------

def gated_scan(keep: torch.Tensor, proposal: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """``h_t = k_t ⊙ h_{t−1} + (1 − k_t) ⊙ g_t`` for t = 1..n at once: ``keep``, ``proposal``
    ``[B, n, H]``, ``initial`` h₀ ``[B, H]`` → ``[B, n, H]``. Unrolled, h_t = A_t h₀ + Σ_{s≤t}
    (A_t / A_s)(1 − k_s) g_s with A_t = Π_{r≤t} k_r; the ratios come from differences of log-A
    cumulative sums (all ≤ 0 where used, so no overflow), as an n × n lower-triangular weighting."""
    log_keep = torch.log(keep.clamp_min(1e-6))
    cumulative = log_keep.cumsum(1)  # [B, n, H]
    steps = keep.shape[1]
    causal = torch.ones(steps, steps, dtype=torch.bool, device=keep.device).tril()
    exponent = cumulative.unsqueeze(2) - cumulative.unsqueeze(1)  # [B, t, s, H]: log A_t − log A_s
    weights = torch.where(causal[None, :, :, None], exponent, torch.full_like(exponent, -torch.inf)).exp()
    moved = torch.einsum("btsh,bsh->bth", weights, (1.0 - keep) * proposal)
    return cumulative.exp() * initial.unsqueeze(1) + moved


def mix_frames(real: torch.Tensor, fake: torch.Tensor, take_fake: torch.Tensor) -> torch.Tensor:
    """The mix operator: frame t of sample b from ``fake`` where ``take_fake[b, t]``, else from
    ``real`` (features ``[B, C, T, V]``, mask ``[B, T]`` bool)."""
    return torch.where(take_fake[:, None, :, None], fake, real)


def position_encoding(steps: int, channels: int, device: torch.device) -> torch.Tensor:
    """``[channels, steps]``: sin/cos of 2π·f·t/steps for f = 1 .. channels/2 — the place of each
    step within the window, the same in every window."""
    t = torch.arange(steps, device=device, dtype=torch.float32) / steps
    frequencies = torch.arange(1, channels // 2 + 1, device=device, dtype=torch.float32)
    angles = 2 * math.pi * frequencies[:, None] * t[None, :]
    return torch.cat([angles.sin(), angles.cos()])


def _upsample(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Nearest upsampling of ``[B, C, n]`` to ``[B, C, steps]`` (steps a multiple of n)."""
    return x.repeat_interleave(steps // x.shape[-1], dim=-1)


class MotionEncoder(nn.Module):
    """E: features ``[B, 3, T, V]`` → (ê₁ ``[B, D, T/16]``, ê₂ ``[B, D, T/4]``)."""

    def __init__(self, joints: int, width: int, latent: int):
        super().__init__()
        self.to_fine = nn.Sequential(conv1d(3 * joints, width), leaky(), conv1d(width, width, 4, 2), leaky(),
                                     conv1d(width, width, 4, 2), leaky())
        self.to_coarse = nn.Sequential(conv1d(width, width, 4, 2), leaky(), conv1d(width, width, 4, 2), leaky())
        self.fine_head = nn.Conv1d(width, latent, 1)
        self.coarse_head = nn.Conv1d(width, latent, 1)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fine = self.to_fine(flatten_joints(features))
        coarse = self.to_coarse(fine)
        return torch.tanh(self.coarse_head(coarse)), torch.tanh(self.fine_head(fine))


class MotionGeneratorNet(nn.Module):
    """G_m: (action code ``[B, A]``, noise) → (e₁ ``[B, D, n₁]``, e₂ ``[B, D, n₃]``)."""

    def __init__(self, config: LarnetConfig):
        super().__init__()
        a, p, z, d, w = (int(config.action_dim), int(config.position_dim), int(config.noise_dim),
                         int(config.latent_dim), int(config.width))
        self.position_dim = p
        self.coarse = nn.Sequential(conv1d(a + p + z, w), leaky(), conv1d(w, w), leaky(), nn.Conv1d(w, d, 1))
        self.fine = nn.Sequential(conv1d(a + p + z + d, w), leaky(), conv1d(w, w), leaky(), nn.Conv1d(w, d, 1))

    def forward(self, action: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``noise [B, 2Z, n₃]``: the first Z channels at every 4th step drive e₁, the rest e₂."""
        batch, channels, steps = noise.shape
        half = channels // 2
        coarse_steps = steps // 4
        coarse_noise = noise[:, :half, ::4][..., :coarse_steps]

        def inputs(n: int, *extra: torch.Tensor) -> torch.Tensor:
            place = position_encoding(n, self.position_dim, noise.device).expand(batch, -1, -1)
            return torch.cat([action[:, :, None].expand(-1, -1, n), place, *extra], 1)

        coarse = torch.tanh(self.coarse(inputs(coarse_steps, coarse_noise)))
        fine = torch.tanh(self.fine(inputs(steps, noise[:, half:], _upsample(coarse, steps))))
        return coarse, fine


class IntegratorLevel(nn.Module):
    """One temporal scale of the hierarchical integrator (see the module docstring)."""

    def __init__(self, inputs: int, hidden: int, start: int):
        super().__init__()
        self.cell = nn.GRU(inputs, hidden, batch_first=True)
        self.keep = nn.Linear(inputs + start, hidden)
        self.initial = nn.Linear(start, hidden)

    def forward(self, inputs: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """``inputs [B, n, I]``, start code ``[B, S]`` → states ``[B, n, H]``."""
        initial = torch.tanh(self.initial(start))
        proposal, _ = self.cell(inputs, initial.unsqueeze(0).contiguous())
        keep = torch.sigmoid(self.keep(torch.cat([inputs, start[:, None, :].expand(-1, inputs.shape[1], -1)], -1)))
        return gated_scan(keep, proposal, initial)


class HierarchicalIntegrator(nn.Module):
    """Gated recurrent levels at n₁ → n₂ → n₃ steps (or n₃ alone with ``levels=1``)."""

    def __init__(self, config: LarnetConfig):
        super().__init__()
        d, h, w, p = int(config.latent_dim), int(config.hidden), int(config.width), int(config.position_dim)
        self.levels = int(config.integrator_levels)
        self.position_dim = p
        if self.levels == 3:
            self.coarse = IntegratorLevel(d + p, h, w)
            self.middle = IntegratorLevel(h + d + p, h, w)
            self.fine = IntegratorLevel(h + 2 * d + p, h, w)
        else:
            self.fine = IntegratorLevel(2 * d + p, h, w)

    def _run(self, level: IntegratorLevel, parts: list[torch.Tensor], start: torch.Tensor) -> torch.Tensor:
        steps = parts[0].shape[-1]
        place = position_encoding(steps, self.position_dim, start.device).expand(start.shape[0], -1, -1)
        return level(torch.cat([*parts, place], 1).transpose(1, 2), start).transpose(1, 2)

    def forward(self, latent: tuple[torch.Tensor, torch.Tensor], start: torch.Tensor) -> torch.Tensor:
        """(e₁, e₂), start code ``[B, S]`` → finest states ``[B, H, n₃]``."""
        coarse, fine = latent
        steps = fine.shape[-1]
        if self.levels == 1:
            return self._run(self.fine, [_upsample(coarse, steps), fine], start)
        states = self._run(self.coarse, [coarse], start)
        states = self._run(self.middle, [_upsample(states, steps // 2), _upsample(coarse, steps // 2)], start)
        return self._run(self.fine, [_upsample(states, steps), _upsample(coarse, steps), fine], start)


class Decoder(nn.Module):
    """Finest states ``[B, H, n₃]`` → offsets ``[B, 3V, 4 n₃]``."""

    def __init__(self, hidden: int, width: int, joints: int):
        super().__init__()
        self.stem = nn.Sequential(conv1d(hidden, width), leaky())
        self.up1 = nn.Sequential(conv1d(width, width), leaky())
        self.up2 = nn.Sequential(conv1d(width, width), leaky())
        self.head = nn.Conv1d(width, 3 * joints, 1)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        x = self.stem(states)
        x = self.up1(F.interpolate(x, scale_factor=2, mode="linear", align_corners=False))
        x = self.up2(F.interpolate(x, scale_factor=2, mode="linear", align_corners=False))
        return self.head(x)


# --- the generator --------------------------------------------------------------------------------

class LarnetGenerator(MotionGenerator):
    kind = "larnet"
    may_leave_parameters_unused = True  # ablations switch parts off (DDP must not wait for them)
    # filled by fit_data: a fine-tune may start from a checkpoint saved before they were kept
    refitted_buffers = ("feature_centre", "feature_half_range", "anchor_bank", "anchor_labels")

    def __init__(self, config: LarnetConfig, joints: int, num_classes: int,
                 symmetry: tuple[tuple[int, int], ...] = (), feet: Sequence[int] = ()):
        super().__init__()
        self.config = config
        self.joints = int(joints)
        self.num_classes = int(num_classes)
        w = int(config.width)
        # Filled by fit_data and kept in the weights, so a checkpoint needs nothing else.
        self.register_buffer("action_embeddings", torch.zeros(num_classes, TEXT_DIMENSION))
        self.register_buffer("start_poses", torch.zeros(num_classes, 3, joints))
        mask = torch.ones(3, joints)
        mask[0, 0] = mask[2, 0] = 0.0  # the root's horizontal velocity is not part of a pose
        self.register_buffer("pose_mask", mask, persistent=False)
        pairs = np.asarray(symmetry, dtype=np.int64).reshape(-1, 2)
        self.register_buffer("left_joints", torch.as_tensor(pairs[:, 0]), persistent=False)
        self.register_buffer("right_joints", torch.as_tensor(pairs[:, 1]), persistent=False)
        # For `foot_sliding` in training and `anchor_end` in sampling: the foot joints and the
        # features' normalisation in metres, [3, V] each, set by fit_data (which every training
        # start calls) and saved only when sampling needs them.
        anchoring = int(config.anchor_poses) > 0
        self.register_buffer("feet", torch.as_tensor(list(feet), dtype=torch.long), persistent=False)
        self.register_buffer("feature_centre", torch.zeros(3, joints), persistent=anchoring)
        self.register_buffer("feature_half_range", torch.ones(3, joints), persistent=anchoring)
        # Anchors: real poses [N, 3, V] (features in metres, turned to face +x) and their classes.
        self.register_buffer("anchor_bank", torch.zeros(int(config.anchor_poses), 3, joints) if anchoring else None)
        self.register_buffer("anchor_labels", torch.zeros(int(config.anchor_poses), dtype=torch.long)
                             if anchoring else None)
        self.anchoring = anchoring  # sampling restarts windows from anchors (switch off to compare)
        self.action = nn.Sequential(nn.Linear(TEXT_DIMENSION, int(config.action_dim)), leaky())
        self.encoder = MotionEncoder(joints, w, int(config.latent_dim))
        self.motion_generator = MotionGeneratorNet(config)
        self.start_encoder = nn.Sequential(nn.Linear(3 * joints, w), leaky(), nn.Linear(w, w), leaky())
        self.integrator = HierarchicalIntegrator(config)
        self.decoder = Decoder(int(config.hidden), w, joints)

    # --- latents and lengths ------------------------------------------------------------------
    def windows_for(self, frames: int) -> int:
        """Windows of T frames chained (sharing one frame) to make ``frames``."""
        window = int(self.config.frames)
        return max(1, math.ceil((int(frames) - 1) / (window - 1)))

    def make_latent(self, seeds: Sequence[int], frames: int) -> torch.Tensor:
        """``[B, 2Z, n₃ · windows]`` standard normals, one seeded draw per sample, step-major so
        that a longer sample of the same seed begins with the same noise (and the same motion)."""
        steps = self.config.steps * self.windows_for(frames)
        return seeded_normal(seeds, (steps, 2 * int(self.config.noise_dim))).transpose(1, 2).contiguous()

    def frames_supported(self, frames: int) -> str | None:
        if int(frames) < 1:
            return f"larnet makes at least 1 frame, not {frames}"
        return None

    # --- fitting to data ------------------------------------------------------------------------
    def fit_data(self, positions: np.ndarray, labels: np.ndarray | None = None, normalization=None,
                 actions: Sequence[str] | None = None) -> None:
        """The action embeddings of ``actions`` and each action's default start pose: the mean
        first frame of its training windows ``[N, T, V, 3]`` (metres), each turned to face +x
        (by its hips' and shoulders' left-right vector) with its root over the origin."""
        from motiongen.data.features import Normalization, to_channels_first, to_features
        from motiongen.models.action_text import embed_actions

        if actions is None or labels is None or normalization is None:
            raise ConfigError("larnet is fitted with the windows' labels, action names and normalisation")
        self.action_embeddings.copy_(torch.as_tensor(embed_actions(list(actions))))
        normalization = Normalization.of(normalization)
        self.feature_centre.copy_(torch.as_tensor(normalization.centre.T.copy()))
        self.feature_half_range.copy_(torch.as_tensor(normalization.half_range.T.copy()))
        first = torch.as_tensor(np.asarray(positions)[:, 0], dtype=torch.float64)  # [N, V, 3]
        turned = self._face_plus_x(first.permute(0, 2, 1))[0][:, :, None]  # [N, 3, 1, V]
        poses = normalization.normalize(to_channels_first(to_features(turned.permute(0, 2, 3, 1)).numpy()),
                                        channels_first=True)[:, :, 0]  # [N, 3, V]
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        sums = torch.zeros(self.num_classes, *poses.shape[1:], dtype=torch.float64)
        sums.index_add_(0, labels, torch.as_tensor(poses, dtype=torch.float64))
        counts = torch.bincount(labels, minlength=self.num_classes).clamp_min(1)  # an absent class stays 0
        self.start_poses.copy_((sums / counts[:, None, None]).float() * self.pose_mask)
        if self.anchor_bank is not None:
            self._fit_anchors(np.asarray(positions), labels)

    def _fit_anchors(self, positions: np.ndarray, labels: torch.Tensor) -> None:
        """``anchor_poses`` frames spread evenly over all training windows ``[N, T, V, 3]`` (every
        action keeps its share), as metre features turned to face +x."""
        from motiongen.data.features import to_channels_first, to_features

        windows, frames = positions.shape[:2]
        picks = np.linspace(0, windows * frames - 1, len(self.anchor_bank)).round().astype(np.int64)
        chosen = positions.reshape(windows * frames, 1, *positions.shape[2:])[picks]  # [K, 1, V, 3]
        features = torch.as_tensor(to_channels_first(to_features(chosen)))[:, :, 0]  # [K, 3, V]
        self.anchor_bank.copy_(self._face_plus_x(features)[0].float())
        self.anchor_labels.copy_(labels[torch.as_tensor(picks // frames)])

    def _face_plus_x(self, poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Poses ``[B, 3, V]`` (metre features) turned about the root to face +x (their hips' and
        shoulders' left-right vector along +x), and the angles ``[B]`` that did it."""
        from motiongen.data.augment import rotate_about_up

        lateral = (poses[:, :, self.left_joints] - poses[:, :, self.right_joints]).sum(-1)  # [B, 3]
        facing = torch.atan2(lateral[:, 2], lateral[:, 0])
        return rotate_about_up(poses[:, :, None], facing)[:, :, 0], facing

    def drawn_start(self, latent: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Default start poses ``[B, 3, V]`` (normalised, facing +x) for models with anchors: a
        real training pose of each sample's action with its feet within `GROUNDED_FEET_M` of each
        other in height (any of its poses if it has none), picked by the sample's own noise (the
        normal CDF of its first value), so a seed always starts from the same pose and seeds
        spread over the action's poses. Training starts every fake at a real window's first frame; the mean
        first frame (the default without anchors) is a pose no window starts from — a walk from
        the average of its stances barely sets off (measured: walking recognised 7% from the mean
        pose against 53% from real poses, same model)."""
        classes = self.num_classes
        group = self.anchor_labels
        if self.feet.numel():  # grounded poses first: a pose in mid-stride up a stair is no place to start
            heights = self.anchor_bank[:, 1][:, self.feet]
            group = group + classes * ((heights.amax(-1) - heights.amin(-1)) > GROUNDED_FEET_M)
        counts = torch.bincount(group, minlength=2 * classes)
        order = torch.argsort(group, stable=True)
        first = torch.cumsum(counts, 0) - counts
        wanted = torch.where(counts[labels] > 0, labels, labels + classes)  # else any pose of the action
        available = counts[wanted]
        pick = (torch.special.ndtr(latent[:, 0, 0].float()) * available).long().clamp_max((available - 1).clamp_min(0))
        bank = self.anchor_bank[order[(first[wanted] + pick).clamp_max(len(order) - 1)]]  # [B, 3, V] metres
        drawn = (bank - self.feature_centre) / self.feature_half_range * self.pose_mask
        return torch.where((available > 0)[:, None, None], drawn.to(self.start_poses.dtype), self.start_poses[labels])

    def anchor_end(self, clip: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``clip [B, 3, T, V]`` (normalised features) eased over its last ``anchor_blend_frames``
        into the nearest real training pose of its action, turned to its own heading, so the next
        window starts from a pose the generator was trained to start from.

        Chained raw, each window starts at the previous one's last frame and inherits its small
        bias: over 16 windows a model that makes good 64-frame clips folds into a crouch
        (RESULTS.md, "Shipped defaults"). Restarting from a real pose keeps the error of one window
        from compounding into the next; the ease spreads the (small) correction over a quarter
        second instead of a jump. Nearest by distance in metres over the root height and every
        joint's position relative to the root; the root's horizontal motion is left as generated."""
        half, centre = self.feature_half_range[:, None, :], self.feature_centre[:, None, :]
        end = clip[:, :, -1:] * half + centre  # [B, 3, 1, V] metres
        turned, facing = self._face_plus_x(end[:, :, 0])
        mask = self.pose_mask.bool()
        distance = torch.cdist(turned[:, mask][None].float(), self.anchor_bank[:, mask][None])[0]  # [B, K]
        distance = distance.masked_fill(self.anchor_labels[None, :] != labels[:, None], float("inf"))
        nearest = self.anchor_bank[distance.argmin(1)]  # [B, 3, V]
        from motiongen.data.augment import rotate_about_up

        anchor = (rotate_about_up(nearest[:, :, None].to(clip.dtype), -facing)[:, :, :1] - centre) / half
        correction = (anchor - clip[:, :, -1:]) * self.pose_mask[:, None, :]  # [B, 3, 1, V]
        blend = int(self.config.anchor_blend_frames)
        ease = 0.5 - 0.5 * torch.cos(torch.arange(1, blend + 1, device=clip.device, dtype=clip.dtype) * math.pi / blend)
        eased = clip[:, :, -blend:] + correction * ease[:, None]
        return torch.cat([clip[:, :, :-blend], eased], 2)

    # --- the network ------------------------------------------------------------------------------
    def synthesise(self, start: torch.Tensor, latent: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """One window ``[B, 3, T, V]`` from start poses ``[B, 3, V]`` (normalised features) and a
        latent action representation (e₁, e₂); frame 0 equals the start pose (but for the root's
        horizontal velocity)."""
        pose = start * self.pose_mask
        code = self.start_encoder(pose.flatten(1))
        offsets = unflatten_joints(self.decoder(self.integrator(latent, code)), self.joints)  # [B, 3, T, V]
        offsets = offsets - offsets[:, :, :1] * self.pose_mask[:, None, :]
        clip = pose[:, :, None, :] + offsets
        return self._planted(clip) if self.config.planted_root else clip

    def _planted(self, clip: torch.Tensor) -> torch.Tensor:
        """``clip`` with the root's horizontal velocity given by its feet where they are on the
        floor (`footplant.planted_root_velocity`), in training as in sampling: the critic then
        judges the travel the legs make, and only striding legs can make a walk go anywhere."""
        from motiongen.inference.footplant import planted_root_velocity

        half, centre = self.feature_half_range[:, None, :], self.feature_centre[:, None, :]
        velocity = planted_root_velocity(clip * half + centre, self.feet, float(self.config.contact_ease_m))
        velocity = (velocity - centre[0::2, :, 0]) / half[0::2, :, 0]  # normalised again
        root = torch.stack([velocity[:, 0], clip[:, 1, :, 0], velocity[:, 1]], 1)  # x velocity, height, z velocity
        return torch.cat([root[..., None], clip[..., 1:]], -1)

    def forward(self, latent: torch.Tensor, labels: torch.Tensor, truncation: float = 1.0,
                start: torch.Tensor | None = None, real: torch.Tensor | None = None,
                reconstruct: bool = True):
        """Sampling: noise ``latent`` (`make_latent`), ``labels [B]``, optional start poses
        ``[B, 3, V]`` (default: each action's mean start pose) → features ``[B, 3, frames, V]``
        (frames = 1 + windows·(T − 1); callers crop). Training: with ``real [B, 3, T, V]`` returns
        a dict of ``encoded`` ê, ``generated`` e, ``fake`` (from e and the real start pose) and,
        when ``reconstruct``, ``reconstruction`` (from ê)."""
        action = self.action(self.action_embeddings[labels])
        if real is not None:
            return self._training_outputs(real, action, latent, reconstruct)
        steps = self.config.steps
        if start is None:
            start = self.start_poses[labels] if self.anchor_bank is None else self.drawn_start(latent, labels)
        windows = []
        for window in range(latent.shape[-1] // steps):  # a few windows, each from the last's end
            noise = latent[..., window * steps:(window + 1) * steps] * truncation
            clip = self.synthesise(start, self.motion_generator(action, noise))
            if self.anchoring and self.anchor_bank is not None and (window + 1) * steps < latent.shape[-1]:
                clip = self.anchor_end(clip, labels)  # another window follows: restart it from a real pose
            windows.append(clip if window == 0 else clip[:, :, 1:])
            start = clip[:, :, -1]
        return torch.cat(windows, 2)

    def _training_outputs(self, real, action, latent, reconstruct: bool) -> dict[str, Any]:
        start = real[:, :, 0]
        encoded = self.encoder(real)
        generated = self.motion_generator(action, latent[..., :self.config.steps])
        if reconstruct:  # both windows in one pass through the integrator and decoder
            both = self.synthesise(torch.cat([start, start]),
                                   (torch.cat([generated[0], encoded[0]]), torch.cat([generated[1], encoded[1]])))
            fake, reconstruction = both.chunk(2)
            out = {"encoded": encoded, "generated": generated, "fake": fake, "reconstruction": reconstruction}
        else:
            out = {"encoded": encoded, "generated": generated, "fake": self.synthesise(start, generated)}
        out["rollout"] = self._rollout(out["fake"], action, latent)
        return out

    def foot_sliding(self, features: torch.Tensor) -> torch.Tensor:
        """Mean squared excess speed (m/s, beyond `FREE_FOOT_SPEED_M_S`) of the foot joints while
        they are on the floor, over every foot and frame transition of normalised feature windows
        ``[B, 3, T, V]``: the training-time counterpart of the foot-skating metric, differentiable
        in the generated poses and root velocity. A foot's world step is its change relative to
        the root plus the root's own step, so a foot can only stand still while the body moves on
        if the leg strides back under it; sliding feet under a gliding root are what the CPU-trained
        generators did (RESULTS, "Shipped defaults"). Contact is judged from the current heights
        but not trained through them (detached), so lifting a foot is no way out of the penalty.
        Zero without foot joints."""
        if self.feet.numel() == 0 or features.shape[2] < 2:
            return features.new_zeros(())
        metres = features * self.feature_half_range[:, None, :] + self.feature_centre[:, None, :]
        feet = metres[..., self.feet]  # [B, 3, T, F]
        horizontal = feet[:, 0::2]  # x, z relative to the root
        step = horizontal[:, :, 1:] - horizontal[:, :, :-1] + metres[:, 0::2, :-1, :1]  # + root velocity
        speed = step.square().sum(1).add(1e-12).sqrt() * float(self.config.fps)  # [B, T-1, F] m/s
        height = feet[:, 1].detach()
        height = height - height.amin(dim=(1, 2), keepdim=True)  # above the window's lowest foot
        low = torch.sigmoid((CONTACT_HEIGHT_M - height) / CONTACT_SOFTNESS_M)
        contact = low[:, 1:] * low[:, :-1]
        return (contact * F.relu(speed - FREE_FOOT_SPEED_M_S).square()).mean()

    def _rollout(self, fake: torch.Tensor, action: torch.Tensor, latent: torch.Tensor) -> list[torch.Tensor]:
        """``rollout_windows`` windows chained after ``fake`` as sampling chains them, each from
        the last one's end (gradients flow back through the start poses), on fresh noise from the
        global RNG. Judged as fakes, they teach the generator to start from its own end poses, which
        a model trained on real start poses alone never sees: without them a long sample drifts,
        window by window, into a crouch (see RESULTS)."""
        windows, clip = [], fake
        for _ in range(int(self.config.rollout_windows)):  # a window or two, not frames
            noise = torch.randn(latent.shape[0], latent.shape[1], self.config.steps, device=latent.device,
                                dtype=latent.dtype)
            clip = self.synthesise(clip[:, :, -1], self.motion_generator(action, noise))
            windows.append(clip)
        return windows


# --- the critics ---------------------------------------------------------------------------------

class LarnetCritic(ActionClassifierMixin, MotionCritic):
    """Sequence critic (features and frame differences, any length) and latent critic, each with
    the class as input channels (a learned embedding), no normalisation, mean over time → score."""

    may_leave_parameters_unused = True  # the sequence critic idles when both sequence terms are off

    def __init__(self, config: LarnetConfig, joints: int, num_classes: int):
        super().__init__()
        a, d, w = int(config.action_dim), int(config.latent_dim), int(config.width)
        self.sequence_class = nn.Embedding(num_classes, a)
        self.sequence = nn.Sequential(conv1d(6 * joints + a, w), leaky(), conv1d(w, w, 4, 2), leaky(),
                                      conv1d(w, w, 4, 2), leaky(), conv1d(w, w, 4, 2), leaky())
        self.sequence_head = nn.Linear(w, 1)
        # Frame differences are ~50× smaller than the poses in normalised units; the gradient
        # penalty bounds the critic's slope on its input, so unscaled it can barely tell a near-
        # static clip from real motion (measured: fakes moving 13× less than real scored alike).
        # With critic_motion_scale they are divided by their training spread (`fit_data`); on the
        # CPU runs that made every action's samples drift into sliding walks, so it is off by
        # default (RESULTS.md, LARNet, second round).
        self.register_buffer("motion_scale", torch.ones(3 * joints) if config.critic_motion_scale else None)
        self.latent_critic = None
        if config.latent_adversarial:
            self.latent_class = nn.Embedding(num_classes, a)
            self.latent_critic = nn.Sequential(conv1d(2 * d + a, w), leaky(), conv1d(w, w, 4, 2), leaky(),
                                               conv1d(w, w), leaky())
            self.latent_head = nn.Linear(w, 1)
        # Not in LARNet: the auxiliary action classifier (`motiongen.nn.action_classifier`). On the
        # CPU runs most actions came out as one of four without it (RESULTS, "Shipped defaults").
        self._init_action_classifier(joints, w, num_classes, config.action_classifier_weight,
                                     config.classifier_rejects_fakes)

    def forward(self, features: torch.Tensor | None, labels: torch.Tensor,
                latent: torch.Tensor | None = None, latent_labels: torch.Tensor | None = None,
                classify: torch.Tensor | None = None):
        """Scores ``[B]`` of feature sequences ``[B, 3, T, V]``; with ``latent`` (flattened, see
        `flatten_latent`) also the latent critic's scores: ``(sequence scores or None, latent
        scores)``; with ``classify`` (feature sequences) also the action classifier's logits:
        ``(sequence scores, latent scores or None, logits)`` — one call, so a
        DistributedDataParallel wrapper sees every network it trains."""
        sequence = None if features is None else self.score_sequence(features, labels)
        judged = None if latent is None else self.score_latent_flat(
            latent, labels if latent_labels is None else latent_labels)
        if classify is not None:
            return sequence, judged, self.classify(classify)
        return sequence if latent is None else (sequence, judged)

    def score_sequence(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        flat = flatten_joints(features)
        motion = frame_differences(flat)
        if self.motion_scale is not None:
            motion = motion * self.motion_scale[:, None]
        label = self.sequence_class(labels)[:, :, None].expand(-1, -1, flat.shape[-1])
        return self.sequence_head(self.sequence(torch.cat([flat, motion, label], 1)).mean(-1)).squeeze(-1)

    def fit_data(self, positions: np.ndarray, normalization=None) -> None:
        """``motion_scale``: 1 / standard deviation of each normalised feature's frame-to-frame
        change over the training windows ``[N, T, V, 3]`` (metres)."""
        if self.motion_scale is None:
            return
        spread = frame_change_spread(positions, normalization)  # [V, 3]: flattened as 3·joint + axis
        self.motion_scale.copy_((1.0 / spread.flatten().clamp_min(1e-4)).float())

    def score_latent_flat(self, flat: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Scores ``[B]`` of latent action representations, flattened by `flatten_latent`."""
        label = self.latent_class(labels)[:, :, None].expand(-1, -1, flat.shape[-1])
        return self.latent_head(self.latent_critic(torch.cat([flat, label], 1)).mean(-1)).squeeze(-1)


def flatten_latent(latent: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """(e₁ ``[B, D, n₁]``, e₂ ``[B, D, n₃]``) → ``[B, 2D, n₃]``."""
    coarse, fine = latent
    return torch.cat([_upsample(coarse, fine.shape[-1]), fine], 1)


def build(skeleton: Skeleton, num_classes: int, **config: Any) -> ModelPair:
    """The LARNet generator (E, G_m, S, integrator, decoder) and its critics for ``skeleton``."""
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
        raise ConfigError(f"larnet needs at least one class, got num_classes={num_classes!r}")
    settings = LarnetConfig.from_dict(config)
    if not skeleton.symmetry:
        raise ConfigError(f"larnet needs a skeleton with left/right symmetry pairs; {skeleton.name} has none")
    from motiongen.metrics.plausibility import foot_joints

    try:
        feet = foot_joints(skeleton)
    except ConfigError:
        if settings.foot_contact_weight or settings.planted_root:
            raise
        feet = []  # only the foot-contact loss and the planted root need them
    generator = LarnetGenerator(settings, skeleton.joint_count, int(num_classes), tuple(skeleton.symmetry), feet)
    critic = LarnetCritic(settings, skeleton.joint_count, int(num_classes))
    return ModelPair(kind="larnet", config=settings, generator=generator, critic=critic)
