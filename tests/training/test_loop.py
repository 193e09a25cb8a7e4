"""The training loop: exact resume, the JSONL log, WGAN-GP sanity, early refusals, EMA, sharding."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import _tiny
from motiongen.data.features import Normalization, to_features
from motiongen.errors import ConfigError, MotionGenError
from motiongen.nn.frame_changes import frame_change_spread
from motiongen.nn.smoothness import fit_smoothness_target
from motiongen.training import TrainingDiverged, load_checkpoint, train
from motiongen.training import distributed
from motiongen.training.checkpoint import export_for_inference
from motiongen.training.ema import ema_beta, make_ema, update_ema
from motiongen.training.log import read_log
from motiongen.training.loop import (BatchSource, IndexSampler, learning_rate_factor, mirror_probabilities,
                                     window_weights)

LOSS_KEYS = {"critic_loss", "wasserstein_gap", "gradient_penalty", "critic_real", "critic_fake", "generator_loss"}
KGAN_TINY = {"latent_dim": 8, "w_dim": 8, "mapping_depth": 2, "generator_channels": [8, 4], "critic_channels": [4, 8]}
CSGN_TINY = {"latent_channels": 4, "class_channels": 4, "channels": [8, 8, 8, 8, 8, 8],
             "critic_channels": [8, 8, 8, 8, 8, 8]}


def _run(dataset, run_dir, total_steps, model=_tiny.TINY, **overrides):
    options = dict(batch_size=4, n_critic=2, log_every_steps=2, snapshot_every_steps=100, device="cpu",
                   ema_halflife_steps=3.0, seed=5, handle_signals=False)
    options.update(overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(model=model, dataset=dataset, run_dir=run_dir, total_steps=total_steps, **options)


def _assert_same_weights(a, b):
    first, second = load_file(str(a)), load_file(str(b))
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def _losses(path, steps=None):
    records = [r for r in read_log(path) if not r.get("partial")]
    return [{k: r[k] for k in LOSS_KEYS | {"step"}} for r in records if steps is None or r["step"] in steps]


# --- resume ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stop_at", [4, 3])  # at a log step, and in the middle of a log interval
def test_resume_is_exact(tmp_path, synthetic, stop_at):
    _run(synthetic, tmp_path / "whole", 8)
    first = _run(synthetic, tmp_path / "split", stop_at)
    assert first.step == stop_at
    second = _run(synthetic, tmp_path / "split", 8, resume=True)
    assert second.step == 8
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    assert _losses(tmp_path / "whole" / "log.jsonl") == _losses(tmp_path / "split" / "log.jsonl")
    assert [r["step"] for r in _losses(tmp_path / "split" / "log.jsonl")] == [2, 4, 6, 8]


def test_resume_is_exact_with_balanced_actions(tmp_path, synthetic):
    _run(synthetic, tmp_path / "whole", 6, balance_actions=1.0)
    _run(synthetic, tmp_path / "split", 3, balance_actions=1.0)
    _run(synthetic, tmp_path / "split", 6, balance_actions=1.0, resume=True)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    _run(synthetic, tmp_path / "plain", 6)
    with pytest.raises(AssertionError):  # the balance changed which windows and classes were drawn
        _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "plain" / "last.safetensors")


def test_resume_is_exact_kinetic_gan_on_real_data(tmp_path, cmu_dataset):
    """The real model, real CMU windows, augmentation on: still bit-identical, and drawing sample
    pictures in one run but not the other changes nothing."""
    options = dict(model="kinetic-gan", model_config=KGAN_TINY, n_critic=1)
    _run(cmu_dataset, tmp_path / "whole", 4, **options)
    _run(cmu_dataset, tmp_path / "split", 2, render_every_steps=1, **options)
    _run(cmu_dataset, tmp_path / "split", 4, resume=True, **options)
    pictures = sorted(p.name for p in (tmp_path / "split" / "samples").iterdir())
    assert pictures == ["step-0000001.png", "step-0000002.png"]
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    assert _losses(tmp_path / "whole" / "log.jsonl") == _losses(tmp_path / "split" / "log.jsonl")


def test_resume_is_exact_hgvae_on_real_data(tmp_path, cmu_dataset):
    """The VAE phase (one phase, latents drawn inside the model from the global RNG) resumes
    bit-identically too, and the model keeps the data statistics it was built with."""
    options = dict(model="hgvae", n_critic=1, model_config={"nodes": [6, 2, 1], "latent_dims": [4, 4, 4, 8],
                                                            "hidden": 16, "kl_warmup_steps": 3})
    whole = _run(cmu_dataset, tmp_path / "whole", 4, **options)
    _run(cmu_dataset, tmp_path / "split", 2, **options)
    _run(cmu_dataset, tmp_path / "split", 4, resume=True, **options)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    assert _vae_losses(tmp_path / "whole" / "log.jsonl") == _vae_losses(tmp_path / "split" / "log.jsonl")
    assert {"nll", "kl", "elbo", "kl_weight"} <= set(whole.losses)
    model = load_checkpoint(tmp_path / "whole").pair.generator
    assert model.position_std.min() > 0 and model.position_mean[0, 1] > 0.5  # the root's height, metres


def test_a_model_without_a_critic_refuses_a_critic_warmup(tmp_path, cmu_dataset):
    with pytest.raises(ConfigError, match="hgvae has no critic to warm up"):
        _run(cmu_dataset, tmp_path / "run", 1, model="hgvae", critic_warmup_steps=2,
             model_config={"nodes": [6, 2, 1], "latent_dims": [4, 4, 4, 8], "hidden": 16})
    assert not (tmp_path / "run").exists()


def _vae_losses(path):
    return [{k: r[k] for k in ("step", "nll", "kl", "elbo")} for r in read_log(path) if not r.get("partial")]


def test_resume_is_exact_while_the_learning_rate_decays(tmp_path, synthetic):
    """The schedule belongs to the run's --steps: interrupted inside the decay (SIGINT), the resumed
    run continues it exactly."""
    def interrupt_at_step_5(progress):
        if progress.step == 5 and progress.event != "end":
            os.kill(os.getpid(), signal.SIGINT)

    _run(synthetic, tmp_path / "whole", 8, lr_decay_steps=6)
    first = _run(synthetic, tmp_path / "split", 8, lr_decay_steps=6, handle_signals=True,
                 progress=interrupt_at_step_5)
    assert first.interrupted and 5 <= first.step < 8
    _run(synthetic, tmp_path / "split", 8, lr_decay_steps=6, resume=True)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    scales = [r["lr_scale"] for r in read_log(tmp_path / "split" / "log.jsonl")]
    assert scales == pytest.approx([1.0, 5 / 6, 3 / 6, 1 / 6], abs=1e-6)  # the rate used by steps 2, 4, 6, 8
    _run(synthetic, tmp_path / "constant", 8)
    with pytest.raises(AssertionError):  # the decay changed the updates
        _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "constant" / "last.safetensors")


def test_learning_rate_factor_falls_linearly_over_the_last_steps():
    factors = [learning_rate_factor(step, 10, 4) for step in range(10)]
    assert factors == pytest.approx([1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25])
    assert [learning_rate_factor(step, 3, 6) for step in range(3)] == pytest.approx([0.5, 2 / 6, 1 / 6])


def test_a_resume_takes_the_learning_rates_it_is_given(tmp_path, synthetic):
    """The optimiser state stored at the stop carries the old rates; a resume asking for others
    must train at those. At a rate of 1e-30 Adam's updates vanish in float32: the weights stay."""
    _run(synthetic, tmp_path / "run", 4)
    before = load_file(str(tmp_path / "run" / "last.safetensors"))
    _run(synthetic, tmp_path / "run", 8, resume=True, lr_generator=1e-30, lr_critic=1e-30)
    after = load_file(str(tmp_path / "run" / "last.safetensors"))
    weights = [k for k in before if k.startswith(("generator.", "critic.")) and "running" not in k
               and "num_batches" not in k]
    assert weights and all(torch.equal(before[k], after[k]) for k in weights)


