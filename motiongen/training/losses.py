"""WGAN-GP for the motion GANs (Gulrajani et al., "Improved Training of Wasserstein GANs",
NeurIPS 2017, Algorithm 1), as used by Kinetic-GAN (DESIGN §6.1) and CSGN (§6.2).

Critic phase (eq. 3):
    L_D = E[D(G(z))] − E[D(x)] + λ · E[(‖∇_x̂ D(x̂)‖₂ − 1)²] (+ ε_drift · E[D(x)²]),
    x̂ = u·x + (1 − u)·G(z), u ~ U[0, 1] per sample;
generator phase:
    L_G = −E[D(G(z))].

The drift term is Karras et al.'s (ProGAN, ICLR 2018, §A.1), off by default. The loop calls
`WganGpLoss.accumulate_gradients(phase, ...)` once per phase; the GAN maths stays here
(StyleGAN2-ADA's ``loss.py`` shape). Under bf16 autocast the real/fake scores run in bf16 while
the gradient penalty, whose double backward is the fragile part, runs in fp32 and eagerly
(``torch.compile`` cannot compile a double backward, DESIGN §7).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

PHASES = ("critic", "generator")


@dataclass
class Networks:
    """The callables one phase may use. ``*_train`` are the (DDP-wrapped, maybe compiled)
    forwards whose parameters are being optimised; ``*_plain`` are the bare modules' forwards for
    the other network (no DDP bookkeeping, no gradient sync); ``critic_eager`` is the
    uncompiled critic for the gradient penalty."""

    generator_train: Callable
    generator_plain: Callable
    critic_train: Callable
    critic_plain: Callable
    critic_eager: Callable
    generator_module: nn.Module
    critic_module: nn.Module


class WganGpLoss:
    def __init__(self, networks: Networks, gp_weight: float = 10.0, drift_weight: float = 0.0,
                 autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext):
        self.networks = networks
        self.gp_weight = float(gp_weight)  # λ of the gradient penalty
        self.drift_weight = float(drift_weight)  # ε_drift on E[D(x)²] (ProGAN), 0 = off
        self.autocast = autocast

    # --- one phase ----------------------------------------------------------------------------
    def accumulate_gradients(self, phase: str, real_features: torch.Tensor | None, labels: torch.Tensor,
                             latent: torch.Tensor,
                             interpolation: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Backpropagate one phase's loss into the parameters' ``.grad``; return detached scalars.

        real_features ``[B, 3, T, V]`` (critic phase only), labels ``[B]`` (class of the real
        windows and of the fakes), latent (``generator.make_latent`` output for B samples),
        interpolation ``[B]`` in [0, 1] (the u of x̂; drawn here when not given)."""
        if phase == "critic":
            return self._critic_phase(real_features, labels, latent, interpolation)
        if phase == "generator":
            return self._generator_phase(labels, latent)
        raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")

    def _critic_phase(self, real, labels, latent, interpolation) -> dict[str, torch.Tensor]:
        nets = self.networks
        with torch.no_grad(), self.autocast():
            fake = nets.generator_plain(latent, labels)
        fake = fake.float()
        with self.autocast():
            scores = nets.critic_train(torch.cat([real, fake]), torch.cat([labels, labels])).float()
        real_scores, fake_scores = scores.chunk(2)
        gap = real_scores.mean() - fake_scores.mean()  # the Wasserstein estimate
        loss = -gap
        if self.drift_weight:
            loss = loss + self.drift_weight * real_scores.square().mean()
        penalty = torch.zeros((), device=real.device)
        if self.gp_weight:
            penalty = self.gradient_penalty(real, fake, labels, interpolation)
            loss = loss + self.gp_weight * penalty
        loss.backward()
        return {"critic_loss": loss.detach(), "wasserstein_gap": gap.detach(), "gradient_penalty": penalty.detach(),
                "critic_real": real_scores.mean().detach(), "critic_fake": fake_scores.mean().detach()}

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor,
                         interpolation: torch.Tensor | None = None) -> torch.Tensor:
        """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] over interpolates x̂ (fp32, eager, graph kept for backward)."""
        if interpolation is None:
            interpolation = torch.rand(real.shape[0], device=real.device)
        weight = interpolation.to(real.dtype).view(-1, *([1] * (real.ndim - 1)))
        mixed = (weight * real.detach() + (1.0 - weight) * fake.detach()).requires_grad_(True)
        with torch.autocast(device_type=real.device.type, enabled=False):
            scores = self.networks.critic_eager(mixed, labels).float()
            (gradient,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
            norm = gradient.flatten(1).norm(2, dim=1)
            return (norm - 1.0).square().mean()

    def _generator_phase(self, labels, latent) -> dict[str, torch.Tensor]:
        nets = self.networks
        with self.autocast():
            fake = nets.generator_train(latent, labels)
            scores = nets.critic_plain(fake, labels).float()
        loss = -scores.mean()
        loss.backward()
        return {"generator_loss": loss.detach()}


class VaeLoss:
    """The negative ELBO of a hierarchical VAE (HG-VAE, DESIGN §6.4), one phase ``"vae"``:

        L = E_batch[ NLL(x | z) + β(step) · Σ_levels KL(q ‖ p) ] / elements per window,

    β rising linearly from ``kl_start`` to 1 over ``kl_warmup_steps`` generator steps (the paper
    warms it from 0.001 over its first 200 epochs). Dividing by the window's element count keeps
    the loss per coordinate, so learning rates mean the same for any skeleton or window length."""

    def __init__(self, model_train: Callable, model: nn.Module,
                 autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext):
        self.model_train = model_train  # DDP-wrapped (maybe compiled) forward
        self.model = model
        self.autocast = autocast

    def kl_weight(self, step: int) -> float:
        config = self.model.config
        warmup = int(config.kl_warmup_steps)
        if warmup <= 0:
            return 1.0
        return float(config.kl_start) + (1.0 - float(config.kl_start)) * min(1.0, step / warmup)

    def accumulate_gradients(self, phase: str, positions: torch.Tensor, labels: torch.Tensor,
                             step: int) -> dict[str, torch.Tensor]:
        if phase != "vae":
            raise ValueError(f"unknown phase {phase!r}; expected 'vae'")
        beta = self.kl_weight(step)
        with self.autocast():
            nll, kl = self.model_train(positions, labels)
        nll, kl = nll.float(), kl.float()
        elements = float(self.model.elements)
        loss = (nll + beta * kl.sum(1)).mean() / elements
        loss.backward()
        values = {"vae_loss": loss.detach(), "nll": (nll.mean() / elements).detach(),
                  "kl": (kl.sum(1).mean() / elements).detach(),
                  "elbo": ((nll + kl.sum(1)).mean() / elements).detach(),
                  "kl_weight": torch.tensor(beta)}
        for level in range(kl.shape[1]):
            values[f"kl_{level}"] = (kl[:, level].mean() / elements).detach()
        return values


class ClassifierLoss:
    """Cross-entropy of an action recogniser (`motiongen.models.recognizer`), one phase
    ``"classify"``, on the same augmented real windows a VAE sees; logs the batch accuracy too."""

    def __init__(self, model_train: Callable, model: nn.Module,
                 autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext):
        self.model_train = model_train  # DDP-wrapped (maybe compiled) forward
        self.model = model
        self.autocast = autocast

    def accumulate_gradients(self, phase: str, positions: torch.Tensor, labels: torch.Tensor,
                             step: int) -> dict[str, torch.Tensor]:
        if phase != "classify":
            raise ValueError(f"unknown phase {phase!r}; expected 'classify'")
        with self.autocast():
            logits = self.model_train(positions)
        logits = logits.float()
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        accuracy = (logits.argmax(1) == labels).float().mean()
        return {"classify_loss": loss.detach(), "train_accuracy": accuracy.detach()}
