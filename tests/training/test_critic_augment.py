"""Differentiable augmentation of what the critic sees (`motiongen.nn.critic_augment`, config
``critic_augment``): each transformation against its definition, the per-clip probability, the
gradient through it, its place in both phases of `WganGpLoss` (penalty included), the configs'
refusals, and real training runs that use it, resume bit-identically and fine-tune from a
checkpoint trained without it."""

from __future__ import annotations

import json
import math
import warnings
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.nn.critic_augment import (CRITIC_AUGMENTS, CUTOUT_FRACTION, SHIFT_FRACTION, augment_for_critic,
                                         critic_augment_names)
from motiongen.skeletons import load_skeleton
from motiongen.training import train
from motiongen.training.log import read_log
from motiongen.training.losses import Networks, WganGpLoss

SMALL = {
    "kinetic-gan": dict(frames=16, latent_dim=8, w_dim=8, mapping_depth=2, generator_channels=[8, 4],
                        critic_channels=[4, 8]),
    "csgn": dict(frames=16, latent_channels=4, class_channels=4, channels=[8, 8, 8, 8, 8, 8],
                 critic_channels=[8, 8, 8, 8, 8, 8]),
}
FRAMES = 32


def _clips(batch=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, FRAMES, 5, generator=generator) + 3.0  # no coordinate is 0 by chance


def _seeded(fn, seed=1):
    torch.manual_seed(seed)
    return fn()


def test_without_transformations_the_clips_pass_untouched_and_no_random_number_is_drawn():
    x = _clips()
    expected = _seeded(lambda: torch.rand(3), 7)
    torch.manual_seed(7)
    assert augment_for_critic(x, ()) is x
    assert torch.equal(torch.rand(3), expected)  # so a run without the option trains exactly as before


def test_shift_moves_each_clip_in_time_by_at_most_an_eighth_repeating_its_edge_frames():
    x = _clips()
    out = _seeded(lambda: augment_for_critic(x, ("shift",)))
    largest = round(FRAMES * SHIFT_FRACTION)
    offsets = []
    for clip, moved in zip(x, out):  # a test may loop: each clip against the definition
        matches = [s for s in range(-largest, largest + 1)
                   if torch.equal(moved, clip[:, [min(max(t - s, 0), FRAMES - 1) for t in range(FRAMES)]])]
        assert matches, "a clip is not a shift of itself within ±T/8"
        offsets.append(matches[0])
    assert len(set(offsets)) > largest  # the offsets vary from clip to clip
    assert min(offsets) < 0 < max(offsets)


def test_cutout_zeroes_one_span_of_a_quarter_of_the_frames_and_keeps_the_rest():
    x = _clips()
    out = _seeded(lambda: augment_for_critic(x, ("cutout",)))
    length = round(FRAMES * CUTOUT_FRACTION)
    starts = set()
    for clip, cut in zip(x, out):
        zero_frames = (cut == 0).all(dim=(0, 2)).nonzero().flatten().tolist()
        assert len(zero_frames) == length and zero_frames == list(range(zero_frames[0], zero_frames[0] + length))
        kept = torch.ones(FRAMES, dtype=torch.bool)
        kept[zero_frames] = False
        assert torch.equal(cut[:, kept], clip[:, kept])
        starts.add(zero_frames[0])
    assert len(starts) > 8


def test_each_transformation_reaches_about_the_asked_share_of_clips():
    x = _clips(batch=2000)
    out = _seeded(lambda: augment_for_critic(x, ("cutout",), probability=0.3))
    changed = (out != x).flatten(1).any(1).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.04)


def test_the_gradient_flows_through_the_transformations_exactly():
    x = _clips(batch=4).double().requires_grad_(True)
    weight = torch.randn_like(x)

    def scored(clips):
        return (weight * _seeded(lambda: augment_for_critic(clips, CRITIC_AUGMENTS))).sum()

    (gradient,) = torch.autograd.grad(scored(x), x)
    # The transformations are linear in x, so the score's gradient is its finite difference.
    direction = torch.randn_like(x)
    with torch.no_grad():
        difference = scored(x + direction) - scored(x)
    assert (gradient * direction).sum().item() == pytest.approx(difference.item(), rel=1e-9)
    cut_frames = (_seeded(lambda: augment_for_critic(torch.ones_like(x), CRITIC_AUGMENTS)) == 0)
    assert cut_frames.any() and not (gradient == 0).all()


# --- in the loss ---------------------------------------------------------------------------------

class _ConstantGenerator(nn.Module):
    """G(z, c) = the latent itself (clips of ones times a learnable scale)."""

    def __init__(self, config):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.config = config

    def forward(self, latent, labels, truncation=1.0):
        return self.scale * latent


def _networks(config):
    torch.manual_seed(0)
    generator = _ConstantGenerator(config)
    critic = nn.Linear(5, 1)
    seen = []

    def score(features, labels):
        seen.append(features.detach().clone())
        return critic(features).mean(dim=(1, 2, 3))

    networks = Networks(generator_train=generator, generator_plain=generator, critic_train=score,
                        critic_plain=score, critic_eager=score, generator_module=generator, critic_module=critic)
    return networks, seen


def _cut_frames(clips):
    return (clips == 0).all(dim=1).all(dim=-1)  # [B, T]