def test_a_resume_takes_the_adam_betas_it_is_given(tmp_path, synthetic):
    """The stored optimiser state carries the old betas too: resuming the same stop with other
    betas must give other weights (before the fix both resumes trained with the stored ones)."""
    for name in ("same", "other"):
        _run(synthetic, tmp_path / name, 4)
    _run(synthetic, tmp_path / "same", 8, resume=True)
    _run(synthetic, tmp_path / "other", 8, resume=True, betas=(0.0, 0.9))
    with pytest.raises(AssertionError):
        _assert_same_weights(tmp_path / "same" / "last.safetensors", tmp_path / "other" / "last.safetensors")


def test_resume_refuses_another_model_or_nothing(tmp_path, synthetic):
    with pytest.raises(ConfigError, match="nothing to resume"):
        _run(synthetic, tmp_path, 2, resume=True)
    _run(synthetic, tmp_path, 1)
    with pytest.raises(ConfigError, match="cannot change the model"):
        _run(synthetic, tmp_path, 2, resume=True, model_config={"hidden": 3})


@pytest.mark.parametrize("model, config", [("kinetic-gan", KGAN_TINY), ("csgn", CSGN_TINY)])
def test_a_gan_fine_tune_adds_a_classifier_that_rejects_fakes_and_resumes_exactly(tmp_path, cmu_dataset, model,
                                                                                   config):
    """The auxiliary classifier (K + 1) and the class projection on a GAN trained without them: a
    fine-tune keeps the trained critic, starts only those, logs the classifier's terms and resumes
    bit-identically."""
    _run(cmu_dataset, tmp_path / "base", 2, model=model, model_config=config, n_critic=1)
    base = tmp_path / "base" / "last.safetensors"
    options = dict(model=model, init_from=base, n_critic=1, balance_actions=1.0,
                   model_config={"action_classifier_weight": 1.0, "classifier_rejects_fakes": True,
                                 "classifier_width": 8, "critic_class_projection": True})
    _run(cmu_dataset, tmp_path / "whole", 4, **options)
    _run(cmu_dataset, tmp_path / "split", 2, **options)
    _run(cmu_dataset, tmp_path / "split", 4, resume=True, **options)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    records = read_log(tmp_path / "whole" / "log.jsonl")
    keys = LOSS_KEYS | {"classifier_loss", "classifier_accuracy", "classifier_fake_recall", "fake_classification"}
    assert all(keys <= set(r) and all(math.isfinite(r[k]) for k in keys) for r in records)
    tuned = load_checkpoint(tmp_path / "whole" / "last.safetensors", ema=False).pair.critic
    assert tuned.action_classifier is not None and tuned.fake_head is not None
    assert tuned.class_projection.embedding.weight.abs().sum() > 0  # started at zero, then learned


