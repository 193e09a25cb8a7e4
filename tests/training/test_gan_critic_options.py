"""Our optional additions to the Kinetic-GAN and CSGN critics, at tiny size on the CPU: the
auxiliary action classifier (`motiongen.nn.action_classifier`: off by default, its logits through
the critic's own forward as DDP needs, the "generated" column, the generator's term among the
actions alone, the motion-only input, stills, held limbs and jitter taught as no action, the
config's refusals), the
frame-change channels (`motiongen.nn.frame_changes`: scaled by their training spread, fitted by
the training loop, saved with the critic), the minibatch-stddev channel
(`motiongen.nn.minibatch_stddev`: groups of consecutive clips, never real and fake together) and
the class projection (`motiongen.nn.class_projection`: zero at the start, then ⟨e_y, φ(x)⟩)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from motiongen.data.features import to_channels_first, to_features
from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.nn.action_classifier import classifier_critic_loss, classifier_generator_loss, limb_masks
from motiongen.nn.frame_changes import FrameChanges, frame_change_spread
from motiongen.nn.jitter import JITTER_AMPLITUDE
from motiongen.nn.minibatch_stddev import MinibatchStddev
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
    assert critic.class_projection is None
    assert not any(name.startswith(("action_", "fake_head", "class_projection")) for name in critic.state_dict())
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
    with pytest.raises(ConfigError, match="classify_fakes_among_actions needs the K . 1 classifier"):
        _pair(kind, action_classifier_weight=1.0, classify_fakes_among_actions=True)
    with pytest.raises(ConfigError, match="classify_fakes_among_actions must be true or false"):
        _pair(kind, action_classifier_weight=1.0, classifier_rejects_fakes=True, classify_fakes_among_actions="yes")


@pytest.mark.parametrize("kind", KINDS)
def test_a_motion_only_classifier_reads_no_posture(kind):
    """It sees the root's horizontal velocity and every feature's scaled change: a posture held
    differently (a constant added to every other feature) leaves its logits alone; the same poses
    in another order, or the root moving faster, do not."""
    critic = _pair(kind, action_classifier_weight=1.0, classifier_rejects_fakes=True,
                   classifier_motion_only=True).critic
    assert critic.action_classifier[0].in_channels == 3 * 31 + 2
    assert {"classifier_changes.scale", "action_classifier.0.weight"} <= set(critic.fresh_parameters)
    torch.manual_seed(1)
    features = torch.randn(4, 3, 16, 31)
    logits = critic.classify(features)
    posture = torch.randn(4, 3, 1, 31)
    posture[:, 0::2, :, 0] = 0  # the root's velocity is motion, not posture
    assert torch.allclose(critic.classify(features + posture), logits, atol=1e-5)
    assert not torch.allclose(critic.classify(features.flip(2)), logits, atol=1e-3)
    faster = features.clone()
    faster[:, 0::2, :, 0] += 1.0
    assert not torch.allclose(critic.classify(faster), logits, atol=1e-3)
    plain = _pair(kind, action_classifier_weight=1.0, classifier_rejects_fakes=True).critic
    assert plain.classifier_changes is None
    assert not torch.allclose(plain.classify(features + posture), plain.classify(features), atol=1e-3)


def test_a_motion_only_classifier_fits_its_change_scales_to_the_data(cmu_dataset):
    critic = _pair("kinetic-gan", action_classifier_weight=1.0, classifier_motion_only=True).critic
    critic.fit_data(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    reference = FrameChanges(31)
    reference.fit(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    assert torch.equal(critic.classifier_changes.scale, reference.scale)
    assert not torch.equal(reference.scale, torch.ones_like(reference.scale))
    assert critic.frame_changes is None  # the critic's own input is a separate option


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option, not_a_bool", [("classifier_motion_only", "yes"), ("classifier_rejects_stills", 1),
                                                ("classifier_rejects_held_limbs", "on"),
                                                ("classifier_rejects_jitter", "no")])
def test_the_classifiers_switches_are_checked(kind, option, not_a_bool):
    with pytest.raises(ConfigError, match=f"{option} needs the auxiliary classifier"):
        _pair(kind, **{option: True})
    with pytest.raises(ConfigError, match=f"{option} must be true or false"):
        _pair(kind, action_classifier_weight=1.0, **{option: not_a_bool})


@pytest.mark.parametrize("kind", KINDS)
def test_stills_are_the_windows_frozen_at_one_of_their_frames_with_the_root_at_rest(kind, cmu_dataset):
    critic = _pair(kind, action_classifier_weight=1.0, classifier_rejects_stills=True).critic
    assert critic.rejects_stills and "classifier_still_root" in critic.fresh_parameters
    critic.fit_data(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    at_rest = cmu_dataset.normalization.normalize(np.zeros((1, 31, 3)))[0, 0, 0::2]
    assert torch.allclose(critic.classifier_still_root, torch.as_tensor(at_rest, dtype=torch.float32))
    torch.manual_seed(2)
    features = torch.randn(64, 3, 16, 31)
    stills = critic.stills(features)
    assert stills.shape == features.shape
    assert torch.equal(stills, stills[:, :, :1].expand_as(stills))  # one pose held
    assert torch.equal(stills[:, 0::2, 0, 0], critic.classifier_still_root.expand(64, 2))  # the root at rest
    # every other feature (the root's height too) is that of one of the window's own frames
    same = (stills[:, :, :1, 1:] == features[:, :, :, 1:]).all(3).all(1)  # [B, T]
    assert bool((stills[:, 1, 0, 0, None] == features[:, 1, :, 0])[same].all()) and bool(same.any(1).all())
    chosen = same.float().argmax(1)
    assert len(set(chosen.tolist())) > 1  # a frame of its own per window
    assert not _pair(kind, action_classifier_weight=1.0).critic.rejects_stills


def test_the_still_term_is_the_kl_from_uniform_over_the_actions_alone():
    """Zero for stills read as no action in particular, whatever their "generated" logit; more for
    stills read as one; logged with how many stills read as their own window's action."""
    labels = torch.tensor([0, 1])
    real, fakes = torch.tensor([[5.0, 0, 0, 0], [0, 5.0, 0, 0]]), torch.tensor([[0, 0, 0, 5.0], [0, 0, 0, 5.0]])
    without, _ = classifier_critic_loss(torch.cat([real, fakes]), labels)
    doubtful = torch.tensor([[1.0, 1, 1, 9], [2.0, 2, 2, -3]])
    loss, values = classifier_critic_loss(torch.cat([real, fakes, doubtful]), labels, [("still", 2)])
    assert torch.allclose(loss, without) and float(values["classifier_still_doubt"]) == pytest.approx(0, abs=1e-6)
    sure = torch.tensor([[6.0, 0, 0, 0], [0, 0, 6.0, 0]])
    loss, values = classifier_critic_loss(torch.cat([real, fakes, sure]), labels, [("still", 2)])
    expected = -torch.log_softmax(sure[:, :3], 1).mean() - np.log(3)
    assert float(values["classifier_still_doubt"]) == pytest.approx(float(expected))
    assert float(loss - without) == pytest.approx(float(expected)) and float(expected) > 1
    assert float(values["classifier_still_reads"]) == 0.5  # the first still read as its action
    # a K-way classifier (no fakes classified): all columns are actions
    loss, values = classifier_critic_loss(torch.cat([real[:, :3], sure[:, :3]]), labels, [("still", 2)])
    assert float(values["classifier_still_doubt"]) == pytest.approx(float(expected))


