"""WGAN-GP maths (Gulrajani et al. 2017): the penalty against a closed form, each phase's gradients,
the critic phase under bf16 autocast with the penalty kept in fp32, and the auxiliary action
classifier's terms in both phases."""

from __future__ import annotations

import contextlib
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from motiongen.nn.action_classifier import ActionClassifierMixin
from motiongen.training.losses import Networks, WganGpLoss


class LinearCritic(nn.Module):
    """D(x) = <w, x> + b: ∇_x D = w everywhere, so the penalty is (‖w‖ − 1)²."""

    def __init__(self, size: int):
        super().__init__()
        self.linear = nn.Linear(size, 1)

    def forward(self, features, labels):
        return self.linear(features.flatten(1)).squeeze(-1)


class ShiftGenerator(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(shape))

    def forward(self, latent, labels, truncation=1.0):
        return latent + self.offset


def _loss(critic, generator, **kwargs) -> WganGpLoss:
    networks = Networks(generator_train=generator, generator_plain=generator, critic_train=critic,
                        critic_plain=critic, critic_eager=critic, generator_module=generator, critic_module=critic)
    return WganGpLoss(networks, **kwargs)


def test_gradient_penalty_closed_form():
    torch.manual_seed(0)
    shape = (3, 4, 2)
    critic, generator = LinearCritic(24), ShiftGenerator(shape)
    loss = _loss(critic, generator, gp_weight=10.0)
    real, latent, labels = torch.randn(5, *shape), torch.randn(5, *shape), torch.zeros(5, dtype=torch.long)
    values = loss.accumulate_gradients("critic", real, labels, latent, interpolation=torch.rand(5))
    norm = critic.linear.weight.norm()
    assert values["gradient_penalty"].item() == pytest.approx(((norm - 1) ** 2).item(), rel=1e-5)
    gap = (critic(real, labels).mean() - critic(latent, labels).mean()).item()
    assert values["wasserstein_gap"].item() == pytest.approx(gap, rel=1e-5, abs=1e-6)
    assert values["critic_loss"].item() == pytest.approx(-gap + 10 * values["gradient_penalty"].item(), rel=1e-5)
    # ∂L/∂w = E[fake] − E[real] + λ · 2 (‖w‖ − 1) w / ‖w‖
    weight = critic.linear.weight.detach()
    expected = (latent.flatten(1).mean(0) - real.flatten(1).mean(0)) + 10 * 2 * (norm - 1) * weight[0] / norm
    assert torch.allclose(critic.linear.weight.grad[0], expected.detach(), atol=1e-5)
    assert generator.offset.grad is None  # the critic phase leaves the generator alone


def test_generator_phase_pushes_fakes_up_the_critic():
    torch.manual_seed(0)
    shape = (3, 4, 2)
    critic, generator = LinearCritic(24), ShiftGenerator(shape)
    critic.requires_grad_(False)
    loss = _loss(critic, generator)
    values = loss.accumulate_gradients("generator", None, torch.zeros(6, dtype=torch.long), torch.randn(6, *shape))
    assert set(values) == {"generator_loss"}
    # L_G = −E[D(G(z))]: the gradient on the offset is −w
    assert torch.allclose(generator.offset.grad.flatten(), -critic.linear.weight[0])