@pytest.mark.parametrize("model, config", [("kinetic-gan", KGAN_TINY), ("csgn", CSGN_TINY)])
def test_a_fine_tune_switches_the_classifier_to_motion_only(tmp_path, cmu_dataset, model, config):
    """Its first layer reads other inputs than the trained classifier's: the fine-tune starts the
    classifier afresh (the rest of the critic loaded) and fits its change scales to the data; a
    further fine-tune switches it off again."""
    classifier = {"action_classifier_weight": 1.0, "classifier_rejects_fakes": True, "classifier_width": 8}
    _run(cmu_dataset, tmp_path / "base", 2, model=model, model_config={**config, **classifier}, n_critic=1)
    _run(cmu_dataset, tmp_path / "tuned", 1, model=model, init_from=tmp_path / "base" / "last.safetensors",
         n_critic=1, model_config={**classifier, "classifier_motion_only": True})
    tuned = load_checkpoint(tmp_path / "tuned" / "last.safetensors", ema=False).pair.critic
    assert tuned.action_classifier[0].in_channels == 3 * tuned.classifier_changes.scale.shape[-1] + 2
    assert not torch.equal(tuned.classifier_changes.scale, torch.ones_like(tuned.classifier_changes.scale))
    records = read_log(tmp_path / "tuned" / "log.jsonl")
    assert records and all(math.isfinite(r["classifier_loss"]) for r in records)
    # and back: the file's change scales are left out, the classifier starts afresh again
    _run(cmu_dataset, tmp_path / "back", 1, model=model, init_from=tmp_path / "tuned" / "last.safetensors",
         n_critic=1, model_config={"classifier_motion_only": False})
    back = load_checkpoint(tmp_path / "back" / "last.safetensors", ema=False).pair.critic
    assert back.classifier_changes is None and back.action_classifier[0].in_channels == 6 * 31


