"""The auxiliary action classifier (`motiongen.nn.action_classifier`) in the Kinetic-GAN and CSGN
critics, at tiny size on the CPU: off by default, its logits through the critic's own forward (one
call, as DDP needs), the "generated" column, the config's refusals, and a fine-tune that adds it to
a checkpoint trained without it."""

from __future__ import annotations

import pytest
import torch

from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.skeletons import load_skeleton

SMALL = {
    "kinetic-gan": dict(frames=16, latent_dim=8, w_dim=8, mapping_depth=2, generator_channels=(8, 4),
                        critic_channels=(4, 8), classifier_width=8),
    "csgn": dict(frames=16, latent_channels=4, class_channels=4, channels=(8, 8, 8, 8, 8, 8),
                 critic_channels=(8, 8, 8, 8, 8, 8), classifier_width=8),
}
KINDS = sorted(SMALL)


def _pair(kind, **overrides):
    torch.manual_seed(0)
    return create_model(kind, load_skeleton("cmu31"), 3, **{**SMALL[kind], **overrides})


@pytest.mark.parametrize("kind", KINDS)
def test_the_classifier_is_off_unless_asked(kind):
    critic = _pair(kind).critic
    assert critic.action_classifier is None and critic.fresh_parameters == ()
    assert not any(name.startswith(("action_", "fake_head")) for name in critic.state_dict())
    with pytest.raises(ConfigError, match="no action classifier"):
        critic.classify(torch.zeros(2, 3, 16, 31))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rejects_fakes", [False, True])
def test_the_critic_returns_its_scores_and_the_classifiers_logits_in_one_call(kind, rejects_fakes):
    critic = _pair(kind, action_classifier_weight=1.0, classifier_rejects_fakes=rejects_fakes).critic
    features, labels = torch.randn(4, 3, 16, 31), torch.tensor([0, 1, 2, 0])
    scores, logits = critic(features, labels, classify=features[:2])
    assert torch.equal(scores, critic(features, labels))  # the scores do not change
    assert logits.shape == (2, 4 if rejects_fakes else 3)  # three actions (and "generated")
    assert torch.allclose(logits, critic.classify(features[:2]))
    assert critic.classify(torch.randn(2, 3, 48, 31)).shape == logits.shape  # any length
    fresh = set(critic.fresh_parameters)
    assert {"action_head.weight", "action_classifier.0.weight"} <= fresh
    assert ("fake_head.weight" in fresh) == rejects_fakes
    assert not any(name.startswith(("class_embedding", "blocks", "score", "head", "stem")) for name in fresh)


@pytest.mark.parametrize("kind", KINDS)
def test_the_classifier_options_are_checked(kind):
    with pytest.raises(ConfigError, match="classifier_rejects_fakes needs the auxiliary classifier"):
        _pair(kind, classifier_rejects_fakes=True)
    with pytest.raises(ConfigError, match="action_classifier_weight must be a number ≥ 0"):
        _pair(kind, action_classifier_weight=-1.0)
    with pytest.raises(ConfigError, match="classifier_width"):
        _pair(kind, action_classifier_weight=1.0, classifier_width=0)