def test_critic_phase_under_bf16_autocast_keeps_the_penalty_in_fp32():
    torch.manual_seed(0)
    shape = (3, 8, 5)

    class ConvCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, (3, 1), padding=(1, 0))
            self.out = nn.Linear(8, 1)

        def forward(self, features, labels):
            dtypes.append(features.dtype if not torch.is_autocast_enabled("cpu") else torch.bfloat16)
            return self.out(torch.tanh(self.conv(features)).mean((2, 3))).squeeze(-1)

    dtypes: list = []
    critic, generator = ConvCritic(), ShiftGenerator(shape)
    real, latent = torch.randn(4, *shape), torch.randn(4, *shape)
    labels, mix = torch.zeros(4, dtype=torch.long), torch.rand(4)
    plain = _loss(critic, generator).accumulate_gradients("critic", real, labels, latent, interpolation=mix)
    fp32_grads = [p.grad.clone() for p in critic.parameters()]
    critic.zero_grad()
    dtypes.clear()
    autocast = _loss(critic, generator, autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    mixed = autocast.accumulate_gradients("critic", real, labels, latent, interpolation=mix)
    assert dtypes == [torch.bfloat16, torch.float32]  # scores in bf16, the penalty's critic pass in fp32
    for key in plain:
        assert torch.isfinite(mixed[key]) and mixed[key].dtype == torch.float32
    assert mixed["gradient_penalty"].item() == pytest.approx(plain["gradient_penalty"].item(), rel=1e-6)
    for p, reference in zip(critic.parameters(), fp32_grads):
        assert p.grad.dtype == torch.float32
        assert torch.allclose(p.grad, reference, rtol=0.05, atol=0.02)


def test_unknown_phase():
    loss = _loss(LinearCritic(2), ShiftGenerator((2,)), autocast=contextlib.nullcontext)
    with pytest.raises(ValueError, match="unknown phase"):
        loss.accumulate_gradients("regulariser", None, torch.zeros(1), torch.zeros(1, 2))


class ClassifyingCritic(ActionClassifierMixin, LinearCritic):
    """The linear critic with the auxiliary action classifier, on ``[B, 3, T, V]`` features."""

    def __init__(self, shape, classes: int, rejects_fakes: bool):
        super().__init__(math.prod(shape))
        self._init_action_classifier(shape[2], 8, classes, 1.0, rejects_fakes)

    def forward(self, features, labels, classify=None):
        scores = super().forward(features, labels)
        return scores if classify is None else (scores, self.classify(classify))


def _classifying(rejects_fakes: bool, weight: float = 0.5):
    torch.manual_seed(0)
    shape = (3, 16, 4)
    critic, generator = ClassifyingCritic(shape, 3, rejects_fakes), ShiftGenerator(shape)
    generator.config = SimpleNamespace(action_classifier_weight=weight)
    real, latent = torch.randn(6, *shape), torch.randn(6, *shape)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    return critic, generator, _loss(critic, generator, gp_weight=10.0), real, latent, labels


@pytest.mark.parametrize("rejects_fakes", [False, True])
def test_the_critic_phase_adds_the_auxiliary_classifiers_cross_entropy(rejects_fakes):
    critic, generator, loss, real, latent, labels = _classifying(rejects_fakes)
    values = loss.accumulate_gradients("critic", real, labels, latent, interpolation=torch.rand(6))
    with torch.no_grad():
        expected = nn.functional.cross_entropy(critic.classify(real), labels)
        if rejects_fakes:  # the fakes are class K, "generated"
            expected = expected + nn.functional.cross_entropy(critic.classify(latent), torch.full((6,), 3))
    assert critic.classify(real).shape == (6, 4 if rejects_fakes else 3)
    assert values["classifier_loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    gap, penalty = values["wasserstein_gap"].item(), values["gradient_penalty"].item()
    assert values["critic_loss"].item() == pytest.approx(-gap + 10 * penalty + expected.item(), rel=1e-5)
    assert ("classifier_fake_recall" in values) == rejects_fakes
    assert critic.action_head.weight.grad.abs().sum() > 0 and generator.offset.grad is None
    if rejects_fakes:
        assert critic.fake_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("rejects_fakes", [False, True])
def test_the_generator_phase_asks_its_fakes_to_read_as_their_action(rejects_fakes):
    critic, generator, loss, _, latent, labels = _classifying(rejects_fakes, weight=0.5)
    critic.requires_grad_(False)
    values = loss.accumulate_gradients("generator", None, labels, latent)
    with torch.no_grad():
        classification = nn.functional.cross_entropy(critic.classify(latent), labels)  # over K (+ 1) outputs
        adversarial = -critic(latent, labels).mean()
    assert values["fake_classification"].item() == pytest.approx(classification.item(), rel=1e-5)
    assert values["generator_loss"].item() == pytest.approx((adversarial + 0.5 * classification).item(), rel=1e-5)
    # The classifier's gradient reaches the generator beside the critic's −w.
    plain_gradient = -critic.linear.weight[0].view(generator.offset.shape)
    assert not torch.allclose(generator.offset.grad, plain_gradient, atol=1e-4)