@pytest.mark.parametrize("model, config", [("kinetic-gan", KGAN_TINY), ("csgn", CSGN_TINY)])
def test_a_fine_tune_teaches_stills_held_limbs_and_jitter_as_no_action_and_jitter_as_fake(tmp_path, cmu_dataset,
                                                                                          model, config):
    """Switched on in a fine-tune (stills, held limbs and jitter for the classifier, jittered
    windows among the critic's fakes): the classifier is kept, its still root and both jitter
    spreads fitted to the data, and the critic phase logs the four terms."""
    classifier = {"action_classifier_weight": 1.0, "classifier_rejects_fakes": True, "classifier_width": 8}
    _run(cmu_dataset, tmp_path / "base", 1, model=model, model_config={**config, **classifier}, n_critic=1)
    _run(cmu_dataset, tmp_path / "tuned", 2, model=model, init_from=tmp_path / "base" / "last.safetensors",
         n_critic=1, model_config={"classifier_rejects_stills": True, "classifier_rejects_held_limbs": True,
                                   "classifier_rejects_jitter": True, "critic_jitter_share": 0.25})
    base = load_checkpoint(tmp_path / "base" / "last.safetensors", ema=False).pair.critic
    tuned = load_checkpoint(tmp_path / "tuned" / "last.safetensors", ema=False).pair.critic
    at_rest = cmu_dataset.normalization.normalize(np.zeros((1, 31, 3)))[0, 0, 0::2]
    assert torch.allclose(tuned.classifier_still_root, torch.as_tensor(at_rest, dtype=torch.float32))
    assert tuned.action_classifier[0].weight.shape == base.action_classifier[0].weight.shape
    records = read_log(tmp_path / "tuned" / "log.jsonl")
    keys = ("classifier_still_doubt", "classifier_still_reads", "classifier_held_doubt", "classifier_held_reads",
            "classifier_jitter_doubt", "classifier_jitter_reads", "critic_jitter_gap")
    assert records and all(math.isfinite(r[k]) for r in records for k in keys if k in r)
    assert all(any(k in r for r in records) for k in keys)
    assert tuned.rejects_held_limbs and "classifier_limbs" not in tuned.state_dict()
    spread = frame_change_spread(np.asarray(cmu_dataset.windows), cmu_dataset.normalization)
    assert torch.allclose(tuned.classifier_jitter_scale[:, 0, :], spread.T.float())
    assert torch.equal(tuned.critic_jitter_scale, tuned.classifier_jitter_scale)


@pytest.mark.parametrize("model, config", [("kinetic-gan", KGAN_TINY), ("csgn", CSGN_TINY)])
def test_a_fine_tune_switches_the_smoothness_term_on_and_off_and_resumes_exactly(tmp_path, cmu_dataset, model,
                                                                                 config):
    """Switched on in a fine-tune, the generator's target is fitted to the data (in the raw
    generator and the moving average alike), the generator phase logs the term, and the run resumes
    bit-identically; switched off again, the file's target is left out."""
    _run(cmu_dataset, tmp_path / "base", 1, model=model, model_config=config, n_critic=1)
    options = dict(model=model, init_from=tmp_path / "base" / "last.safetensors", n_critic=1,
                   model_config={"smoothness_weight": 2.0})
    _run(cmu_dataset, tmp_path / "whole", 3, **options)
    _run(cmu_dataset, tmp_path / "split", 2, **options)
    _run(cmu_dataset, tmp_path / "split", 3, resume=True, **options)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    target, scale = fit_smoothness_target(np.asarray(cmu_dataset.windows), cmu_dataset.labels,
                                          cmu_dataset.normalization, len(cmu_dataset.actions),
                                          cmu_dataset.skeleton.mirror_index())
    for ema in (False, True):
        generator = load_checkpoint(tmp_path / "whole" / "last.safetensors", ema=ema).pair.generator
        assert torch.allclose(generator.smoothness_target, target) and torch.equal(generator.smoothness_scale, scale)
    records = [r for r in read_log(tmp_path / "whole" / "log.jsonl") if "generator_loss" in r]
    assert records and all(r["smoothness_hinge"] >= 0 and math.isfinite(r["sharpness_excess"]) for r in records)
    _run(cmu_dataset, tmp_path / "off", 1, model=model, init_from=tmp_path / "whole" / "last.safetensors",
         n_critic=1, model_config={"smoothness_weight": 0.0})
    off = load_checkpoint(tmp_path / "off" / "last.safetensors", ema=False).pair.generator
    assert off.smoothness_target is None and "smoothness_hinge" not in read_log(tmp_path / "off" / "log.jsonl")[-1]


