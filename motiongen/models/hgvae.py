"""HG-VAE: hierarchical graph-convolutional variational autoencoder of motion windows (Bourached,
Gray, Griffiths, Jha, Nachev, 2022; DESIGN §6.4), for imputation and out-of-distribution scores.

Input: a window of T frames of positions ``[B, T, V, 3]`` (metres), seen by the network as the
root's trajectory centred horizontally on its mean over the window (height kept) and every other
joint relative to the root in the same frame (`relative`), each coordinate normalised with
training statistics stored as buffers (`fit_data`). Windows then differ in what happens, not in
where; and since this is a differentiable function of absolute positions, imputation can still
optimise absolute missing values, the root's included. The graph's bottom level has one node per
joint coordinate (3V nodes) whose features are the DCT-II coefficients of that coordinate's
trajectory (all T of them).

    encoder (bottom-up, deterministic):  e_i = GCB*(GCL(e_{i-1}))  on nodes [3V, n_1, n_2, 1]
    decoder (top-down ladder):
        z_top ~ q(z_top | e_top)   prior N(0, I)      (⊕ one-hot class when class_conditional)
        d = GCB*(GCL(z_top))
        for each level i below:  d = GCL_up(d)
            prior p(z_i | d),  posterior q(z_i | d, e_i)      (both diagonal Gaussians)
            d = GCB*(d + GCL(z_i))
        DCT coefficients = GCL_out(d) → inverse DCT → mean trajectory; Gaussian likelihood with a
        learned σ per coordinate node.

Loss (negative ELBO per window): ``NLL(x | z) + β · Σ_i KL(q(z_i | ·) ‖ p(z_i | ·))`` with β warmed up
from ``kl_start`` to 1 (`motiongen.training.losses.VaeLoss`). ``score`` is the same bound with every
z at its posterior mean: deterministic, and (minus a constant) the negative log posterior of the
missing values given the observed ones, which is what imputation minimises and what flags
out-of-distribution windows.

The paper's H3.6M model: 54 coordinate nodes → 24 → 8 → 1, latents 128 per node (256 at the top),
~3.2M parameters; the defaults here are that shape with 3V bottom nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.models.base import ModelPair, config_from_dict
from motiongen.nn.gcn import GraphConvBlock, GraphConvLayer, dct_matrix

LOG_2PI = math.log(2 * math.pi)


@dataclass
class HGVAEConfig:
    frames: int = 50  # window length T (the paper: 50)
    nodes: list[int] = field(default_factory=lambda: [24, 8, 1])  # nodes of the levels above the 3V bottom
    latent_dims: list[int] = field(default_factory=lambda: [128, 128, 128, 256])  # bottom → top
    hidden: int = 256  # node features inside the network
    blocks: int = 1  # GCBs after every level change, in the encoder and the decoder
    class_conditional: bool = False  # one-hot action appended to the top latent
    kl_start: float = 0.001  # β at step 0
    kl_warmup_steps: int = 2000  # β reaches 1 here (linear)
    min_std: float = 1e-3  # floor of every posterior/prior standard deviation
    # Turn each window about the up axis so its mean left-minus-right vector points along +x
    # before normalising: windows then differ in what the body does, not in which way it faces.
    # (False in checkpoints written before it existed; `motiongen train hgvae` turns it on.)
    canonical_facing: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "HGVAEConfig":
        config = config_from_dict(cls, values, "hgvae")
        config.check()
        return config

    def check(self) -> None:
        if int(self.frames) < 2:
            raise ConfigError(f"hgvae needs windows of at least 2 frames, got {self.frames}")
        if len(self.latent_dims) != len(self.nodes) + 1:
            raise ConfigError(f"hgvae: {len(self.nodes) + 1} levels (3V bottom + nodes {self.nodes}) need as many "
                              f"latent_dims, got {self.latent_dims}")
        if any(int(n) < 1 for n in self.nodes) or any(int(d) < 1 for d in self.latent_dims):
            raise ConfigError("hgvae: nodes and latent_dims must be positive")
        if int(self.hidden) < 1 or int(self.blocks) < 0 or int(self.kl_warmup_steps) < 0:
            raise ConfigError("hgvae: hidden ≥ 1, blocks ≥ 0 and kl_warmup_steps ≥ 0")


def _stack(nodes: int, features: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[GraphConvBlock(nodes, features) for _ in range(blocks)])


def _gaussian(head: torch.Tensor, min_std: float) -> tuple[torch.Tensor, torch.Tensor]:
    mean, raw = head.chunk(2, dim=-1)
    return mean, F.softplus(raw) + min_std


def _kl(mean_q, std_q, mean_p, std_p) -> torch.Tensor:
    """KL(N(mean_q, std_q²) ‖ N(mean_p, std_p²)) summed over every dimension but the batch."""
    kl = torch.log(std_p / std_q) + (std_q.square() + (mean_q - mean_p).square()) / (2 * std_p.square()) - 0.5
    return kl.flatten(1).sum(1)


class HGVAE(nn.Module):
    """See the module docstring. ``forward(positions, labels)`` returns ``(nll [B], kl [B, L])``
    with sampled latents (training); ``score`` is the deterministic bound per window."""

    kind = "hgvae"

    def __init__(self, config: HGVAEConfig, joints: int, num_classes: int,
                 symmetry: tuple[tuple[int, int], ...] = ()):
        super().__init__()
        self.config = config
        self.joints = int(joints)
        if config.canonical_facing and not symmetry:
            raise ConfigError("hgvae canonical_facing needs a skeleton with left/right symmetry pairs")
        pairs = torch.as_tensor(np.asarray(symmetry, dtype=np.int64).reshape(-1, 2))
        self.register_buffer("left_joints", pairs[:, 0].clone(), persistent=False)
        self.register_buffer("right_joints", pairs[:, 1].clone(), persistent=False)
        self.num_classes = int(num_classes)
        frames, hidden, blocks = int(config.frames), int(config.hidden), int(config.blocks)
        self.nodes = [3 * self.joints] + [int(n) for n in config.nodes]
        dims = [int(d) for d in config.latent_dims]
        self.register_buffer("dct", dct_matrix(frames), persistent=False)
        self.register_buffer("position_mean", torch.zeros(self.joints, 3))
        self.register_buffer("position_std", torch.ones(self.joints, 3))

        self.encoder = nn.ModuleList()
        for level, nodes in enumerate(self.nodes):
            before = self.nodes[max(level - 1, 0)]
            self.encoder.append(nn.Sequential(
                GraphConvLayer(before, nodes, frames if level == 0 else hidden, hidden), _stack(nodes, hidden, blocks)))
        top = len(self.nodes) - 1
        conditioning = self.num_classes if config.class_conditional else 0
        self.top_posterior = GraphConvLayer(self.nodes[top], self.nodes[top], hidden, 2 * dims[top], activation=False)
        self.top_decoder = nn.Sequential(
            GraphConvLayer(self.nodes[top], self.nodes[top], dims[top] + conditioning, hidden),
            _stack(self.nodes[top], hidden, blocks))
        self.up = nn.ModuleList()
        self.prior = nn.ModuleList()
        self.posterior = nn.ModuleList()
        self.merge = nn.ModuleList()
        self.refine = nn.ModuleList()
        for level in range(top - 1, -1, -1):  # decoder order: top-1 … 0
            nodes = self.nodes[level]
            self.up.append(GraphConvLayer(self.nodes[level + 1], nodes, hidden, hidden))
            self.prior.append(GraphConvLayer(nodes, nodes, hidden, 2 * dims[level], activation=False))
            self.posterior.append(GraphConvLayer(nodes, nodes, 2 * hidden, 2 * dims[level], activation=False))
            self.merge.append(GraphConvLayer(nodes, nodes, dims[level], hidden))
            self.refine.append(_stack(nodes, hidden, blocks))
        self.output = GraphConvLayer(self.nodes[0], self.nodes[0], hidden, frames, activation=False)
        self.log_sigma = nn.Parameter(torch.zeros(self.nodes[0]))

    # --- data ---------------------------------------------------------------------------------
    def frames_supported(self, frames: int) -> str | None:
        if int(frames) != int(self.config.frames):
            return f"an HG-VAE works on windows of exactly {self.config.frames} frames (longer clips are windowed)"
        return None

    @torch.no_grad()
    def fit_data(self, positions: np.ndarray) -> None:
        """Normalisation statistics from training windows ``[N, T, V, 3]`` (metres): the mean and
        standard deviation of every coordinate of `relative` (``position_mean`` is thus the mean
        pose relative to the root, the root's entry its mean place in a window)."""
        chunks = [self.body_frame(torch.tensor(np.asarray(positions[k:k + 4096]), dtype=torch.float64))
                  for k in range(0, len(positions), 4096)]
        relative = torch.cat(chunks)
        self.position_mean.copy_(relative.mean(dim=(0, 1)).float())
        self.position_std.copy_(relative.std(dim=(0, 1)).clamp_min(1e-3).float())

    @staticmethod
    def relative(positions: torch.Tensor) -> torch.Tensor:
        """``[..., T, V, 3]``: joint 0 → the root minus its mean horizontal place over the window;
        joints 1.. → their offset from the root in the same frame."""
        root = positions[..., 0:1, :]
        place = root.mean(dim=-3, keepdim=True).clone()
        place[..., 1] = 0.0
        return torch.cat([root - place, positions[..., 1:, :] - root], dim=-2)

    def facing(self, positions: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """``[...]`` angle (radians) of each window's mean left-minus-right horizontal vector, over
        frames and symmetry pairs; ``observed [..., T, V]`` (bool) limits it to pairs seen whole."""
        difference = positions[..., self.left_joints, :] - positions[..., self.right_joints, :]  # [..., T, P, 3]
        if observed is not None:
            both = (observed[..., self.left_joints] & observed[..., self.right_joints]).unsqueeze(-1)
            difference = torch.where(both, difference, torch.zeros_like(difference))
        lateral = difference.sum(dim=(-3, -2))
        return torch.atan2(lateral[..., 2], lateral[..., 0] + 1e-9)  # finite gradient if no pair is seen

    def body_frame(self, positions: torch.Tensor) -> torch.Tensor:
        """`relative`, turned so the window faces the canonical way when ``canonical_facing``."""
        relative = self.relative(positions)
        if not self.config.canonical_facing:
            return relative
        return turn(relative, self.facing(positions))

    def to_nodes(self, positions: torch.Tensor) -> torch.Tensor:
        """``[B, T, V, 3]`` metres → ``[B, 3V, T]`` normalised trajectories (node = 3·joint + axis)."""
        normalised = (self.body_frame(positions) - self.position_mean) / self.position_std
        return normalised.flatten(2).transpose(1, 2)

    # --- the model ----------------------------------------------------------------------------
    def terms(self, positions: torch.Tensor, labels: torch.Tensor | None = None, sample: bool = True,
              hold_latents: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(nll [B], kl [B, L], reconstruction [B, 3V, T])`` of windows ``[B, T, V, 3]``; latents
        drawn from the posteriors (``sample``) or at their means. ``hold_latents``: the encoder
        sees a detached copy of the input, so gradients reach the input through the likelihood only
        (see `posterior_energy`)."""
        config = self.config
        x = self.to_nodes(positions)
        features = (x.detach() if hold_latents else x) @ self.dct.T  # DCT-II per node trajectory
        encoded = []
        for stage in self.encoder:
            features = stage(features)
            encoded.append(features)

        def draw(mean, std):
            return mean + std * torch.randn_like(std) if sample else mean

        mean, std = _gaussian(self.top_posterior(encoded[-1]), config.min_std)
        z = draw(mean, std)
        kls = [_kl(mean, std, torch.zeros_like(mean), torch.ones_like(std))]
        if config.class_conditional:
            if labels is None:
                raise ConfigError("this HG-VAE is class conditional: give the action")
            onehot = F.one_hot(labels.long(), self.num_classes).to(z.dtype)[:, None, :]
            z = torch.cat([z, onehot.expand(-1, z.shape[1], -1)], dim=-1)
        state = self.top_decoder(z)
        for k, level in enumerate(range(len(self.nodes) - 2, -1, -1)):
            state = self.up[k](state)
            prior_mean, prior_std = _gaussian(self.prior[k](state), config.min_std)
            post_mean, post_std = _gaussian(self.posterior[k](torch.cat([state, encoded[level]], dim=-1)), config.min_std)
            z = draw(post_mean, post_std)
            kls.append(_kl(post_mean, post_std, prior_mean, prior_std))
            state = self.refine[k](state + self.merge[k](z))
        reconstruction = self.output(state) @ self.dct  # inverse DCT
        sigma = self.log_sigma.exp()[:, None]
        nll = 0.5 * ((x - reconstruction) / sigma).square() + self.log_sigma[:, None] + 0.5 * LOG_2PI
        return nll.flatten(1).sum(1), torch.stack(kls[::-1], dim=1), reconstruction  # kl bottom → top

    def forward(self, positions: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        nll, kl, _ = self.terms(positions, labels, sample=True)
        return nll, kl

    def score(self, positions: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``[B]`` negative ELBO per window coordinate (latents at their posterior means;
        detached — a judgement of fills, never descended): lower = more probable under the model."""
        return self.energy_and_score(positions, labels)[1]

    def posterior_energy(self, positions: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``[B]`` the reconstruction term with the latents held at their posterior means. Its
        gradient in the input is the one `log p(x)` has (Fisher's identity:
        ``∇ₓ log p(x) = E_{p(z|x)}[∇ₓ log p(x|z)]``, the latents' posterior taken as fixed), which is
        what imputation descends. Differentiating the ELBO through the encoder instead rewards
        inputs the autoencoder reproduces, and any fill, however wrong, is nearly a fixed point."""
        return self.energy_and_score(positions, labels)[0]

    def energy_and_score(self, positions: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """`posterior_energy` and `score` of the same windows from one pass (``[B]`` each; the
        score detached): both hold the latents at their posterior means, so the values agree and
        imputation pays one forward pass per step instead of two."""
        nll, kl, _ = self.terms(positions, labels, sample=False, hold_latents=True)
        return nll / self.elements, ((nll + kl.sum(1)) / self.elements).detach()

    def start_pose(self, windows: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """``[W, V, 3]`` the training mean pose (`position_mean`) facing each window's way: with
        ``canonical_facing``, turned back by the facing of the window's fully observed symmetry
        pairs (0 when none is seen whole); otherwise the same pose for every window."""
        mean = self.position_mean.detach().cpu().double()
        count = len(windows)
        if not self.config.canonical_facing:
            return mean.expand(count, -1, -1).numpy().copy()
        with torch.no_grad():
            positions = torch.as_tensor(np.where(missing, 0.0, windows), dtype=torch.float64)
            angles = self.facing(positions, torch.as_tensor(~missing.any(-1)))
        return turn(mean.expand(count, 1, -1, -1), -angles.cpu())[:, 0].numpy()

    @property
    def elements(self) -> int:
        return self.nodes[0] * int(self.config.frames)


def turn(positions: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """`motiongen.data.augment.rotate_about_up` for ``[B, T, V, 3]`` positions: a horizontal vector
    at angle θ (atan2(z, x)) comes to +x when turned by θ."""
    from motiongen.data.augment import rotate_about_up

    return rotate_about_up(positions.movedim(-1, 1), angles).movedim(1, -1)


def build(skeleton: Skeleton, num_classes: int, **config: Any) -> ModelPair:
    """An HG-VAE for ``skeleton`` (no critic: it trains on its own likelihood)."""
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
        raise ConfigError(f"hgvae needs at least one class, got num_classes={num_classes!r}")
    settings = HGVAEConfig.from_dict(config)
    return ModelPair(kind="hgvae", config=settings, generator=HGVAE(settings, skeleton.joint_count, int(num_classes),
                                                                     tuple(skeleton.symmetry)),
                     critic=None)