def test_limb_masks_are_the_legs_then_the_arms_from_the_canonical_joints():
    skeleton = load_skeleton("cmu31")
    legs, arms = ([skeleton.joint_names[j] for j in np.nonzero(row)[0]] for row in limb_masks(skeleton))
    assert legs == ["LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
                    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase"]
    assert {"LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand"} <= set(arms)
    assert not {"Hips", "Spine", "Head", "LeftShoulder", "RightShoulder"} & set(arms + legs)  # the body stays
    no_arms = skeleton.subset([j for j, name in enumerate(skeleton.joint_names) if "Arm" not in name
                               and "Hand" not in name and "Thumb" not in name and "Finger" not in name], "legs")
    with pytest.raises(ConfigError, match="needs the canonical joints left_shoulder, right_shoulder; "
                                          "skeleton 'legs' has no left_shoulder, right_shoulder"):
        limb_masks(no_arms)


@pytest.mark.parametrize("kind", KINDS)
def test_held_limbs_hold_the_pair_that_moves_most_at_one_of_its_frames(kind):
    critic = _pair(kind, action_classifier_weight=1.0, classifier_rejects_held_limbs=True).critic
    assert critic.rejects_held_limbs and not critic.rejects_stills
    assert "classifier_limbs" not in critic.state_dict()  # from the skeleton: nothing saved or loaded
    legs, arms = (torch.as_tensor(row, dtype=torch.bool) for row in limb_masks(load_skeleton("cmu31")))
    torch.manual_seed(3)
    features = 0.01 * torch.randn(64, 3, 16, 31)
    busy_legs = torch.arange(64) % 2 == 0  # even windows kick, odd ones punch
    busy = torch.where(busy_legs[:, None], legs, arms)  # [B, V]
    features = features + torch.randn(64, 3, 16, 31) * busy[:, None, None, :]
    held = critic.held_limbs(features)
    assert held.shape == features.shape
    assert torch.equal(held[..., ~(legs | arms)], features[..., ~(legs | arms)])  # root and body untouched
    for window in (0, 1, 62, 63):  # the busy pair held, the other pair as it was
        still, moving = busy[window], (legs | arms) & ~busy[window]
        assert torch.equal(held[window][..., still], held[window][:, :1, still].expand(-1, 16, -1))
        assert torch.equal(held[window][..., moving], features[window][..., moving])
    # the held pose is one of the window's own frames, a frame of its own per window
    matches = ((held[:, :, :1] == features).all(1) | ~busy[:, None, :]).all(2)  # [B, T]: the busy pair's pose
    assert bool(matches.any(1).all()) and len(set(matches.float().argmax(1).tolist())) > 1


def test_held_limbs_come_last_and_add_their_own_term():
    labels = torch.tensor([0, 1])
    real, fakes = torch.tensor([[5.0, 0, 0, 0], [0, 5.0, 0, 0]]), torch.tensor([[0, 0, 0, 5.0], [0, 0, 0, 5.0]])
    doubtful, sure = torch.tensor([[1.0, 1, 1, 9], [2.0, 2, 2, -3]]), torch.tensor([[6.0, 0, 0, 0], [0, 0, 6.0, 0]])
    expected = float(-torch.log_softmax(sure[:, :3], 1).mean() - np.log(3))
    without, _ = classifier_critic_loss(torch.cat([real, fakes]), labels)
    loss, values = classifier_critic_loss(torch.cat([real, fakes, doubtful, sure]), labels, [("still", 2), ("held", 2)])
    assert float(values["classifier_still_doubt"]) == pytest.approx(0, abs=1e-6)
    assert float(values["classifier_held_doubt"]) == pytest.approx(expected)
    assert float(values["classifier_held_reads"]) == 0.5 and float(loss - without) == pytest.approx(expected)
    assert float(values["classifier_fake_recall"]) == 1.0  # the fakes found where they were
    loss, values = classifier_critic_loss(torch.cat([real, fakes, sure]), labels, [("held", 2)])  # held alone
    assert "classifier_still_doubt" not in values and float(values["classifier_held_doubt"]) == pytest.approx(expected)


@pytest.mark.parametrize("kind", KINDS)
def test_jittered_windows_add_white_noise_in_units_of_each_features_frame_change_spread(kind, cmu_dataset):
    critic = _pair(kind, action_classifier_weight=1.0, classifier_rejects_jitter=True).critic
    assert critic.rejects_jitter and "classifier_jitter_scale" in critic.fresh_parameters
    critic.fit_data(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    spread = frame_change_spread(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)  # [V, 3]
    assert torch.allclose(critic.classifier_jitter_scale[:, 0, :], spread.T.float())
    torch.manual_seed(4)
    features = torch.randn(4000, 3, 16, 31)
    noise = critic.jittered(features) - features
    # per window, the noise over its features divided by their spreads is white with one amplitude
    moving = spread.T > 1e-6  # [3, V]
    assert bool((~moving).any())  # cmu31 has coordinates fixed to their parent
    by_frame = noise.permute(0, 2, 1, 3)  # [B, T, 3, V]
    unit = by_frame[:, :, moving] / spread.T[moving].float()  # [B, T, features]
    amplitude = unit.flatten(1).std(1)
    low, high = JITTER_AMPLITUDE
    assert float(amplitude.min()) > 0.9 * low and float(amplitude.max()) < 1.1 * high
    assert float(amplitude.std()) > 0.25 * (high - low) / np.sqrt(12)  # drawn per window, not one for all
    steps = unit[:, 1:] * unit[:, :-1]
    assert abs(float(steps.mean())) < 0.01 * float(unit.square().mean())  # no correlation from frame to frame
    assert not bool(by_frame[:, :, ~moving].any())  # a coordinate that never moves stays fixed
    assert not _pair(kind, action_classifier_weight=1.0).critic.rejects_jitter
    sharpened = _pair(kind, action_classifier_weight=1.0, classifier_rejects_jitter=True, jitter_kind="sharpened").critic
    smooth = torch.arange(16.0)[None, None, :, None].expand(2, 3, 16, 31)  # no high frequencies inside
    assert torch.allclose(sharpened.jittered(smooth)[:, :, 1:-1], smooth[:, :, 1:-1], atol=1e-5)


def test_the_doubtful_windows_come_in_the_order_the_loss_takes_them():
    critic = _pair("kinetic-gan", action_classifier_weight=1.0, classifier_rejects_stills=True,
                   classifier_rejects_held_limbs=True, classifier_rejects_jitter=True).critic
    real = torch.randn(5, 3, 16, 31)
    assert [name for name, rows in critic.doubtful_windows(real)] == ["still", "held", "jitter"]
    assert all(rows.shape == real.shape for _, rows in critic.doubtful_windows(real))
    only = _pair("kinetic-gan", action_classifier_weight=1.0, classifier_rejects_jitter=True).critic
    assert [name for name, _ in only.doubtful_windows(real)] == ["jitter"]
    labels = torch.tensor([0, 1])
    real, sure = torch.tensor([[5.0, 0, 0], [0, 5.0, 0]]), torch.tensor([[6.0, 0, 0], [0, 0, 6.0]])
    doubtful = torch.zeros(2, 3)
    expected = float(-torch.log_softmax(sure, 1).mean() - np.log(3))
    _, values = classifier_critic_loss(torch.cat([real, doubtful, doubtful, sure]), labels,
                                       [("still", 2), ("held", 2), ("jitter", 2)])
    assert float(values["classifier_jitter_doubt"]) == pytest.approx(expected)
    assert float(values["classifier_still_doubt"]) == pytest.approx(0, abs=1e-6)
    assert float(values["classifier_held_doubt"]) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_generators_class_term_among_actions_ignores_the_generated_column(kind):
    """Over K + 1 outputs the term also pushes the fakes away from "generated"; among the K
    actions it is the CE of those logits alone, so the "generated" head gets no gradient, and the
    option changes no weight (checkpoints stay interchangeable)."""
    fakes, labels = torch.randn(4, 3, 16, 31), torch.tensor([0, 1, 2, 0])
    losses = {}
    for among in (False, True):
        critic = _pair(kind, action_classifier_weight=1.0, classifier_rejects_fakes=True,
                       classify_fakes_among_actions=among).critic
        loss = classifier_generator_loss(critic, fakes, labels, contextlib.nullcontext)
        logits = critic.classify(fakes).detach()
        expected = logits[:, :3] if among else logits
        assert torch.allclose(loss, torch.nn.functional.cross_entropy(expected, labels))
        loss.backward()
        generated_grad = critic.fake_head.weight.grad
        assert (generated_grad is None or not generated_grad.any()) == among
        assert critic.action_head.weight.grad.abs().sum() > 0
        losses[among] = (loss.item(), sorted(critic.state_dict()))
    assert losses[False][1] == losses[True][1]
    assert losses[False][0] > losses[True][0]  # the "generated" column only adds probability mass to miss


# --- frame-change channels ----------------------------------------------------------------------------

def test_frame_changes_are_the_next_frames_difference_in_units_of_their_training_spread(cmu_dataset):
    changes = FrameChanges(31)
    features = torch.as_tensor(cmu_dataset.features())  # [N, 3, T, V] normalised
    assert torch.equal(changes(features)[:, 3:, :-1], (features[:, :, 1:] - features[:, :, :-1]))  # ones at first
    changes.fit(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    seen = changes(features)
    assert torch.equal(seen[:, :3], features) and torch.equal(seen[:, 3:, -1], torch.zeros_like(seen[:, 3:, -1]))
    spread = seen[:, 3:, :-1].transpose(0, 1).reshape(3, -1, 31).std(1)  # per (coordinate, joint)
    moving = changes.scale[:, 0] < changes.scale.max()  # not the floor of a joint that never moves
    np.testing.assert_allclose(spread[moving].numpy(), 1.0, rtol=0.05)
    frozen = features[:, :, :1].expand_as(features)  # a clip holding its first pose
    assert changes(frozen)[:, 3:].abs().max() == 0 and changes(features)[:, 3:].abs().mean() > 0.5


def test_frame_changes_stay_finite_when_most_coordinates_never_change():
    from motiongen.data.features import Normalization

    windows = np.zeros((4, 16, 31, 3), dtype=np.float32)
    windows[..., 1] = 1.0
    normalization = Normalization.from_features_data(to_features(windows))
    changes = FrameChanges(31)
    changes.fit(windows, normalization)  # nothing moves: unscaled
    assert torch.equal(changes.scale, torch.ones_like(changes.scale))
    windows[:, :, 5, 0] = 0.1 * np.sin(np.arange(16) / 2.0)  # one coordinate of one joint moves: median spread 0
    normalization = Normalization.from_features_data(to_features(windows))
    changes.fit(windows, normalization)
    assert torch.isfinite(changes.scale).all()
    assert changes.scale.min() == changes.scale[0, 0, 5] < 100  # the one that moves sets the typical spread
    np.testing.assert_allclose(changes.scale.max().item(), 2 * changes.scale[0, 0, 5].item(), rtol=1e-5)  # floor ½


@pytest.mark.parametrize("kind", KINDS)
def test_a_critic_with_frame_changes_is_fitted_by_the_training_loop(tmp_path, cmu_dataset, kind):
    from motiongen.training import load_checkpoint, train

    assert _pair(kind).critic.frame_changes is None  # off by default
    critic = _pair(kind, critic_frame_changes=True).critic
    features, labels = torch.randn(2, 3, 16, 31), torch.tensor([0, 1])
    assert critic(features, labels).shape == (2,)
    train(model=kind, dataset=cmu_dataset, run_dir=tmp_path, total_steps=1, batch_size=4, n_critic=1, device="cpu",
          model_config={**SMALL[kind], "critic_frame_changes": True}, handle_signals=False)
    fitted = load_checkpoint(tmp_path, ema=False).pair.critic.frame_changes.scale
    expected = FrameChanges(31)
    expected.fit(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    torch.testing.assert_close(fitted, expected.scale)
    assert fitted.min() > 1  # changes are smaller than the poses: the scale raises them


def test_the_floor_bounds_how_far_a_barely_moving_coordinate_is_raised(cmu_dataset):
    """A joint fixed to its parent barely changes: its scale stops at 1 / (floor × median spread).
    Coordinates that move more than both floors get the same scale either way."""
    positions = np.asarray(cmu_dataset.windows)
    half, low = FrameChanges(31), FrameChanges(31, floor=0.01)
    half.fit(positions, cmu_dataset.normalization)
    low.fit(positions, cmu_dataset.normalization)
    assert half.floor == 0.5 and half.scale.max() < low.scale.max()
    moving = low.scale < half.scale.max() * (1 - 1e-6)
    assert moving.any() and torch.equal(half.scale[moving], low.scale[moving])
    assert low.scale.max() <= half.scale.max() * 50 * (1 + 1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_frame_change_floor_reaches_the_critic_and_is_checked(kind):
    assert _pair(kind, critic_frame_changes=True, critic_frame_change_floor=0.01).critic.frame_changes.floor == 0.01
    for floor in (0, -0.1, 1.5, True, "0.1"):
        with pytest.raises(ConfigError, match="critic_frame_change_floor"):
            _pair(kind, critic_frame_change_floor=floor)


# --- minibatch-stddev channel ---------------------------------------------------------------------------

def test_the_spread_channel_is_each_groups_standard_deviation_averaged_over_features():
    x = torch.randn(8, 5, 6, 4)
    seen = MinibatchStddev(4)(x)
    assert seen.shape == (8, 6, 6, 4) and torch.equal(seen[:, :5], x)
    for first in (0, 4):  # groups are runs of consecutive clips
        expected = x[first:first + 4].std(0, unbiased=False).mean()
        torch.testing.assert_close(seen[first:first + 4, 5], expected.expand(4, 6, 4))
    copies = x[:1].expand(4, -1, -1, -1)  # a collapsed group has (almost) no spread
    assert MinibatchStddev(4)(torch.cat([copies, x[4:]]))[:4, 5].max() < 1e-3
    assert MinibatchStddev(4)(x[:6]).shape == (6, 6, 6, 4)  # 6 clips: groups of gcd(6, 4) = 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_critic_with_the_spread_channel_scores_a_clip_by_its_group(kind):
    assert _pair(kind).critic.minibatch_stddev is None  # off by default
    # He start for CSGN: under PyTorch's default start a new CSGN critic's scores hardly move with its input.
    start = {"critic_init": "he"} if kind == "csgn" else {}
    critic = _pair(kind, critic_minibatch_stddev=2, **start).critic
    features, labels = torch.randn(4, 3, 16, 31), torch.zeros(4, dtype=torch.long)
    scores = critic(features, labels)
    other_partner = features.clone()
    other_partner[1] = features[0]  # clip 0's group partner: a copy of it
    changed = critic(other_partner, labels)
    assert not torch.isclose(changed[0], scores[0])  # clip 0's score reads its group's spread
    torch.testing.assert_close(changed[2:], scores[2:])  # the other group is untouched
    gradient, = torch.autograd.grad(critic(features.requires_grad_(), labels).sum(), features, create_graph=True)
    assert torch.isfinite(gradient).all()  # the gradient penalty's double backward goes through


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("group", [1, -2, True, 2.5])
def test_the_spread_channel_option_is_checked(kind, group):
    with pytest.raises(ConfigError, match="critic_minibatch_stddev"):
        _pair(kind, critic_minibatch_stddev=group)


def test_the_training_loop_refuses_groups_that_would_mix_real_and_fake_clips(tmp_path, cmu_dataset):
    from motiongen.training import train

    with pytest.raises(ConfigError, match="must divide the batch of 6"):
        train(model="csgn", dataset=cmu_dataset, run_dir=tmp_path / "run", total_steps=1, batch_size=6,
              device="cpu", model_config={**SMALL["csgn"], "critic_minibatch_stddev": 4}, handle_signals=False)
    assert not (tmp_path / "run").exists()
    train(model="csgn", dataset=cmu_dataset, run_dir=tmp_path / "run", total_steps=1, batch_size=4, n_critic=1,
          device="cpu", model_config={**SMALL["csgn"], "critic_minibatch_stddev": 4}, handle_signals=False)
    assert (tmp_path / "run" / "last.safetensors").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_the_class_projection_starts_at_zero_then_adds_the_labels_vector_against_the_pooled_features(kind):
    critic = _pair(kind, critic_class_projection=True).critic
    assert critic.fresh_parameters == ("class_projection.embedding.weight",)  # a fine-tune starts it
    features, labels = torch.randn(4, 3, 16, 31), torch.tensor([0, 1, 2, 0])
    pooled = []
    critic.blocks[-1].register_forward_hook(lambda module, args, output: pooled.append(output.mean(dim=(2, 3))))
    with torch.no_grad():
        at_start = critic(features, labels)
        projection, critic.class_projection = critic.class_projection, None
        assert torch.equal(critic(features, labels), at_start)  # zero vectors: the critic as it was
        critic.class_projection = projection
        projection.embedding.weight.normal_()
        scores = critic(features, labels)
    expected = at_start + (projection.embedding.weight[labels] * pooled[-1]).sum(1)
    assert torch.allclose(scores, expected, atol=1e-5)
    assert not torch.allclose(scores, at_start)
    with torch.no_grad():  # the same clips under other labels score differently
        assert not torch.allclose(critic(features, labels.roll(1)), scores)


@pytest.mark.parametrize("kind", KINDS)
def test_the_class_projection_option_is_checked(kind):
    with pytest.raises(ConfigError, match="critic_class_projection must be true or false"):
        _pair(kind, critic_class_projection="yes")