# --- what a run writes --------------------------------------------------------------------------------

@pytest.mark.parametrize("model, config", [("kinetic-gan", KGAN_TINY), ("csgn", CSGN_TINY)])
def test_builtin_models_train_on_real_data(tmp_path, cmu_dataset, model, config):
    """A short real run: finite WGAN-GP losses with the expected keys, a checkpoint that samples."""
    result = _run(cmu_dataset, tmp_path, 4, model=model, model_config=config, keep_snapshots=True,
                  snapshot_every_steps=2)
    records = read_log(tmp_path / "log.jsonl")
    assert [r["step"] for r in records] == [2, 4]
    for record in records:
        assert LOSS_KEYS | {"step", "time_s", "steps_per_s", "timestamp"} <= set(record)
        assert all(math.isfinite(record[k]) for k in LOSS_KEYS)
        assert record["gradient_penalty"] >= 0
        assert math.isclose(record["wasserstein_gap"], record["critic_real"] - record["critic_fake"], rel_tol=1e-4,
                            abs_tol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "last.resume.pt", "last.safetensors", "log.jsonl",
        "step-0000002.safetensors", "step-0000004.safetensors"]
    loaded = load_checkpoint(result.checkpoint)
    assert loaded.step == 4 and loaded.actions == list(cmu_dataset.actions)
    generator = loaded.pair.generator
    latent = generator.make_latent([0, 1], cmu_dataset.frames)
    truncation = 0.95 if model == "kinetic-gan" else 1.0  # Kinetic-GAN's centres were computed at the save
    motion = generator(latent, torch.tensor([0, 1]), truncation)
    assert motion.shape == (2, 3, cmu_dataset.frames, cmu_dataset.skeleton.joint_count)
    assert torch.isfinite(motion).all()


def test_critic_learns_the_gap_on_a_tiny_run(tmp_path, synthetic):
    """WGAN-GP behaves: the critic separates real from fake (gap > 0) and the penalty stays O(1)."""
    _run(synthetic, tmp_path, 12, n_critic=5, log_every_steps=4, lr_critic=1e-3)
    records = read_log(tmp_path / "log.jsonl")
    assert records[-1]["wasserstein_gap"] > 0
    assert all(0 <= r["gradient_penalty"] < 10 for r in records)


def test_config_json_is_the_resolved_configuration(tmp_path, synthetic):
    import json

    _run(synthetic, tmp_path, 1, extra_config={"options": {"data": "somewhere"}})
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == _tiny.TINY
    assert config["model_config"] == {"latent_channels": 4, "hidden": 8}
    assert config["precision"] == "fp32" and config["device"] == "cpu" and config["world_size"] == 1
    assert config["dataset"]["windows"] == len(synthetic) and config["options"] == {"data": "somewhere"}


def test_divergence_stops_with_a_clear_error(tmp_path, synthetic, monkeypatch):
    from motiongen.training import losses

    original = losses.WganGpLoss.accumulate_gradients

    def poisoned(self, phase, *args, **kwargs):
        values = original(self, phase, *args, **kwargs)
        return {k: v * float("nan") for k, v in values.items()}

    monkeypatch.setattr(losses.WganGpLoss, "accumulate_gradients", poisoned)
    with pytest.raises(TrainingDiverged, match="diverged at step 2"):
        _run(synthetic, tmp_path, 4)


# --- early refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"batch_size": 0}, "batch size"),
    ({"total_steps": 0}, "total steps"),
    ({"total_steps": -5}, "total steps"),
    ({"batch_size": 100}, "fewer than one batch"),
    ({"n_critic": 0}, "n_critic"),
    ({"precision": "fp8"}, "precision"),
    ({"device": "tpu"}, "device"),
    ({"lr_generator": 0.0}, "learning rate"),
    ({"balance_actions": 1.5}, "action balance"),
    ({"balance_actions": -0.1}, "action balance"),
    ({"lr_decay_steps": -1}, "learning-rate decay"),
    ({"critic_warmup_steps": -1}, "critic warm-up"),
    ({"critic_warmup_steps": 2.5}, "critic warm-up"),
    ({"mirror_probability": 1.5}, "mirror probability"),
    ({"mirror_probability": True}, "mirror probability"),
])
def test_impossible_requests_are_refused_early(tmp_path, synthetic, overrides, message):
    options = {"total_steps": 2, **overrides}
    with pytest.raises(ConfigError, match=message):
        _run(synthetic, tmp_path / "run", **options)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_frames_the_model_cannot_make_are_refused(tmp_path, synthetic):
    with pytest.raises(ConfigError, match="multiple of 16"):  # Kinetic-GAN needs T = 16k
        _run(synthetic, tmp_path, 1, model="kinetic-gan", model_config=KGAN_TINY)


