"""Jittered real windows (`motiongen.nn.jitter`) as the Wasserstein critic's negative examples
(``critic_jitter_share``): the white noise's statistics, the sharpened windows' high-pass, which
fakes they replace, the NDA mixture in the critic's loss and the gap logged for the generated
fakes alone, and the config's refusals."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.nn.jitter import JITTER_AMPLITUDE, SHARPEN_GAIN, CriticJitterMixin, add_jitter, high_frequencies
from motiongen.skeletons import load_skeleton
from motiongen.training.losses import Networks, WganGpLoss

SHAPE = (3, 8, 5)  # [3, T, V]


def test_the_noise_is_white_with_one_amplitude_per_window_times_each_features_scale():
    torch.manual_seed(0)
    scale = torch.rand(3, 1, 5) + 0.5
    scale[1, 0, 2] = 0.0  # a coordinate that never moves
    features = torch.randn(3000, 3, 32, 5)
    noise = (add_jitter(features, scale) - features) / scale.clamp_min(1e-9)
    amplitude = noise.flatten(1).std(1) * (15 / 14) ** 0.5  # one of 15 features has no noise
    low, high = JITTER_AMPLITUDE
    assert float(amplitude.min()) > 0.8 * low and float(amplitude.max()) < 1.2 * high
    assert float(amplitude.mean()) == pytest.approx((low + high) / 2, rel=0.05)
    assert not bool(noise[:, 1, :, 2].any())
    by_frame = noise[:, :, 1:] * noise[:, :, :-1]
    assert abs(float(by_frame.mean())) < 0.02 * float(noise.square().mean())


def test_the_high_pass_keeps_the_nyquist_alternation_and_drops_constants_and_ramps():
    frames = torch.arange(16, dtype=torch.float64)
    alternation = ((-1.0) ** frames).expand(2, 3, 5, 16).transpose(2, 3)  # [B, 3, T, V]
    assert torch.allclose(high_frequencies(alternation)[:, :, 1:-1], alternation[:, :, 1:-1])
    assert not bool(high_frequencies(torch.full((2, 3, 16, 5), 4.0)).any())
    ramp = frames[None, None, :, None].expand(2, 3, 16, 5)
    assert torch.allclose(high_frequencies(ramp)[:, :, 1:-1], torch.zeros(2, 3, 14, 5, dtype=torch.float64))


def test_sharpened_windows_add_their_own_high_frequencies_times_one_gain_per_window():
    torch.manual_seed(5)
    features = torch.randn(400, 3, 16, 5, dtype=torch.float64)
    added = add_jitter(features, torch.zeros(3, 1, 5), "sharpened") - features
    gain = (added * high_frequencies(features)).flatten(1).sum(1) / high_frequencies(features).square().flatten(1).sum(1)
    assert torch.allclose(added, gain[:, None, None, None] * high_frequencies(features))  # one gain per window
    low, high = SHARPEN_GAIN
    assert float(gain.min()) >= low and float(gain.max()) <= high and float(gain.std()) > 0.2 * (high - low) / 12 ** 0.5


class JitterCritic(CriticJitterMixin, nn.Module):
    """D(x) = <w, x>, with the jitter's spreads set to ones."""

    def __init__(self, share: float):
        super().__init__()
        self.linear = nn.Linear(3 * 8 * 5, 1, bias=False)
        self._init_critic_jitter(5, share)
        if self.critic_jitter_scale is not None:
            self.critic_jitter_scale.fill_(1.0)
        self.scored = []

    def forward(self, features, labels):
        self.scored.append(features.detach().clone())
        return self.linear(features.flatten(1)).squeeze(-1)


class Offset(nn.Module):
    def __init__(self, share):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(SHAPE))
        self.config = SimpleNamespace(critic_jitter_share=share)

    def forward(self, latent, labels, truncation=1.0):
        return latent + self.offset


def _loss(share):
    critic, generator = JitterCritic(share), Offset(share)
    networks = Networks(generator_train=generator, generator_plain=generator, critic_train=critic,
                        critic_plain=critic, critic_eager=critic, generator_module=generator, critic_module=critic)
    return WganGpLoss(networks, gp_weight=0.0), critic


