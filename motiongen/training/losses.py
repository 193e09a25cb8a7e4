"""WGAN-GP for the motion GANs (Gulrajani et al., "Improved Training of Wasserstein GANs",
NeurIPS 2017, Algorithm 1), as used by Kinetic-GAN (DESIGN §6.1) and CSGN (§6.2).

Critic phase (eq. 3):
    L_D = E[D(G(z))] − E[D(x)] + λ · E[(‖∇_x̂ D(x̂)‖₂ − 1)²] (+ ε_drift · E[D(x)²]),
    x̂ = u·x + (1 − u)·G(z), u ~ U[0, 1] per sample;
generator phase:
    L_G = −E[D(G(z))].

With an auxiliary action classifier C in the critic (`motiongen.nn.action_classifier`; config
``action_classifier_weight`` w > 0, our addition, off by default) the critic phase adds CE(C(x), c)
(and CE(C(G(z)), K), the class "generated", with ``classifier_rejects_fakes``) and the generator
phase adds w · CE(C(G(z)), c). With ``mode_seeking_weight`` λ_ms > 0 (also ours, off by default) the
generator phase pairs its batch by class and adds λ_ms · L_ms (`motiongen.nn.mode_seeking`). With
``critic_augment`` (ours too, off by default) the critic sees T(x) and T(G(z)) in both phases, the
penalty's x̂ lying between them (`motiongen.nn.critic_augment`). With ``smoothness_weight`` w_s > 0
(ours, off by default) the generator phase adds w_s times a squared hinge on each action's
second differences above the data's (`motiongen.nn.smoothness`). With ``critic_jitter_share`` s > 0
(ours, off by default) the critic phase's fake side is negative data augmentation's mixture
(Sinha et al., ICLR 2021): the first s·B fakes are the batch's real windows made jittery
(`motiongen.nn.jitter`, ``jitter_kind``), so L_D = s·E[D(x̃)] + (1 − s)·E[D(G(z))] − E[D(x)] + λ·GP
over both kinds of line; the logged gap is the generated fakes' alone, ``critic_jitter_gap`` the
jittered ones'.

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

from motiongen.nn.action_classifier import classifier_critic_loss, classifier_generator_loss
from motiongen.nn.critic_augment import augment_for_critic
from motiongen.nn.mode_seeking import mode_seeking_loss, pair_labels

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
        config = getattr(networks.generator_module, "config", None)  # a bare test network may have none
        self.classifier_weight = float(getattr(config, "action_classifier_weight", 0.0))
        self.mode_seeking_weight = float(getattr(config, "mode_seeking_weight", 0.0))
        self.augment_names = tuple(getattr(config, "critic_augment", ()))
        self.augment_probability = float(getattr(config, "critic_augment_probability", 1.0))
        self.jitter_share = float(getattr(config, "critic_jitter_share", 0.0))  # NDA (`nn.jitter`)
        self.smoothness_weight = float(getattr(config, "smoothness_weight", 0.0))  # `nn.smoothness`

    def seen_by_critic(self, features: torch.Tensor) -> torch.Tensor:
        """What the critic scores in place of ``features`` (`motiongen.nn.critic_augment`)."""
        return augment_for_critic(features, self.augment_names, self.augment_probability)

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
        both = self.seen_by_critic(torch.cat([real, fake.float()]))
        real, fake = both.chunk(2)  # from here on, as the critic sees them
        negatives = nets.critic_module.jitter_negative_rows(len(real)) if self.jitter_share else 0
        scored = both
        if negatives:  # NDA: jittered real windows stand in for the first fakes
            fake = torch.cat([nets.critic_module.jitter_negatives(real[:negatives]), fake[negatives:]])
            scored = torch.cat([real, fake])
        values, doubtful = {}, []
        with self.autocast():
            if self.classifier_weight:  # one call, so a DDP wrapper sees the classifier too
                critic = nets.critic_module
                # After the fakes, the windows taught as no action: `classifier_critic_loss` takes them from the end.
                doubtful = critic.doubtful_windows(real)
                # the classifier learns "generated" from the generated windows alone
                classified = torch.cat([both if critic.rejects_fakes else real, *(rows for _, rows in doubtful)])
                scores, logits = nets.critic_train(scored, torch.cat([labels, labels]), classify=classified)
            else:
                scores = nets.critic_train(scored, torch.cat([labels, labels]))
        real_scores, fake_scores = scores.float().chunk(2)
        loss = fake_scores.mean() - real_scores.mean()
        gap = real_scores.mean() - fake_scores[negatives:].mean()  # the Wasserstein estimate, generated fakes only
        if negatives:
            values["critic_jitter_gap"] = (real_scores.mean() - fake_scores[:negatives].mean()).detach()
        if self.classifier_weight:
            classification, classified_values = classifier_critic_loss(logits, labels,
                                                                       [(name, len(rows)) for name, rows in doubtful])
            values.update(classified_values)
            loss = loss + classification
        if self.drift_weight:
            loss = loss + self.drift_weight * real_scores.square().mean()
        penalty = torch.zeros((), device=real.device)
        if self.gp_weight:
            penalty = self.gradient_penalty(real, fake, labels, interpolation)
            loss = loss + self.gp_weight * penalty
        loss.backward()
        return {"critic_loss": loss.detach(), "wasserstein_gap": gap.detach(), "gradient_penalty": penalty.detach(),
                "critic_real": real_scores.mean().detach(), "critic_fake": fake_scores[negatives:].mean().detach(), **values}

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor,
                         interpolation: torch.Tensor | None = None) -> torch.Tensor:
        """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] over interpolates x̂ (fp32, eager, graph kept for backward)."""
        return _gradient_penalty(self.networks.critic_eager, real, fake, labels, interpolation)

    def _generator_phase(self, labels, latent) -> dict[str, torch.Tensor]:
        nets = self.networks
        if self.mode_seeking_weight:  # samples i and i + B/2 share a class, so their difference is the latent's
            labels = pair_labels(labels)
        with self.autocast():
            fake = nets.generator_train(latent, labels)
            seen = self.seen_by_critic(fake)
            scores = nets.critic_plain(seen, labels).float()
        loss = -scores.mean()
        values = {}
        if self.classifier_weight:  # the fakes should read as their action (AC-GAN)
            classification = classifier_generator_loss(nets.critic_module, seen.float(), labels, self.autocast)
            loss = loss + self.classifier_weight * classification
            values["fake_classification"] = classification.detach()
        if self.mode_seeking_weight:
            seeking = mode_seeking_loss(fake, latent)
            loss = loss + self.mode_seeking_weight * seeking
            values["mode_seeking"] = seeking.detach()
        if self.smoothness_weight:  # on the generator's own output: no critic has to notice the jitter
            hinge, excess = nets.generator_module.smoothness_terms(fake, labels)
            loss = loss + self.smoothness_weight * hinge
            values["smoothness_hinge"], values["sharpness_excess"] = hinge.detach(), excess
        loss.backward()
        return {"generator_loss": loss.detach(), **values}


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


class LarnetLoss:
    """LARNet's losses (`motiongen.models.larnet`; DESIGN §6.3), phases ``"critic"`` and
    ``"generator"``, both on real windows (the generator reconstructs them and starts its fakes at
    their first frames). With x real, ê = E(x), e = G_m(a, p, z), x̃ the window made from e:

    critic:    [E D_s(x̃)  (+ E D_s(mix(x, x̃)), averaged with it)] − E D_s(x) + λ GP_s(x, x̃)
               + E D_l(e) − E D_l(ê) + λ GP_l(ê, e)                              (latent_adversarial)
    generator: w_lat ‖e − sg(ê)‖²                                                (latent_supervision)
               + w_rec ‖Dec(I(S(x₀), ê)) − x‖²                                   (reconstruction)
               − w_adv (E D_s(x̃) [sequence_adversarial] + E D_s(mix) [mix_adversarial]
                        + E D_l(e) [latent_adversarial] + Σ_k E D_s(x̃ₖ) [rollout_windows])
               + w_foot (slide(x̃) + Σ_k slide(x̃ₖ))                                 (foot_contact_weight > 0)
               + w_cls (CE(C(x̃), a) + Σ_k CE(C(x̃ₖ), a))                       (action_classifier_weight > 0)
    and the critic phase adds CE(C(x), a): C is the critic's auxiliary action classifier (AC-GAN),
    trained on real windows only, so it cannot learn to accept what the generator makes; with
    ``classifier_rejects_fakes`` also CE(C(x̃), K), the extra class "generated", so the fakes must
    read as their action to a classifier that is looking for fakes.