# --- pieces ---------------------------------------------------------------------------------------

def test_ema_halflife_and_buffers():
    assert ema_beta(1000, halflife_steps=10, rampup=None) == pytest.approx(0.5 ** 0.1)
    assert ema_beta(20, halflife_steps=10, rampup=0.05) == pytest.approx(0.5)  # ramp-up: half-life 1 step
    generator = _tiny.TinyGenerator(_tiny.TinyConfig(), joints=3, num_classes=2)
    ema = make_ema(generator)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(1.0)
        generator.body[1].running_mean.fill_(7.0)
    before = [p.clone() for p in ema.parameters()]
    update_ema(ema, generator, beta=0.5)
    for old, new, target in zip(before, ema.parameters(), generator.parameters()):
        assert torch.allclose(new, (old + target) / 2)
    assert torch.equal(ema.body[1].running_mean, generator.body[1].running_mean)  # buffers copied
    assert not any(p.requires_grad for p in ema.parameters())


@pytest.mark.parametrize("balance, rare_share", [(1.0, 0.5), (0.5, 1 / (1 + 3)), (0.0, 0.1)])
def test_balanced_draws_give_each_action_its_share(balance, rare_share):
    labels = torch.tensor([0] * 90 + [1] * 10)  # shares 0.9 / 0.1 in the data; √: 3 : 1
    sampler = IndexSampler(len(labels), seed=3, weights=window_weights(labels, balance))
    real = labels[sampler.draw(20_000)].float().mean().item()
    generated = labels[sampler.pick(20_000, torch.Generator().manual_seed(4))].float().mean().item()
    assert real == pytest.approx(rare_share, abs=0.015)
    assert generated == pytest.approx(rare_share, abs=0.015)  # the generator phase's classes alike
    rare = sampler.draw(20_000)
    rare = rare[labels[rare] == 1]
    assert set(rare.tolist()) == set(range(90, 100))  # every window of the rare action is drawn


def test_unbalanced_sampler_walks_epoch_permutations():
    assert window_weights(torch.tensor([0, 0, 1]), 0.0) is None
    sampler = IndexSampler(7, seed=1)
    drawn = sampler.draw(14)
    assert sorted(drawn[:7].tolist()) == list(range(7)) and sorted(drawn[7:].tolist()) == list(range(7))


def test_shards_partition_the_global_batch():
    values = torch.arange(12)
    parts = [distributed.shard(values, distributed.World(rank=r, size=3)) for r in range(3)]
    assert torch.equal(torch.cat(parts), values)
    assert distributed.shard(values, distributed.World()) is values


def test_world_from_env(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    world = distributed.world_from_env()
    assert (world.rank, world.size, world.local_rank, world.is_main) == (2, 4, 0, False)
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name)
    assert distributed.world_from_env() == distributed.World()


# --- fine-tuning (--init-from) ----------------------------------------------------------------------

def _learned(path):
    """The generator's and critic's parameters (not batch-norm statistics or truncation centres,
    which a training step or a save recomputes)."""
    skip = ("running_", "num_batches_tracked", "w_centres")
    return {k: v for k, v in load_file(str(path)).items()
            if k.startswith(("generator.", "critic.", "ema.")) and not any(s in k for s in skip)}