def test_the_critic_scores_jittered_real_windows_in_place_of_the_first_fakes():
    torch.manual_seed(1)
    loss, critic = _loss(0.25)
    real, latent, labels = torch.randn(8, *SHAPE), torch.randn(8, *SHAPE) + 5.0, torch.zeros(8, dtype=torch.long)
    values = loss.accumulate_gradients("critic", real, labels, latent)
    (scored,) = critic.scored
    assert torch.equal(scored[:8], real) and torch.equal(scored[10:], latent[2:])
    noise = scored[8:10] - real[:2]
    assert 0.5 * JITTER_AMPLITUDE[0] < float(noise.std()) < 2 * JITTER_AMPLITUDE[1]
    score = lambda x: critic.linear(x.flatten(1)).squeeze(-1).detach()  # noqa: E731
    real_mean, negative_mean, generated_mean = score(real).mean(), score(scored[8:10]).mean(), score(latent[2:]).mean()
    assert float(values["wasserstein_gap"]) == pytest.approx(float(real_mean - generated_mean), rel=1e-5)
    assert float(values["critic_jitter_gap"]) == pytest.approx(float(real_mean - negative_mean), rel=1e-5)
    mixture = (2 * negative_mean + 6 * generated_mean) / 8 - real_mean  # NDA: s·D(x̃) + (1 − s)·D(G(z)) − D(x)
    assert float(values["critic_loss"]) == pytest.approx(float(mixture), rel=1e-5)
    assert float(values["critic_fake"]) == pytest.approx(float(generated_mean), rel=1e-5)


def test_the_share_keeps_one_generated_fake_and_off_changes_nothing():
    assert JitterCritic(0.25).jitter_negative_rows(1) == 0
    assert JitterCritic(0.01).jitter_negative_rows(8) == 1
    assert JitterCritic(0.9).jitter_negative_rows(4) == 3
    loss, critic = _loss(0.0)
    real, latent = torch.randn(4, *SHAPE), torch.randn(4, *SHAPE)
    values = loss.accumulate_gradients("critic", real, torch.zeros(4, dtype=torch.long), latent)
    assert torch.equal(critic.scored[0], torch.cat([real, latent])) and "critic_jitter_gap" not in values
    assert critic.critic_jitter_scale is None and "critic_jitter_scale" not in critic.state_dict()


@pytest.mark.parametrize("kind, small", [
    ("kinetic-gan", dict(frames=16, latent_dim=8, w_dim=8, mapping_depth=2, generator_channels=(8, 4),
                         critic_channels=(4, 8))),
    ("csgn", dict(frames=16, latent_channels=4, class_channels=4, channels=(8,) * 6, critic_channels=(8,) * 6)),
])
@pytest.mark.parametrize("share", [-0.1, 1.0, True, "half"])
def test_the_share_and_the_kind_are_checked(kind, small, share):
    with pytest.raises(ConfigError, match="critic_jitter_share must be a fraction in \\[0, 1\\)"):
        create_model(kind, load_skeleton("cmu31"), 3, **small, critic_jitter_share=share)
    with pytest.raises(ConfigError, match="jitter_kind must be one of white, sharpened, got 'pink'"):
        create_model(kind, load_skeleton("cmu31"), 3, **small, jitter_kind="pink")
    with pytest.raises(ConfigError, match="jitter_kind=sharpened needs classifier_rejects_jitter=true or "
                                          "critic_jitter_share > 0"):
        create_model(kind, load_skeleton("cmu31"), 3, **small, jitter_kind="sharpened")
    create_model(kind, load_skeleton("cmu31"), 3, **small, jitter_kind="sharpened", critic_jitter_share=0.25)
    critic = create_model(kind, load_skeleton("cmu31"), 3, **small, critic_jitter_share=0.25).critic
    assert critic.critic_jitter_scale.shape == (3, 1, 31) and "critic_jitter_scale" in critic.state_dict()
