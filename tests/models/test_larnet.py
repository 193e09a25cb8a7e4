"""LARNet at tiny size on CPU: the gated recurrence, the mix operator, shapes, the start pose, each
loss (what it trains and what it leaves alone), determinism by seed, the action-text table, and a
checkpoint written by the real training loop."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.append(str(Path(__file__).resolve().parents[1] / "training"))

from _tiny import synthetic_dataset  # noqa: E402

from motiongen.errors import ConfigError  # noqa: E402
from motiongen.inference.sampling import generate_features  # noqa: E402
from motiongen.models import create_model  # noqa: E402
from motiongen.models.action_text import embed_actions, phrase  # noqa: E402
from motiongen.models.larnet import LarnetConfig, flatten_latent, gated_scan, mix_frames  # noqa: E402
from motiongen.skeletons import load_skeleton  # noqa: E402
from motiongen.training.losses import LarnetLoss, Networks  # noqa: E402

SMALL = {"frames": 16, "hidden": 16, "width": 16, "latent_dim": 8, "noise_dim": 4, "action_dim": 8}
ACTIONS = ("walking", "jumping")


def _pair(**config):
    torch.manual_seed(0)
    pair = create_model("larnet", load_skeleton("h36m17"), num_classes=2, **{**SMALL, **config})
    dataset = synthetic_dataset(windows=8, frames=16, actions=ACTIONS)
    pair.generator.fit_data(np.asarray(dataset.windows), labels=np.asarray(dataset.labels),
                            normalization=dataset.normalization, actions=list(dataset.actions))
    return pair, dataset


def _real(dataset, count=4):
    return torch.as_tensor(np.asarray(dataset.features(np.arange(count))), dtype=torch.float32)  # [B, 3, T, V]


def test_gated_scan_is_the_recurrence():
    generator = torch.Generator().manual_seed(1)
    keep = torch.rand(3, 7, 5, generator=generator)
    proposal = torch.randn(3, 7, 5, generator=generator)
    initial = torch.randn(3, 5, generator=generator)
    state, expected = initial, []
    for t in range(7):
        state = keep[:, t] * state + (1 - keep[:, t]) * proposal[:, t]
        expected.append(state)
    torch.testing.assert_close(gated_scan(keep, proposal, initial), torch.stack(expected, 1), rtol=1e-5, atol=1e-5)


def test_a_closed_keep_gate_holds_the_state_and_an_open_one_follows_the_proposal():
    proposal, initial = torch.randn(2, 4, 3), torch.randn(2, 3)
    held = gated_scan(torch.ones(2, 4, 3), proposal, initial)
    torch.testing.assert_close(held, initial[:, None].expand(-1, 4, -1))
    moved = gated_scan(torch.full((2, 4, 3), 1e-7), proposal, initial)
    torch.testing.assert_close(moved, proposal, atol=1e-5, rtol=1e-5)


def test_mix_takes_each_frame_from_one_clip():
    real, fake = torch.zeros(2, 3, 6, 4), torch.ones(2, 3, 6, 4)
    take = torch.tensor([[True, False, True, False, False, True], [False] * 6])
    mixed = mix_frames(real, fake, take)
    assert torch.equal(mixed[:, :, :, 0][:, 0], take.float())
    assert torch.equal(mixed.amin(dim=(1, 3)), mixed.amax(dim=(1, 3)))  # whole frames, never parts


def test_shapes_and_lengths():
    pair, dataset = _pair()
    generator = pair.generator.eval()
    real = _real(dataset)
    encoded = generator.encoder(real)
    assert [tuple(e.shape) for e in encoded] == [(4, 8, 1), (4, 8, 4)]
    outputs = generator(generator.make_latent(range(4), 16), torch.tensor([0, 1, 0, 1]), real=real)
    assert outputs["fake"].shape == outputs["reconstruction"].shape == real.shape
    for frames in (1, 16, 17, 100):
        latent = generator.make_latent([0, 1], frames)
        clip = generator(latent, torch.tensor([0, 1]))
        assert clip.shape[2] >= frames and clip.shape[:2] == (2, 3) and clip.shape[3] == 17
        assert torch.isfinite(clip).all()
    assert generator.frames_supported(1024) is None and generator.frames_supported(0)


def test_every_sample_starts_at_its_start_pose_and_windows_chain():
    pair, dataset = _pair()
    generator = pair.generator.eval()
    start = _real(dataset, 2)[:, :, 5]
    with torch.no_grad():
        clip = generator(generator.make_latent([3, 4], 60), torch.tensor([0, 1]), start=start)
    pose = generator.pose_mask.bool()
    torch.testing.assert_close(clip[:, :, 0][:, pose], start[:, pose])
    with torch.no_grad():  # the second window starts at the first one's last frame: no jump there
        first = generator(generator.make_latent([3, 4], 16), torch.tensor([0, 1]), start=start)
    torch.testing.assert_close(clip[:, :, :16], first)
    default = generator(generator.make_latent([0], 16), torch.tensor([1]))
    torch.testing.assert_close(default[0, :, 0][pose], generator.start_poses[1][pose])


def test_default_start_poses_face_plus_x():
    pair, _ = _pair()
    generator = pair.generator
    from motiongen.data.features import from_features, to_channels_last

    dataset = synthetic_dataset(windows=8, frames=16, actions=ACTIONS)
    features = dataset.normalization.denormalize(to_channels_last(generator.start_poses[:, :, None].numpy()))
    pose = from_features(features)[:, 0]  # [A, V, 3]
    lateral = (pose[:, generator.left_joints.numpy()] - pose[:, generator.right_joints.numpy()]).sum(1)
    assert (lateral[:, 0] > 0).all() and np.allclose(lateral[:, 2], 0, atol=1e-5)


def test_samples_depend_on_their_seed_only():
    pair, _ = _pair()
    generator = pair.generator.eval()
    both = generate_features(generator, 1, 40, [7, 8], batch_size=2)
    alone = generate_features(generator, 1, 40, [8], batch_size=1)
    np.testing.assert_allclose(both[1], alone[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(both[0], both[1])
    assert both.shape[2] == 40


def _loss(pair):
    return LarnetLoss(Networks(generator_train=pair.generator, generator_plain=pair.generator,
                               critic_train=pair.critic, critic_plain=pair.critic, critic_eager=pair.critic,
                               generator_module=pair.generator, critic_module=pair.critic))


def _grads(module) -> dict[str, bool]:
    return {name: param.grad is not None and bool(param.grad.abs().sum() > 0)
            for name, param in module.named_parameters()}


def _touched(grads: dict[str, bool], prefix: str) -> bool:
    return any(v for k, v in grads.items() if k.startswith(prefix))


GENERATOR_LOSSES = ("latent_supervision", "reconstruction", "sequence_adversarial", "mix_adversarial",
                    "latent_adversarial")


def _only(loss: str) -> dict:
    return {name: name == loss for name in GENERATOR_LOSSES}


def _generator_step(**config):
    pair, dataset = _pair(**config)
    real = _real(dataset)
    values = _loss(pair).accumulate_gradients("generator", real, torch.tensor([0, 1, 0, 1]),
                                              pair.generator.make_latent(range(4), 16))
    return pair, values, _grads(pair.generator)


def test_latent_supervision_trains_the_motion_generator_not_the_encoder():
    _, values, grads = _generator_step(**_only("latent_supervision"))
    assert _touched(grads, "motion_generator") and _touched(grads, "action")
    assert not _touched(grads, "encoder") and not _touched(grads, "decoder")
    assert values["latent_mse"] > 0 and values["reconstruction_mse"] == 0


def test_reconstruction_trains_encoder_integrator_and_decoder_not_the_motion_generator():
    _, values, grads = _generator_step(**_only("reconstruction"))
    for part in ("encoder", "integrator", "decoder", "start_encoder"):
        assert _touched(grads, part), part
    assert not _touched(grads, "motion_generator")
    assert values["reconstruction_mse"] > 0


@pytest.mark.parametrize("loss", ["sequence_adversarial", "mix_adversarial", "latent_adversarial"])
def test_each_adversarial_term_reaches_the_motion_generator(loss):
    config = _only(loss)
    if loss == "latent_adversarial":
        config["reconstruction"] = True  # the config needs a loss on motion; this one does not touch G_m
    _, values, grads = _generator_step(**config)
    assert _touched(grads, "motion_generator") and values["adversarial"] != 0
    if loss != "latent_adversarial":
        assert _touched(grads, "decoder")  # through the generated frames


def test_the_critic_phase_trains_only_the_critics_it_has():
    for latent_adversarial in (True, False):
        pair, dataset = _pair(latent_adversarial=latent_adversarial)
        values = _loss(pair).accumulate_gradients("critic", _real(dataset), torch.tensor([0, 1, 0, 1]),
                                                  pair.generator.make_latent(range(4), 16))
        grads = _grads(pair.critic)
        assert _touched(grads, "sequence") and not _touched(_grads(pair.generator), "")
        assert _touched(grads, "latent_critic") == latent_adversarial
        assert (values["latent_penalty"] > 0) == latent_adversarial and values["gradient_penalty"] > 0


def test_mix_is_judged_as_fake_by_the_critic():
    pair, dataset = _pair(sequence_adversarial=False, latent_adversarial=False)
    loss = _loss(pair)
    real = _real(dataset)
    with torch.no_grad():
        out = pair.generator(pair.generator.make_latent(range(4), 16), torch.tensor([0, 1, 0, 1]), real=real)
    parts = loss._judged_fakes(out, real)
    assert len(parts) == 1  # the mix only
    frames_from_fake = (parts[0] == out["fake"]).all(dim=(1, 3)) & ~(parts[0] == real).all(dim=(1, 3))
    assert 0 < frames_from_fake.float().mean() < 1


def test_rollout_windows_start_at_the_previous_windows_end_and_are_judged_as_fakes():
    pair, dataset = _pair(rollout_windows=2, mix_adversarial=False)
    real = _real(dataset)
    labels = torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        out = pair.generator(pair.generator.make_latent(range(4), 16), labels, real=real)
    first, second = out["rollout"]
    mask = pair.generator.pose_mask[:, None, :]
    assert torch.allclose(first[:, :, 0] * mask[:, 0], out["fake"][:, :, -1] * mask[:, 0], atol=1e-6)
    assert torch.allclose(second[:, :, 0] * mask[:, 0], first[:, :, -1] * mask[:, 0], atol=1e-6)
    assert not torch.allclose(first, second)
    assert len(_loss(pair)._judged_fakes(out, real)) == 3
    # a rolled-out window's loss reaches the first window through its last frame, and only that
    out = pair.generator(pair.generator.make_latent(range(4), 16), labels, real=real)
    (through_fake,) = torch.autograd.grad(out["rollout"][0].square().sum(), out["fake"], retain_graph=True)
    touched_frames = through_fake.abs().sum(dim=(0, 1, 3)) > 0
    assert touched_frames[-1] and not touched_frames[:-1].any()
    with pytest.raises(ConfigError, match="sequence_adversarial"):
        create_model("larnet", load_skeleton("h36m17"), num_classes=2,
                     **{**SMALL, "rollout_windows": 1, "sequence_adversarial": False})


def test_one_integrator_level_and_bad_configs():
    pair, dataset = _pair(integrator_levels=1)
    assert not hasattr(pair.generator.integrator, "coarse")
    assert pair.generator(pair.generator.make_latent([0], 16), torch.tensor([0])).shape[2] == 16
    for bad in ({"frames": 24}, {"integrator_levels": 2}, {"mix_probability": 1.0}, {"rollout_windows": -1},
                {"reconstruction": False, "latent_supervision": False, "sequence_adversarial": False,
                 "mix_adversarial": False}, {"no_such_field": 1}):
        with pytest.raises(ConfigError):
            create_model("larnet", load_skeleton("h36m17"), num_classes=2, **{**SMALL, **bad})


def test_action_names_embed_from_the_shipped_table():
    assert phrase("SittingDown") == "sitting down" and phrase("wash_window") == "wash window"
    vectors = embed_actions(["walking", "Walking", "running", "jump up"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[3] - 0.5  # related names are not orthogonal


def test_an_unknown_action_name_lists_known_ones(monkeypatch):
    from motiongen.models import action_text

    monkeypatch.setattr(action_text, "embedder_available", lambda: False)
    with pytest.raises(ConfigError, match=r"no text embedding for action 'moonwalking'.*known actions"):
        embed_actions(["walking", "moonwalking"])


def test_a_checkpoint_from_the_training_loop_samples_alike_after_reload(tmp_path):
    from motiongen.training import train
    from motiongen.training.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    dataset = synthetic_dataset(windows=16, frames=16, actions=ACTIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(model="larnet", dataset=dataset, run_dir=tmp_path / "run", total_steps=3, batch_size=4,
                       n_critic=1, model_config={k: v for k, v in SMALL.items() if k != "frames"},
                       device="cpu", handle_signals=False, log_every_steps=1)
    assert np.isfinite(list(result.losses.values())).all()
    first, second = load_checkpoint(result.checkpoint), load_checkpoint(result.checkpoint)
    assert first.kind == "larnet" and list(first.actions) == list(ACTIONS)
    np.testing.assert_array_equal(first.pair.generator.action_embeddings.numpy(), embed_actions(ACTIONS))
    assert first.pair.generator.start_poses.abs().sum() > 0
    np.testing.assert_array_equal(generate_features(first.pair.generator, 0, 30, [1, 2]),
                                  generate_features(second.pair.generator, 0, 30, [1, 2]))


def test_flatten_latent_upsamples_the_coarse_scale():
    coarse, fine = torch.arange(2.0).view(1, 1, 2), torch.zeros(1, 1, 8)
    flat = flatten_latent((coarse, fine))
    assert flat.shape == (1, 2, 8) and flat[0, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_config_steps():
    assert LarnetConfig(frames=64).steps == 16


def test_names_outside_the_table_go_to_the_optional_embedder(monkeypatch):
    from motiongen.models import action_text

    asked = []

    def fake_embedder(texts):
        asked.extend(texts)
        return np.tile(np.eye(1, action_text.DIMENSION, dtype=np.float32), (len(texts), 1))

    monkeypatch.setattr(action_text, "embedder_available", lambda: True)
    monkeypatch.setattr(action_text, "embed_with_model", fake_embedder)
    vectors = embed_actions(["walking", "Moon_Walking", "walking"])
    assert asked == ["moon walking"]  # only the unknown name, once, as its phrase
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert vectors[1][0] == 1.0


def test_the_sequence_critic_sees_frame_changes_in_units_of_their_spread():
    pair, dataset = _pair(critic_motion_scale=True)
    pair.critic.fit_data(np.asarray(dataset.windows), normalization=dataset.normalization)
    features = torch.as_tensor(np.asarray(dataset.features()), dtype=torch.float32)
    from motiongen.nn.sequence import flatten_joints

    change = flatten_joints(features[:, :, 1:] - features[:, :, :-1]) * pair.critic.motion_scale[:, None]
    moving = pair.critic.motion_scale < 1e4 - 1  # channels that change at all
    spread = change.transpose(0, 1).flatten(1).std(1)
    np.testing.assert_allclose(spread[moving].numpy(), 1.0, rtol=0.05)
    assert _pair()[0].critic.motion_scale is None  # off by default


def _walk_features(pair, dataset, feet_follow_root: bool, lift_m: float = 0.0):
    """Normalised features of one synthetic window: the root glides along x at 1.5 m/s; the feet
    either stay planted where they are at frame 0 or ride along with the root."""
    from motiongen.data.features import to_channels_first, to_features

    positions = np.repeat(np.asarray(dataset.windows[:1], dtype=np.float64), 16, axis=1)[:, :16].copy()
    positions[:, :] = positions[:, :1]  # one pose held for 16 frames
    positions[..., 1] -= positions[..., 1].min()  # lowest joint on the floor
    glide = np.arange(16) * 1.5 / 30.0
    feet = pair.generator.feet.numpy()
    moving = np.ones(positions.shape[2], dtype=bool)
    if not feet_follow_root:
        moving[feet] = False
    positions[:, :, moving, 0] += glide[:, None]
    positions[:, :, feet[:1], 1] += lift_m  # the first foot only
    features = dataset.normalization.normalize(to_channels_first(to_features(positions)), channels_first=True)
    return torch.as_tensor(features, dtype=torch.float32)


def test_foot_sliding_charges_feet_gliding_on_the_floor_not_planted_or_lifted_ones():
    pair, dataset = _pair()
    assert pair.generator.feet.tolist() == [3, 6]  # h36m17's feet
    planted = float(pair.generator.foot_sliding(_walk_features(pair, dataset, feet_follow_root=False)))
    gliding = float(pair.generator.foot_sliding(_walk_features(pair, dataset, feet_follow_root=True)))
    lifted = float(pair.generator.foot_sliding(_walk_features(pair, dataset, True, lift_m=0.5)))
    assert planted < 1e-6
    # both feet on the floor in every transition (up to the soft edge) at 1.5 m/s: (1.5 − 0.25)²
    assert gliding == pytest.approx((1.5 - 0.25) ** 2, rel=0.05)
    # one foot held 0.5 m up is off the floor: only the other one still slides
    assert lifted == pytest.approx(gliding / 2, rel=0.05)


def test_the_foot_contact_loss_trains_the_generated_motion_and_is_logged_when_off():
    _, off, grads_off = _generator_step(**_only("latent_supervision"))
    assert off["foot_sliding"] > 0 and not _touched(grads_off, "decoder")
    _, on, grads_on = _generator_step(**_only("latent_supervision"), foot_contact_weight=1.0)
    assert on["generator_loss"] > off["generator_loss"]
    assert _touched(grads_on, "decoder") and _touched(grads_on, "motion_generator")
    with pytest.raises(ConfigError, match="foot_contact_weight"):
        create_model("larnet", load_skeleton("h36m17"), num_classes=2, **{**SMALL, "foot_contact_weight": -1})


def test_the_action_classifier_learns_from_real_windows_and_asks_fakes_to_read_as_their_action():
    labels = torch.tensor([0, 1, 0, 1])
    pair, dataset = _pair(action_classifier_weight=1.0)
    values = _loss(pair).accumulate_gradients("critic", _real(dataset), labels, pair.generator.make_latent(range(4), 16))
    assert values["classifier_loss"] > 0 and 0 <= values["classifier_accuracy"] <= 1
    assert _touched(_grads(pair.critic), "action_classifier") and _touched(_grads(pair.critic), "action_head")
    logits = pair.critic.classify(_real(dataset))
    assert logits.shape == (4, 2)
    scores, latent_scores, same = pair.critic(_real(dataset), labels, classify=_real(dataset))
    assert scores.shape == (4,) and latent_scores is None and torch.equal(same, logits)
    # the generator's side: without it latent supervision never reaches the decoder
    _, off, grads_off = _generator_step(**_only("latent_supervision"))
    _, on, grads_on = _generator_step(**_only("latent_supervision"), action_classifier_weight=1.0)
    assert "fake_classification" not in off and on["fake_classification"] > 0
    assert not _touched(grads_off, "decoder") and _touched(grads_on, "decoder")
    assert on["generator_loss"] > off["generator_loss"]
    # a critic without one says so; a negative weight is refused
    plain, _ = _pair()
    assert plain.critic.action_classifier is None and plain.critic.fresh_parameters == ()
    with pytest.raises(ConfigError, match="no action classifier"):
        plain.critic.classify(_real(dataset))
    with pytest.raises(ConfigError, match="action_classifier_weight"):
        create_model("larnet", load_skeleton("h36m17"), num_classes=2, **{**SMALL, "action_classifier_weight": -1})


def test_the_action_classifier_tells_the_actions_apart_after_training_on_real_windows():
    """Trained alone on a few real-shaped windows of two actions it reaches them all: the
    classifier can learn what the generator is then asked to match."""
    pair, dataset = _pair(action_classifier_weight=1.0)
    assert _train_critic_alone(pair, dataset)["classifier_accuracy"] == 1.0


def _train_critic_alone(pair, dataset, steps: int = 60) -> dict:
    """``steps`` critic-phase updates on the first 8 windows (the generator fixed); the last values."""
    real = torch.as_tensor(np.asarray(dataset.features(np.arange(8))), dtype=torch.float32)
    labels = torch.as_tensor(np.asarray(dataset.labels)[:8])
    optimiser = torch.optim.Adam(pair.critic.parameters(), lr=3e-3)
    for _ in range(steps):
        optimiser.zero_grad()
        values = _loss(pair).accumulate_gradients("critic", real, labels, pair.generator.make_latent(range(8), 16))
        optimiser.step()
    return values


def test_a_classifier_that_rejects_fakes_learns_them_as_one_more_class():
    labels = torch.tensor([0, 1, 0, 1])
    pair, dataset = _pair(action_classifier_weight=1.0, classifier_rejects_fakes=True)
    assert pair.critic.classify(_real(dataset)).shape == (4, 3)  # two actions and "generated"
    real, latent = _real(dataset), pair.generator.make_latent(range(4), 16)
    values = _loss(pair).accumulate_gradients("critic", real, labels, latent)
    assert 0 <= values["classifier_fake_recall"] <= 1 and _touched(_grads(pair.critic), "fake_head")
    # its critic-phase loss is the real windows' cross-entropy plus the fakes' against class 2
    with torch.no_grad():
        fake = pair.generator(latent, labels, real=real, reconstruct=False)["fake"]
        logits = pair.critic.classify(torch.cat([real, fake]))
    expected = (torch.nn.functional.cross_entropy(logits[:4], labels)
                + torch.nn.functional.cross_entropy(logits[4:], torch.full((4,), 2)))
    assert values["classifier_loss"] == pytest.approx(float(expected), rel=1e-5)
    # trained a little, it tells the generator's clips from real ones and the actions apart
    values = _train_critic_alone(pair, dataset)
    assert values["classifier_accuracy"] == 1.0 and values["classifier_fake_recall"] == 1.0
    # the generator is still asked for its action, over all three outputs
    _, on, _ = _generator_step(**_only("latent_supervision"), action_classifier_weight=1.0,
                               classifier_rejects_fakes=True)
    assert on["fake_classification"] > 0
    with pytest.raises(ConfigError, match="classifier_rejects_fakes"):
        create_model("larnet", load_skeleton("h36m17"), num_classes=2, **{**SMALL, "classifier_rejects_fakes": True})


def _metres(generator, features: torch.Tensor) -> torch.Tensor:
    return features * generator.feature_half_range[:, None, :] + generator.feature_centre[:, None, :]


def test_anchored_windows_restart_from_real_training_poses_of_their_action():
    pair, dataset = _pair(anchor_poses=40, anchor_blend_frames=4)
    generator = pair.generator.eval()
    bank, bank_labels = generator.anchor_bank, generator.anchor_labels
    assert sorted(set(bank_labels.tolist())) == [0, 1]  # both actions keep anchors
    lateral = (bank[:, :, generator.left_joints] - bank[:, :, generator.right_joints]).sum(-1)
    assert torch.allclose(lateral[:, 2], torch.zeros(40), atol=1e-5) and (lateral[:, 0] > 0).all()  # face +x
    labels = torch.tensor([0, 1, 1])
    latent = generator.make_latent([3, 4, 5], 46)  # three 16-frame windows
    with torch.no_grad():
        anchored = generator(latent, labels)
        generator.anchoring = False
        raw = generator(latent, labels)
    mask = generator.pose_mask.bool()
    for boundary in (15, 30):  # the last frame of windows 1 and 2
        pose = _metres(generator, anchored[:, :, boundary:boundary + 1])[:, :, 0]
        turned, _ = generator._face_plus_x(pose)
        # [3, 40]; the direct difference: cdist's matrix-product shortcut loses ~1e-3 to cancellation
        distance = torch.cdist(turned[:, mask], bank[:, mask], compute_mode="donot_use_mm_for_euclid_dist")
        own = distance.masked_fill(bank_labels[None] != labels[:, None], float("inf"))
        assert own.min(1).values.max() < 1e-4  # exactly an anchor of its own action
    # the first window is untouched but for its last 4 frames, eased (not jumped) into the anchor
    assert torch.equal(anchored[:, :, :12], raw[:, :, :12]) and not torch.allclose(anchored[:, :, 15], raw[:, :, 15])
    correction = (anchored[:, :, 12:16] - raw[:, :, 12:16]).abs().amax(dim=(0, 1, 3))
    assert (correction[1:] >= correction[:-1]).all()
    # a single window has nothing to restart
    with torch.no_grad():
        generator.anchoring = True
        one = generator(generator.make_latent([3], 16), labels[:1])
        generator.anchoring = False
        assert torch.equal(one, generator(generator.make_latent([3], 16), labels[:1]))


def test_anchors_travel_in_checkpoints_and_a_fine_tune_adds_them_to_an_older_one(tmp_path):
    from motiongen.training import train
    from motiongen.training.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    dataset = synthetic_dataset(windows=16, frames=16, actions=ACTIONS)
    small = {k: v for k, v in SMALL.items() if k != "frames"}
    common = dict(dataset=dataset, total_steps=1, batch_size=4, n_critic=1, device="cpu", handle_signals=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = train(model="larnet", run_dir=tmp_path / "old", model_config=small, **common)
        tuned = train(model="larnet", run_dir=tmp_path / "tuned", init_from=old.checkpoint,
                      model_config={"anchor_poses": 24, "foot_contact_weight": 1.0,
                                    "action_classifier_weight": 0.5}, **common)
        rejecting = train(model="larnet", run_dir=tmp_path / "rejecting", init_from=tuned.checkpoint,
                          model_config={"classifier_rejects_fakes": True}, **common)
    assert load_checkpoint(old.checkpoint).pair.generator.anchor_bank is None
    loaded = load_checkpoint(tuned.checkpoint).pair.generator
    assert loaded.anchor_bank.shape == (24, 3, 17) and loaded.anchor_bank.abs().sum() > 0
    assert loaded.feature_half_range.ne(1).any()  # the normalisation the anchors are matched in
    assert "foot_sliding" in tuned.losses
    assert {"classifier_loss", "fake_classification"} <= set(tuned.losses)  # the critic gained a classifier
    assert load_checkpoint(tuned.checkpoint).pair.critic.action_classifier is not None
    # a K-way classifier gains its "generated" column and keeps what it had learnt
    critic_before, critic_after = (load_checkpoint(run.checkpoint).pair.critic for run in (tuned, rejecting))
    assert critic_after.fake_head is not None and "classifier_fake_recall" in rejecting.losses
    assert critic_before.fake_head is None
    with pytest.raises(ConfigError, match="anchor_blend_frames"):
        create_model("larnet", load_skeleton("h36m17"), num_classes=2,
                     **{**SMALL, "anchor_poses": 8, "anchor_blend_frames": 16})


def test_a_planted_root_steps_as_the_feet_push_it_in_training_and_sampling():
    from motiongen.data.features import Normalization, from_features, to_channels_last
    from motiongen.inference.footplant import plant_feet
    from motiongen.metrics.plausibility import foot_skating_ratio

    plain, dataset = _pair(anchor_poses=8)
    planted, _ = _pair(anchor_poses=8, planted_root=True)
    planted.generator.load_state_dict(plain.generator.state_dict())
    labels = torch.tensor([0, 1])
    latent = plain.generator.make_latent([1, 2], 16)
    with torch.no_grad():
        raw, root_planted = plain.generator.eval()(latent, labels), planted.generator.eval()(latent, labels)
    normalization = Normalization.of(dataset.normalization)
    metres = lambda f: from_features(normalization.denormalize(to_channels_last(f.numpy())))  # noqa: E731
    feet = planted.generator.feet.tolist()
    # the same poses; the root as plant_feet moves it after the fact
    np.testing.assert_allclose(metres(root_planted)[..., 1], metres(raw)[..., 1], atol=1e-5)
    np.testing.assert_allclose(metres(root_planted), plant_feet(metres(raw), feet), atol=1e-4)
    assert foot_skating_ratio(metres(root_planted), feet, 30) <= foot_skating_ratio(metres(raw), feet, 30)
    # in training the fakes are planted too, and the gradient reaches the legs through the root
    clip = raw.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(planted.generator._planted(clip)[:, 0::2, :, 0].sum(), clip)
    assert grad[:, 0::2][..., feet].abs().sum() > 0  # the feet's horizontal steps move the root
    out = planted.generator.train()(planted.generator.make_latent(range(4), 16), torch.tensor([0, 1, 0, 1]),
                                    real=_real(dataset))
    np.testing.assert_allclose(out["fake"].detach()[:, 0::2, :, 0],
                               planted.generator._planted(out["fake"].detach())[:, 0::2, :, 0], atol=1e-5)
    with pytest.raises(ConfigError, match="anchor_poses"):
        create_model("larnet", load_skeleton("h36m17"), num_classes=2, **{**SMALL, "planted_root": True})


def test_models_with_anchors_start_each_seed_at_a_real_pose_of_its_action():
    pair, _ = _pair(anchor_poses=40)
    generator = pair.generator.eval()
    torch.manual_seed(3)  # the synthetic actions hold one pose each: make the bank's poses distinct
    generator.anchor_bank.add_(0.05 * torch.randn_like(generator.anchor_bank))
    labels = torch.tensor([0, 1, 1, 0, 1])
    seeds = [11, 12, 13, 14, 15]
    with torch.no_grad():
        clips = generator(generator.make_latent(seeds, 16), labels)
        alone = generator(generator.make_latent(seeds[2:3], 16), labels[2:3])
    first = _metres(generator, clips[:, :, :1])[:, :, 0]
    mask = generator.pose_mask.bool()
    distance = torch.cdist(first[:, mask], generator.anchor_bank[:, mask], compute_mode="donot_use_mm_for_euclid_dist")
    distance = distance.masked_fill(generator.anchor_labels[None] != labels[:, None], float("inf"))
    assert distance.min(1).values.max() < 1e-4  # a bank pose of the sample's own action
    assert len({tuple(first[k, mask].round(decimals=4).tolist()) for k in range(5)}) > 2  # seeds spread
    torch.testing.assert_close(alone[0], clips[2])  # the pose is the seed's, whatever the batch


def test_default_start_poses_keep_both_feet_near_the_floor():
    pair, _ = _pair(anchor_poses=40)
    generator = pair.generator.eval()
    raised = (generator.anchor_labels == 0).nonzero()[:, 0]
    feet = generator.feet
    generator.anchor_bank[raised[:-1], 1, feet[0]] += 0.5  # all of action 0's poses but one: a foot up a stair
    labels = torch.zeros(16, dtype=torch.long)
    with torch.no_grad():
        starts = generator.drawn_start(generator.make_latent(range(16), 16), labels)
    metres = _metres(generator, starts[:, :, None])[:, :, 0]
    torch.testing.assert_close(metres[:, 1, feet], metres[:1, 1, feet].expand(16, -1))  # the one grounded pose
    generator.anchor_bank[raised[-1], 1, feet[0]] += 0.5  # none left: any pose of the action
    with torch.no_grad():
        starts = generator.drawn_start(generator.make_latent(range(16), 16), labels)
    assert (_metres(generator, starts[:, :, None])[:, 1, 0, feet[0]] > 0.4).all()