def test_init_from_starts_a_new_run_at_the_checkpoints_weights(tmp_path, synthetic):
    _run(synthetic, tmp_path / "base", 4, ema_rampup=None)  # an average unlike the raw generator
    base = tmp_path / "base" / "last.safetensors"
    tiny_steps = dict(lr_generator=1e-12, lr_critic=1e-12)  # one step that barely moves the weights
    tuned = _run(synthetic, tmp_path / "tuned", 1, init_from=base, **tiny_steps)
    fresh = _run(synthetic, tmp_path / "fresh", 1, **tiny_steps)
    assert tuned.step == 1  # a new run: steps count from 0
    start, after, scratch = _learned(base), _learned(tuned.checkpoint), _learned(fresh.checkpoint)
    assert start.keys() == after.keys() and any(k.startswith("critic.") for k in start)
    averages = [k for k in start if k.startswith("ema.")]
    assert any(not torch.allclose(start[k], start["generator" + k[3:]], atol=1e-4) for k in averages)
    beta = ema_beta(1, 3.0, None)  # the moving average goes on from the checkpoint's: no ramp-up
    for key in start:
        expected = start[key]
        if key in averages:
            expected = beta * start[key] + (1 - beta) * start["generator" + key[3:]]
        assert torch.allclose(expected, after[key], atol=1e-6), key
    assert any(not torch.allclose(start[k], scratch[k], atol=1e-3) for k in start)
    config = (tmp_path / "tuned" / "config.json").read_text()
    assert str(base) in config


def test_a_fine_tune_of_an_export_with_its_critic_is_the_fine_tune_of_the_run(tmp_path, synthetic):
    """A shipped GAN kept with its critic (`ship_model.py --with-critic`) fine-tunes exactly as the
    run's own checkpoint does: the critic it trained against and the raw generator come along
    (a fresh critic, or the EMA as generator, would give other weights)."""
    _run(synthetic, tmp_path / "base", 3, ema_rampup=None)
    base = tmp_path / "base" / "last.safetensors"
    shipped = export_for_inference(base, tmp_path / "shipped.safetensors", with_critic=True, shipped_as="tiny")
    _run(synthetic, tmp_path / "from-run", 3, init_from=base)
    _run(synthetic, tmp_path / "from-shipped", 3, init_from=shipped)
    _assert_same_weights(tmp_path / "from-run" / "last.safetensors", tmp_path / "from-shipped" / "last.safetensors")


def test_critic_warmup_trains_the_critic_alone_then_both_and_resumes_exactly(tmp_path, synthetic):
    """A fine-tune with --critic-warmup-steps 3: for three steps the generator and its average keep
    the checkpoint's weights while the critic learns; then both train, and a run stopped inside the
    warm-up resumes bit-identically."""
    _run(synthetic, tmp_path / "base", 4, ema_rampup=None)
    base = tmp_path / "base" / "last.safetensors"
    _run(synthetic, tmp_path / "warm", 3, init_from=base, critic_warmup_steps=3)
    start, warm = _learned(base), _learned(tmp_path / "warm" / "last.safetensors")
    waiting = [k for k in start if k.startswith(("generator.", "ema."))]
    assert waiting and all(torch.equal(start[k], warm[k]) for k in waiting)
    assert any(not torch.allclose(start[k], warm[k]) for k in start if k.startswith("critic."))
    records = read_log(tmp_path / "warm" / "log.jsonl")
    assert all("critic_loss" in r and "generator_loss" not in r for r in records)

    options = dict(init_from=base, critic_warmup_steps=3)
    _run(synthetic, tmp_path / "whole", 6, **options)
    _run(synthetic, tmp_path / "split", 2, **options)
    _run(synthetic, tmp_path / "split", 6, resume=True, **options)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    after = _learned(tmp_path / "whole" / "last.safetensors")
    assert all(not torch.equal(start[k], after[k]) for k in waiting if k.endswith("weight"))
    assert "generator_loss" in read_log(tmp_path / "whole" / "log.jsonl")[-1]


