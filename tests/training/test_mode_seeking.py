"""The mode-seeking regulariser (`motiongen.nn.mode_seeking`, config ``mode_seeking_weight``): the
pairing by class, the loss against its closed form, that it pushes a collapsed generator's pair
apart, its place in `WganGpLoss`'s generator phase, the configs' refusals, and a real training
step of each GAN with it logged."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.nn.mode_seeking import EPSILON, mode_seeking_loss, pair_labels
from motiongen.skeletons import load_skeleton
from motiongen.training.losses import Networks, WganGpLoss

SMALL = {
    "kinetic-gan": dict(frames=16, latent_dim=8, w_dim=8, mapping_depth=2, generator_channels=(8, 4),
                        critic_channels=(4, 8)),
    "csgn": dict(frames=16, latent_channels=4, class_channels=4, channels=(8, 8, 8, 8, 8, 8),
                 critic_channels=(8, 8, 8, 8, 8, 8)),
}


def test_the_second_half_of_the_batch_takes_the_first_halfs_labels():
    assert pair_labels(torch.tensor([0, 1, 2, 3, 4, 5])).tolist() == [0, 1, 2, 0, 1, 2]
    assert pair_labels(torch.tensor([4, 1, 2, 3, 0])).tolist() == [4, 1, 4, 1, 0]  # odd: the last keeps its own
    assert pair_labels(torch.tensor([7])).tolist() == [7]
    labels = torch.tensor([3, 2])
    pair_labels(labels)
    assert labels.tolist() == [3, 2]  # the caller's labels are not changed


def test_the_loss_is_one_over_the_ratio_of_output_to_latent_distance():
    torch.manual_seed(0)
    latent, fake = torch.randn(6, 4, 2), torch.randn(6, 3, 5, 7)
    output_distance = (fake[:3] - fake[3:]).abs().mean()
    latent_distance = (latent[:3] - latent[3:]).abs().mean()
    expected = 1 / (output_distance / latent_distance + EPSILON)
    assert mode_seeking_loss(fake, latent).item() == pytest.approx(expected.item(), rel=1e-6)
    # Outputs twice as far apart halve the loss; a generator that ignores its latent pays ~1/ε.
    assert mode_seeking_loss(2 * fake, latent).item() == pytest.approx(expected.item() / 2, rel=1e-4)
    assert mode_seeking_loss(fake[:1].expand(6, -1, -1, -1), latent).item() == pytest.approx(1 / EPSILON)
    assert mode_seeking_loss(fake[:1], latent[:1]).item() == 0.0  # one sample: no pair


def test_its_gradient_pushes_a_pairs_outputs_apart():
    torch.manual_seed(0)
    latent = torch.randn(4, 8)
    weight = nn.Parameter(0.01 * torch.randn(8, 8))  # a generator that almost ignores its latent
    fake = latent @ weight
    mode_seeking_loss(fake, latent).backward()
    with torch.no_grad():
        stepped = latent @ (weight - 1e-6 * weight.grad)
        assert (stepped[:2] - stepped[2:]).abs().mean() > (fake[:2] - fake[2:]).abs().mean()


class _RecordingGenerator(nn.Module):
    """G(z, c) = scale · z + c; remembers the labels it was given."""

    def __init__(self, weight: float):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.1))
        self.config = SimpleNamespace(mode_seeking_weight=weight)
        self.seen_labels = None

    def forward(self, latent, labels, truncation=1.0):
        self.seen_labels = labels
        return self.scale * latent + labels[:, None].float()


def _generator_phase(weight: float):
    torch.manual_seed(0)
    generator = _RecordingGenerator(weight)
    critic = nn.Linear(4, 1).requires_grad_(False)

    def score(features, labels):
        return critic(features).squeeze(-1)

    networks = Networks(generator_train=generator, generator_plain=generator, critic_train=score,
                        critic_plain=score, critic_eager=score, generator_module=generator, critic_module=critic)
    latent, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 4, 5])
    values = WganGpLoss(networks).accumulate_gradients("generator", None, labels, latent)
    return generator, critic, latent, values


def test_the_generator_phase_pairs_by_class_and_adds_the_weighted_term():
    generator, critic, latent, values = _generator_phase(0.5)
    assert generator.seen_labels.tolist() == [0, 1, 2, 0, 1, 2]
    with torch.no_grad():
        fake = generator(latent, torch.tensor([0, 1, 2, 0, 1, 2]))
        seeking = mode_seeking_loss(fake, latent)
        adversarial = -critic(fake).mean()
    assert values["mode_seeking"].item() == pytest.approx(seeking.item(), rel=1e-6)
    assert values["generator_loss"].item() == pytest.approx((adversarial + 0.5 * seeking).item(), rel=1e-6)
    assert generator.scale.grad < 0  # a larger scale spreads the pair: the step raises it


def test_without_the_weight_the_generator_phase_is_unchanged():
    generator, _, _, values = _generator_phase(0.0)
    assert generator.seen_labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert "mode_seeking" not in values


@pytest.mark.parametrize("kind", sorted(SMALL))
@pytest.mark.parametrize("weight", [-1.0, float("nan"), True, "1"])
def test_the_configs_refuse_a_bad_weight(kind, weight):
    with pytest.raises(ConfigError, match="mode_seeking_weight must be a number ≥ 0"):
        create_model(kind, load_skeleton("cmu31"), 3, **SMALL[kind], mode_seeking_weight=weight)


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_a_training_run_logs_the_term(kind, tmp_path, cmu_dataset):
    from motiongen.training import train
    from motiongen.training.log import read_log

    train(model=kind, dataset=cmu_dataset, run_dir=tmp_path / "run", total_steps=2, batch_size=4, n_critic=1,
          log_every_steps=1, device="cpu", model_config={**SMALL[kind], "mode_seeking_weight": 1.0},
          handle_signals=False)
    records = [r for r in read_log(tmp_path / "run" / "log.jsonl") if "generator_loss" in r]
    assert records and all(r["mode_seeking"] > 0 for r in records)
