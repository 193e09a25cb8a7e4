"""The generator's smoothness term (`motiongen.nn.smoothness`, ``smoothness_weight``): the second
differences it measures, the per-action target fitted to data (geometric means, mirrored, robust
to one glitch), the hinge that stays silent at the data's sharpness and pulls a jittery generator
back, its place in the generator's loss, and the config's refusals."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from motiongen.data.features import Normalization, to_features
from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.nn.smoothness import (ENERGY_FLOOR, GeneratorSmoothnessMixin, fit_smoothness_target, log_sharpness,
                                     second_difference_energy, sharpness_excess, smoothness_hinge)
from motiongen.skeletons import load_skeleton
from motiongen.training.losses import Networks, WganGpLoss


def _windows(count: int, frames: int = 16, joints: int = 4, seed: int = 0, amplitude: float = 0.05) -> np.ndarray:
    """Smooth random motion ``[N, T, V, 3]`` in metres: sums of slow sines per coordinate."""
    rng = np.random.default_rng(seed)
    time = np.arange(frames)[None, :, None, None]
    phase = rng.uniform(0, 2 * np.pi, (count, 1, joints, 3))
    rate = rng.uniform(0.1, 0.4, (count, 1, joints, 3))
    return amplitude * np.sin(rate * time + phase) + rng.normal(0, 0.01, (count, 1, joints, 3))


def test_second_differences_vanish_on_ramps_and_are_exact_on_parabolas():
    frames = torch.arange(10, dtype=torch.float64)
    ramp = (3.0 * frames - 2.0)[None, None, :, None].expand(2, 3, 10, 4)
    assert torch.allclose(second_difference_energy(ramp), torch.zeros(2, 4, dtype=torch.float64))
    parabola = torch.zeros(1, 3, 10, 4, dtype=torch.float64)
    parabola[:, 0] = 0.5 * frames[:, None] ** 2  # second difference 1 in x
    parabola[:, 2] = frames[:, None] ** 2  # and 2 in z: 1 + 4 per frame
    assert torch.allclose(second_difference_energy(parabola), torch.full((1, 4), 5.0, dtype=torch.float64))


def test_the_target_is_each_actions_mean_log_sharpness_mirrored_and_in_metres():
    positions = _windows(30, joints=4)
    positions[20:, :, 1] += 0.02 * np.random.default_rng(1).normal(size=(10, 16, 3))  # action 2's joint 1 jitters
    labels = np.repeat([0, 1, 2], 10)
    normalization = Normalization.from_features_data(to_features(positions))
    mirror = np.array([0, 2, 1, 3])  # joints 1 and 2 are a left/right pair
    target, scale = fit_smoothness_target(positions, labels, normalization, 4, mirror)
    features = torch.as_tensor(to_features(positions)).permute(0, 3, 1, 2)
    expected = log_sharpness(features).view(3, 10, 4).mean(1).float()
    expected = torch.maximum(expected, expected[:, torch.as_tensor(mirror)])
    assert torch.allclose(target[:3], expected, atol=1e-5)
    assert torch.allclose(target[2, 1], target[2, 2]) and target[2, 1] > target[0, 1] + 2  # the jitter, both sides
    assert torch.allclose(target[3], expected.mean(0), atol=1e-1)  # an action without windows: all of them
    assert torch.allclose(scale[:, 0, :], torch.tensor(np.array(normalization.half_range)).T)


def test_one_glitch_moves_the_target_by_little():
    positions = _windows(40)
    labels = np.zeros(40, dtype=np.int64)
    glitched = positions.copy()
    glitched[3, 8] += 2.0  # a two-metre jump in one frame of one window
    normalization = Normalization.from_features_data(to_features(positions))
    clean, _ = fit_smoothness_target(positions, labels, normalization, 1, np.arange(4))
    dirty, _ = fit_smoothness_target(glitched, labels, normalization, 1, np.arange(4))
    energy = lambda p: second_difference_energy(torch.as_tensor(to_features(p)).permute(0, 3, 1, 2)).mean(0)
    assert float((energy(glitched) / energy(positions)).min()) > 100  # a mean of E would be set by it
    assert float((dirty - clean).abs().max()) < 0.5  # the geometric mean is not


def test_the_data_sits_at_the_target_and_jitter_above_it():
    positions = _windows(64)
    labels = np.repeat([0, 1], 32)
    normalization = Normalization.from_features_data(to_features(positions))
    target, scale = fit_smoothness_target(positions, labels, normalization, 2, np.arange(4))
    real = torch.as_tensor(normalization.normalize(to_features(positions)), dtype=torch.float32).permute(0, 3, 1, 2)
    labels = torch.as_tensor(labels)
    excess, present = sharpness_excess(real, labels, target, scale)
    assert torch.allclose(excess, torch.zeros(2, 4), atol=1e-4) and present.all()
    jittered = real + 0.05 * torch.randn_like(real)
    assert float(sharpness_excess(jittered, labels, target, scale)[0].min()) > 1.0
    # per action present: one action's smooth clips do not pay for another's jitter
    mixed = torch.cat([real[:32].mean(2, keepdim=True).expand_as(real[:32]), jittered[32:]])
    excess, _ = sharpness_excess(mixed, labels, target, scale)
    assert float(excess[0].max()) < -3 and float(excess[1].min()) > 1.0
    hinge, mean = smoothness_hinge(excess, torch.tensor([True, True]))
    assert torch.allclose(hinge, torch.relu(excess[1]).square().mean() / 2)
    assert torch.allclose(mean, excess.mean())
    # an action the batch does not hold counts for nothing
    only_second, present = sharpness_excess(jittered[32:], labels[32:], target, scale)
    assert present.tolist() == [False, True] and torch.allclose(only_second[1], excess[1])
    hinge, mean = smoothness_hinge(only_second, present)
    assert torch.allclose(hinge, torch.relu(excess[1]).square().mean()) and torch.allclose(mean, excess[1].mean())


class Jittery(GeneratorSmoothnessMixin, nn.Module):
    """G(z, c) = a fixed clip plus a learned amount of a fixed jitter."""

    def __init__(self, clip: torch.Tensor, jitter: torch.Tensor, weight: float = 1.0):
        super().__init__()
        self.config = SimpleNamespace(smoothness_weight=weight)
        self.clip, self.jitter = clip, jitter
        self.amount = nn.Parameter(torch.tensor(1.0))
        self._init_smoothness(np.arange(clip.shape[-1]), 1, weight)

    def forward(self, latent, labels):
        return self.clip + self.amount * self.jitter


def test_the_term_pulls_a_jittery_generator_down_to_the_data_and_no_further():
    positions = _windows(32)
    normalization = Normalization.from_features_data(to_features(positions))
    real = torch.as_tensor(normalization.normalize(to_features(positions)), dtype=torch.float32).permute(0, 3, 1, 2)
    torch.manual_seed(0)
    # a still pose: all its sharpness is the jitter's, and a jitter of the data's sharpness is allowed
    generator = Jittery(real.mean(2, keepdim=True).expand_as(real), 0.05 * torch.randn_like(real))
    generator._fit_smoothness(positions, np.zeros(32, dtype=np.int64), normalization)
    critic = lambda features, labels: torch.zeros(features.shape[0])  # no adversarial pull at all
    networks = Networks(generator_train=generator, generator_plain=generator, critic_train=critic,
                        critic_plain=critic, critic_eager=critic, generator_module=generator, critic_module=None)
    loss = WganGpLoss(networks)
    optimiser = torch.optim.SGD(generator.parameters(), lr=0.005)
    labels = torch.zeros(32, dtype=torch.long)
    values = None
    for _ in range(600):
        optimiser.zero_grad()
        values = loss.accumulate_gradients("generator", None, labels, torch.zeros(32, 1))
        optimiser.step()
    assert {"smoothness_hinge", "sharpness_excess"} <= set(values)
    assert float(values["smoothness_hinge"]) < 0.01
    assert 0.05 < float(generator.amount.detach()) < 0.6  # the jitter cut down, not away
    with torch.no_grad():  # the hinge is per joint: the sharpest joint ends at the data's level, not below
        excess, _ = sharpness_excess(generator(None, labels), labels, generator.smoothness_target,
                                     generator.smoothness_scale)
    assert -0.3 < float(excess.max()) < 0.01  # (squared, the hinge nears 0 from above)


def test_a_still_joint_has_a_finite_log():
    still = torch.zeros(2, 3, 8, 3)
    assert torch.allclose(log_sharpness(still), torch.full((2, 3), float(np.log(ENERGY_FLOOR))))


@pytest.mark.parametrize("model", ["kinetic-gan", "csgn"])
@pytest.mark.parametrize("weight", [-1.0, float("nan"), True, "1"])
def test_a_bad_weight_is_refused(model, weight):
    with pytest.raises(ConfigError, match="smoothness_weight"):
        create_model(model, load_skeleton("cmu31"), 3, smoothness_weight=weight)


@pytest.mark.parametrize("model", ["kinetic-gan", "csgn"])
def test_the_buffers_exist_only_when_the_term_is_on(model):
    off = create_model(model, load_skeleton("cmu31"), 3).generator
    on = create_model(model, load_skeleton("cmu31"), 3, smoothness_weight=0.5).generator
    assert "smoothness_target" not in off.state_dict()
    assert on.state_dict()["smoothness_target"].shape == (3, 31)
    assert on.state_dict()["smoothness_scale"].shape == (3, 1, 31)
    mirror = load_skeleton("cmu31").mirror_index()
    assert np.array_equal(on.smoothness_mirror, mirror) and not np.array_equal(mirror, np.arange(31))