def test_init_from_refuses_another_model_skeleton_or_action_set(tmp_path, synthetic):
    _run(synthetic, tmp_path / "base", 2)
    base = tmp_path / "base" / "last.safetensors"
    with pytest.raises(ConfigError, match="holds a tiny-test model, not kinetic-gan"):
        _run(synthetic, tmp_path / "a", 1, model="kinetic-gan", model_config=KGAN_TINY, init_from=base)
    with pytest.raises(ConfigError, match="other actions"):
        _run(_tiny.synthetic_dataset(actions=("walk", "jump")), tmp_path / "b", 1, init_from=base)
    with pytest.raises(ConfigError, match="h36m17 skeleton, the data on ntu25.*--skeleton h36m17"):
        _run(_tiny.synthetic_dataset(skeleton="ntu25"), tmp_path / "c", 1, init_from=base)
    with pytest.raises(MotionGenError, match="do not fit"):
        _run(synthetic, tmp_path / "d", 1, init_from=base, model_config={"hidden": 12})
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_a_fine_tune_and_a_resume_keep_the_normalization_their_weights_learned(tmp_path, synthetic):
    """New data (or a new preparation) brings other statistics; the weights were trained in the
    checkpoint's, so training goes on in those and the new checkpoint stores them."""
    _run(synthetic, tmp_path / "base", 2)
    learned = Normalization.of(load_checkpoint(tmp_path / "base").normalization)
    other = dataclasses.replace(synthetic, normalization=Normalization(learned.centre + 0.1, learned.half_range * 2))
    _run(other, tmp_path / "tuned", 1, init_from=tmp_path / "base" / "last.safetensors")
    with pytest.warns(UserWarning, match="normalisation statistics changed.*the run's own"):
        train(model=_tiny.TINY, dataset=other, run_dir=tmp_path / "base", total_steps=3, resume=True, batch_size=4,
              n_critic=2, log_every_steps=2, device="cpu", seed=5, handle_signals=False)
    for run in ("tuned", "base"):
        stored = Normalization.of(load_checkpoint(tmp_path / run).normalization)
        np.testing.assert_array_equal(stored.centre, learned.centre)
        np.testing.assert_array_equal(stored.half_range, learned.half_range)


def test_a_fine_tune_resumes_exactly(tmp_path, synthetic):
    _run(synthetic, tmp_path / "base", 3, ema_rampup=None)
    base = tmp_path / "base" / "last.safetensors"
    _run(synthetic, tmp_path / "whole", 4, init_from=base)
    _run(synthetic, tmp_path / "split", 2, init_from=base)
    _run(synthetic, tmp_path / "split", 4, init_from=base, resume=True)
    _assert_same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")


def _swapped_hands(synthetic, probability, keep=()) -> tuple[torch.Tensor, torch.Tensor]:
    """Raise every window's right wrist (h36m17 RWrist) 30 cm and augment 20 batches of all 24
    windows: whether the raised wrist became the left one (exactly the mirrored windows: turning
    about the up axis keeps heights), and each window's label."""
    windows = synthetic.windows.copy()
    windows[:, :, 16, 1] += 0.3
    raised = dataclasses.replace(synthetic, windows=windows, normalization=Normalization.from_features_data(
        to_features(windows)))
    source = BatchSource(raised, torch.device("cpu"), distributed.World(), True, 0,
                         mirror_probabilities(raised, probability, keep))
    swapped, labels = [], []
    for _ in range(20):
        positions, batch_labels = source.positions(torch.arange(len(raised)))
        right, left = positions[:, :, 16, 1].mean(1), positions[:, :, 13, 1].mean(1)
        assert bool(((right - left).abs() > 0.25).all())  # one wrist is up, the other is not
        swapped.append(left > right)
        labels.append(batch_labels)
    return torch.cat(swapped), torch.cat(labels)


@pytest.mark.parametrize("probability", [0.0, 0.5, 1.0])
def test_mirror_probability_is_the_share_of_windows_whose_hands_swap(synthetic, probability):
    share = float(_swapped_hands(synthetic, probability)[0].float().mean())
    if probability in (0.0, 1.0):
        assert share == probability
    else:
        assert 0.4 < share < 0.6


def test_kept_handedness_is_never_mirrored_and_the_rest_is(synthetic):
    swapped, labels = _swapped_hands(synthetic, 1.0, keep=("wave",))
    wave = labels == synthetic.actions.index("wave")
    assert not bool(swapped[wave].any()) and bool(swapped[~wave].all())
    swapped, labels = _swapped_hands(synthetic, 0.5, keep=("wave", "wave"))
    walk_share = float(swapped[labels == synthetic.actions.index("walk")].float().mean())
    assert not bool(swapped[labels == synthetic.actions.index("wave")].any()) and 0.35 < walk_share < 0.65


def test_an_unknown_kept_action_is_refused_before_the_run_folder(tmp_path, synthetic):
    with pytest.raises(ConfigError, match="no action 'wav'.*walk, wave"):
        _run(synthetic, tmp_path / "run", 2, keep_handedness=["wav"])
    assert not (tmp_path / "run").exists()