slide: `LarnetGenerator.foot_sliding`, the feet's excess speed while on the floor (not in the
paper: a skeleton generator must also keep planted feet still, see RESULTS).

    x̃ₖ: the k-th window chained after x̃ from its last frame (`LarnetGenerator._rollout`), counted
    as fake alongside x̃ when ``rollout_windows`` > 0.

    ê is not pushed towards e (stop-gradient): the encoder learns from reconstruction only, so the
    generator has to meet a representation that describes real motion, not one that shrinks to be
    easy to predict. The frames of a mix are drawn with the global RNG (seeded per rank, saved for
    resume)."""

    needs_real = ("critic", "generator")  # phases whose batches carry real windows (see the loop)

    def __init__(self, networks: Networks, gp_weight: float = 10.0, drift_weight: float = 0.0,
                 autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext):
        self.networks = networks
        self.config = networks.generator_module.config
        self.gp_weight = float(gp_weight)
        self.drift_weight = float(drift_weight)
        self.autocast = autocast

    def accumulate_gradients(self, phase: str, real_features: torch.Tensor, labels: torch.Tensor,
                             latent: torch.Tensor, interpolation: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if phase == "critic":
            return self._critic_phase(real_features, labels, latent, interpolation)
        if phase == "generator":
            return self._generator_phase(real_features, labels, latent)
        raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")

    def _mix(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        from motiongen.models.larnet import mix_frames

        take_fake = torch.rand(real.shape[0], real.shape[2], device=real.device) < float(self.config.mix_probability)
        return mix_frames(real, fake, take_fake)

    @staticmethod
    def _generated_windows(out: dict) -> list:
        """The generated clip and the windows rolled out after it (fp32)."""
        return [out["fake"].float(), *(window.float() for window in out.get("rollout", ()))]

    def _judged_fakes(self, out: dict, real: torch.Tensor) -> list:
        """What the sequence critic scores as fake: the generated clip, the windows rolled out
        after it and its mix with ``real``, each when its loss is on."""
        parts = self._generated_windows(out) if self.config.sequence_adversarial else []
        if self.config.mix_adversarial:
            parts.append(self._mix(real, out["fake"].float()))
        return parts

    def _critic_phase(self, real, labels, latent, interpolation) -> dict[str, torch.Tensor]:
        from motiongen.models.larnet import flatten_latent

        nets, config = self.networks, self.config
        with torch.no_grad(), self.autocast():
            out = nets.generator_plain(latent, labels, real=real, reconstruct=False)
        fake = out["fake"].float()
        zero = torch.zeros((), device=real.device)
        values = {"critic_loss": zero, "wasserstein_gap": zero, "gradient_penalty": zero,
                  "latent_gap": zero, "latent_penalty": zero}
        loss = zero
        fakes = self._judged_fakes(out, real)
        sequences = torch.cat([real, *fakes]) if fakes else None
        latents = None
        if config.latent_adversarial:
            latents = torch.cat([flatten_latent(out["encoded"]), flatten_latent(out["generated"])]).float()
        classifying = nets.critic_module.action_classifier is not None
        classified = torch.cat([real, fake]) if classifying and nets.critic_module.rejects_fakes else real
        with self.autocast():
            scores = nets.critic_train(sequences, labels.repeat(1 + len(fakes)), latents, labels.repeat(2),
                                       classify=classified if classifying else None)
        if classifying:
            sequence_scores, latent_scores, logits = scores
            classification, classified_values = classifier_critic_loss(logits, labels)
            loss = loss + classification
            values.update(classified_values)
        else:
            sequence_scores, latent_scores = scores if latents is not None else (scores, None)
        if fakes:
            real_scores, *fake_scores = sequence_scores.float().chunk(1 + len(fakes))
            gap = real_scores.mean() - torch.stack([s.mean() for s in fake_scores]).mean()
            loss = loss - gap
            if self.drift_weight:
                loss = loss + self.drift_weight * real_scores.square().mean()
            if self.gp_weight:  # on the line between real and its fully generated counterpart
                penalty = _gradient_penalty(nets.critic_eager, real, fake, labels, interpolation)
                loss = loss + self.gp_weight * penalty
                values["gradient_penalty"] = penalty.detach()
            values["wasserstein_gap"] = gap.detach()
        if latents is not None:
            encoded_scores, generated_scores = latent_scores.float().chunk(2)
            latent_gap = encoded_scores.mean() - generated_scores.mean()
            loss = loss - latent_gap
            if self.gp_weight:
                encoded, generated = latents.chunk(2)
                penalty = _gradient_penalty(nets.critic_module.score_latent_flat, encoded, generated, labels,
                                            interpolation)
                loss = loss + self.gp_weight * penalty
                values["latent_penalty"] = penalty.detach()
            values["latent_gap"] = latent_gap.detach()
        if loss.requires_grad:
            loss.backward()
        values["critic_loss"] = loss.detach()
        return values

    def _generator_phase(self, real, labels, latent) -> dict[str, torch.Tensor]:
        from motiongen.models.larnet import flatten_latent

        nets, config = self.networks, self.config
        with self.autocast():
            out = nets.generator_train(latent, labels, real=real, reconstruct=bool(config.reconstruction))
        zero = torch.zeros((), device=real.device)
        values = {"latent_mse": zero, "reconstruction_mse": zero, "adversarial": zero}
        loss = zero
        encoded = flatten_latent(out["encoded"]).float()
        generated = flatten_latent(out["generated"]).float()
        latent_mse = (generated - encoded.detach()).square().mean()
        values["latent_mse"] = latent_mse.detach()  # logged even when it is not trained on
        if config.latent_supervision:
            loss = loss + float(config.latent_weight) * latent_mse
        if config.reconstruction:
            reconstruction = (out["reconstruction"].float() - real).square().mean()
            loss = loss + float(config.reconstruction_weight) * reconstruction
            values["reconstruction_mse"] = reconstruction.detach()
        # Logged even when it is not trained on, like the latent MSE: it shows what the other
        # losses alone do to the feet.
        windows = self._generated_windows(out)
        sliding = nets.generator_module.foot_sliding(windows[0])
        values["foot_sliding"] = sliding.detach()
        if config.foot_contact_weight:
            for window in windows[1:]:
                sliding = sliding + nets.generator_module.foot_sliding(window)
            loss = loss + float(config.foot_contact_weight) * sliding
        if config.action_classifier_weight:  # the fakes should read as their action (AC-GAN)
            fake_classification = classifier_generator_loss(nets.critic_module, torch.cat(windows), labels,
                                                            self.autocast)
            loss = loss + float(config.action_classifier_weight) * fake_classification
            values["fake_classification"] = fake_classification.detach()
        adversarial = zero
        fakes = self._judged_fakes(out, real)
        if fakes:
            with self.autocast():
                scores = nets.critic_plain(torch.cat(fakes), labels.repeat(len(fakes))).float()
            adversarial = adversarial - scores.view(len(fakes), -1).mean(1).sum()
        if config.latent_adversarial:
            adversarial = adversarial - nets.critic_module.score_latent_flat(generated, labels).float().mean()
        loss = loss + float(config.adversarial_weight) * adversarial
        values["adversarial"] = adversarial.detach()
        loss.backward()
        values["generator_loss"] = loss.detach()
        return values


def _gradient_penalty(score: Callable, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor,
                      interpolation: torch.Tensor | None) -> torch.Tensor:
    """E[(‖∇_x̂ score(x̂)‖₂ − 1)²] on x̂ = u·real + (1 − u)·fake (fp32, eager, graph kept)."""
    if interpolation is None:
        interpolation = torch.rand(real.shape[0], device=real.device)
    weight = interpolation.to(real.dtype).view(-1, *([1] * (real.ndim - 1)))
    mixed = (weight * real.detach() + (1.0 - weight) * fake.detach()).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        (gradient,) = torch.autograd.grad(score(mixed, labels).float().sum(), mixed, create_graph=True)
        return (gradient.flatten(1).norm(2, dim=1) - 1.0).square().mean()