def test_the_critic_phase_scores_and_penalises_augmented_real_and_fake_clips():
    networks, seen = _networks(SimpleNamespace(critic_augment=("cutout",), critic_augment_probability=1.0))
    real, latent, labels = _clips(batch=6), _clips(batch=6, seed=1), torch.zeros(6, dtype=torch.long)
    WganGpLoss(networks).accumulate_gradients("critic", real, labels, latent)
    scored, interpolated = seen
    assert scored.shape[0] == 12 and _cut_frames(scored).sum(1).tolist() == [FRAMES // 4] * 12
    # The penalty's x̂ lies between the augmented clips, so their cut frames are cut in it too.
    both_cut = _cut_frames(scored[:6]) & _cut_frames(scored[6:])
    assert (_cut_frames(interpolated) == both_cut).all()


def test_the_generator_learns_only_from_what_the_critic_sees():
    networks, seen = _networks(SimpleNamespace(critic_augment=("cutout",), critic_augment_probability=1.0))
    latent = _clips(batch=6).requires_grad_(True)
    WganGpLoss(networks).accumulate_gradients("generator", None, torch.zeros(6, dtype=torch.long), latent)
    (scored,) = seen
    assert _cut_frames(scored).sum(1).tolist() == [FRAMES // 4] * 6
    # The cut frames give the generator no gradient: it went back through the cutout.
    frame_gradient = latent.grad.abs().sum(dim=(1, 3))  # [B, T]
    assert (frame_gradient[_cut_frames(scored)] == 0).all() and (frame_gradient[~_cut_frames(scored)] > 0).all()


def test_without_the_option_the_loss_sees_the_clips_as_they_are():
    networks, seen = _networks(SimpleNamespace())
    real, latent = _clips(batch=4), _clips(batch=4, seed=1)
    WganGpLoss(networks).accumulate_gradients("critic", real, torch.zeros(4, dtype=torch.long), latent)
    assert torch.equal(seen[0], torch.cat([real, latent]))


# --- configs and runs ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("shift,cutout", ("shift", "cutout")), (["cutout"], ("cutout",)),
                                             ("", ()), ([], ()), (" shift , cutout ", ("shift", "cutout"))])
def test_the_names_come_as_a_list_or_a_comma_separated_word(value, expected):
    assert critic_augment_names(value) == expected


@pytest.mark.parametrize("kind", sorted(SMALL))
@pytest.mark.parametrize("options, message", [
    ({"critic_augment": "shift,colour"}, "unknown 'colour'; known: shift, cutout"),
    ({"critic_augment": ["shift", "shift"]}, "names one transformation twice"),
    ({"critic_augment": 3}, "critic_augment must list names"),
    ({"critic_augment_probability": 0.0}, r"critic_augment_probability must be in \(0, 1\]"),
    ({"critic_augment_probability": 1.5}, r"critic_augment_probability must be in \(0, 1\]"),
    ({"critic_augment_probability": float("nan")}, r"critic_augment_probability must be in \(0, 1\]"),
    ({"critic_augment_probability": True}, r"critic_augment_probability must be in \(0, 1\]"),
])
def test_the_configs_refuse_bad_options(kind, options, message):
    with pytest.raises(ConfigError, match=message):
        create_model(kind, load_skeleton("cmu31"), 3, **SMALL[kind], **options)


def _run(dataset, run_dir, steps, **overrides):
    options = dict(batch_size=4, n_critic=1, log_every_steps=1, snapshot_every_steps=100, device="cpu", seed=3,
                   handle_signals=False)
    options.update(overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(dataset=dataset, run_dir=run_dir, total_steps=steps, **options)


def _same_weights(a, b):
    first, second = load_file(str(a)), load_file(str(b))
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_a_run_with_augmentation_is_finite_resumes_exactly_and_differs_from_one_without(kind, tmp_path,
                                                                                        cmu_dataset):
    config = {**SMALL[kind], "frames": cmu_dataset.frames, "critic_augment": "shift,cutout"}
    options = dict(model=kind, model_config=config)
    _run(cmu_dataset, tmp_path / "whole", 4, **options)
    _run(cmu_dataset, tmp_path / "split", 2, **options)
    with pytest.raises(ConfigError, match=r"cannot change the model on resume \(critic_augment differ\)"):
        _run(cmu_dataset, tmp_path / "split", 4, resume=True, model=kind,
             model_config={**config, "critic_augment": "cutout"})
    # The stored config lists the names; the same names spelt as one word are the same run.
    _run(cmu_dataset, tmp_path / "split", 4, resume=True, **options)
    assert _same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "split" / "last.safetensors")
    records = read_log(tmp_path / "whole" / "log.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all(math.isfinite(r[key]) for r in records for key in ("wasserstein_gap", "gradient_penalty",
                                                                  "generator_loss"))
    _run(cmu_dataset, tmp_path / "plain", 4, model=kind, model_config={**config, "critic_augment": ""})
    assert not _same_weights(tmp_path / "whole" / "last.safetensors", tmp_path / "plain" / "last.safetensors")


def test_a_fine_tune_switches_augmentation_on_for_a_pair_trained_without_it(tmp_path, cmu_dataset):
    config = {**SMALL["csgn"], "frames": cmu_dataset.frames}
    _run(cmu_dataset, tmp_path / "base", 2, model="csgn", model_config=config)
    _run(cmu_dataset, tmp_path / "tuned", 2, model="csgn", init_from=tmp_path / "base" / "last.safetensors",
         model_config={"critic_augment": ["cutout"], "critic_augment_probability": 0.5})
    resolved = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert resolved["model_config"]["critic_augment"] == ["cutout"]
    assert resolved["model_config"]["critic_augment_probability"] == 0.5
