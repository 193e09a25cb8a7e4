"""CSGN (motiongen.models.csgn, motiongen.nn.csgn_layers): tiny configs on the CPU.

Shapes at any length from one model, the Gaussian-process latent (exact covariance of both
sampling paths, empirical autocorrelation, smoothness ordering), determinism and batch independence
per seed, gradients (incl. WGAN-GP's double backward), spatially-varying weights, safetensors
round trip, frames_supported messages, config errors, truncation, bf16 autocast, encoder H.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from motiongen.errors import ConfigError
from motiongen.models import csgn
from motiongen.nn.graph import graph_pyramid
from motiongen.nn.csgn_layers import GaussianProcessPrior, SpatiallyVaryingGraphConv, upsample_time_linear
from motiongen.skeletons import load_skeleton

TINY = dict(latent_channels=8, channels=(32, 16, 16, 8, 8, 8), class_channels=4, critic_channels=(8, 8, 8, 8, 8))
JOINTS = {"ntu25": 25, "cmu31": 31}


def _pair(skeleton: str = "ntu25", classes: int = 5, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return csgn.build(load_skeleton(skeleton), classes, **{**TINY, **overrides})


@pytest.fixture(scope="module")
def ntu_pair():
    return _pair("ntu25")


# --- shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("skeleton", ["ntu25", "cmu31"])
def test_one_model_generates_any_length(skeleton):
    pair = _pair(skeleton)
    generator, critic = pair.generator.eval(), pair.critic
    assert pair.kind == "csgn" and generator.kind == "csgn"
    labels = torch.tensor([0, 4])
    with torch.no_grad():
        for frames in (64, 16, 256, 1024, 100):
            latent = generator.make_latent([1, 2], frames)
            assert latent.shape == (2, 8, -(-frames // 16)) and latent.device.type == "cpu"
            motion = generator(latent, labels, frames=frames)
            assert motion.shape == (2, 3, frames, JOINTS[skeleton])
            assert torch.isfinite(motion).all() and motion.abs().max() <= 1.0
            assert critic(motion, labels).shape == (2,)
        uncropped = generator(generator.make_latent([1], 100), labels[:1])
    assert uncropped.shape == (1, 3, 112, JOINTS[skeleton])


def test_architecture_follows_the_pyramid(ntu_pair):
    blocks = ntu_pair.generator.blocks  # ntu25 pyramid 1 → 4 → 9 → 25
    assert [b.graph_up for b in blocks] == [True, True, True, False, False]
    assert [b.double_time for b in blocks] == [False, True, True, True, True]
    assert [b.graph_conv.vertex_count for b in blocks] == [4, 9, 25, 25, 25]
    # the last coarsening is a merge into one vertex, where some vertices are 2 hops from the centre
    assert [b.coarsen for b in ntu_pair.critic.blocks] == ["none", "select", "select", "pool"]
    cmu_critic = _pair("cmu31").critic  # 31 → 13 → 6 → 1
    assert [b.coarsen for b in cmu_critic.blocks] == ["none", "select", "select", "pool"]


# --- Gaussian-process latent -------------------------------------------------------------------


@pytest.mark.parametrize("steps", [40, 100])  # Cholesky path (≤ 64 steps) and circulant embedding
def test_gp_sampling_has_the_exact_rbf_covariance(steps):
    scales = np.array([0.05, 0.7, 1.5, 3.0, 6.25])
    prior = GaussianProcessPrior(scales, cholesky_max_steps=64)
    size = prior.noise_length(steps)
    # Feed the unit vectors as noise: the outputs are the columns of the linear map F, and F Fᵀ is the covariance.
    identity = torch.eye(size)[:, None, :].expand(size, len(scales), size).contiguous()
    columns = prior.sample(identity, steps).double()  # [size, C, L]
    covariance = torch.einsum("ncl,ncm->clm", columns, columns)
    lags = torch.arange(steps, dtype=torch.float64)
    expected = torch.exp(-0.5 * ((lags[:, None] - lags[None, :]) / torch.as_tensor(scales)[:, None, None]) ** 2)
    assert torch.allclose(covariance, expected, atol=2e-5)


@pytest.fixture(scope="module")
def latent_samples():
    # 8 channels, σ̄ = 64 frames = 4 latent steps: σ_c = 0.5, 1.0, …, 4.0 steps.
    generator = _pair(length_scale_frames=64.0).generator
    return generator, generator.make_latent(list(range(600)), 48 * 16)  # [600, 8, 48]: Cholesky path


def _autocorrelation(latent: torch.Tensor, lag: int) -> torch.Tensor:
    return (latent[..., lag:] * latent[..., : latent.shape[-1] - lag]).mean(dim=(0, 2))


def test_gp_latent_autocorrelation_matches_the_kernel(latent_samples):
    generator, latent = latent_samples
    sigma = torch.as_tensor(generator.prior.length_scales, dtype=torch.float32)
    assert torch.allclose(sigma, torch.arange(1, 9) / 8 * 4.0)
    assert torch.allclose(latent.var(dim=(0, 2)), torch.ones(8), atol=0.08)
    for lag in (1, 2, 3, 5):
        expected = torch.exp(-(lag**2) / (2 * sigma**2))
        assert torch.allclose(_autocorrelation(latent, lag), expected, atol=0.08), lag


def test_gp_latent_long_sequences_use_the_circulant_path_and_match_the_kernel():
    generator = _pair(length_scale_frames=64.0).generator
    latent = generator.make_latent(list(range(150)), 4096)  # 256 steps > 64: FFT embedding
    assert latent.shape == (150, 8, 256)
    sigma = torch.as_tensor(generator.prior.length_scales, dtype=torch.float32)
    for lag in (1, 3):
        assert torch.allclose(_autocorrelation(latent, lag), torch.exp(-(lag**2) / (2 * sigma**2)), atol=0.08)


def test_longer_length_scales_are_smoother(latent_samples):
    _, latent = latent_samples
    roughness = latent.diff(dim=-1).pow(2).mean(dim=(0, 2))  # E[(z_{t+1} − z_t)²] = 2 (1 − e^{−1/(2σ²)})
    assert (roughness.diff() < 0).all(), roughness


def test_latents_are_deterministic_per_seed_and_independent_of_the_batch(ntu_pair):
    generator = ntu_pair.generator.eval()
    seeds = [11, 12, 13, 14]
    together = generator.make_latent(seeds, 1024)
    alone = torch.cat([generator.make_latent([s], 1024) for s in seeds])
    assert torch.equal(together, alone)
    assert torch.equal(together, generator.make_latent(seeds, 1024))
    assert not torch.equal(together[0], together[1])
    labels = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        batched = generator(together, labels)
        single = torch.cat([generator(alone[i : i + 1], labels[i : i + 1]) for i in range(4)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_gp_factors_are_cached_on_the_module_not_in_the_state_dict():
    generator = _pair().generator
    generator.make_latent([0], 64)
    generator.make_latent([0], 4096)
    assert set(generator.prior._factors) == {4, 256}
    assert not any("prior" in key or "factor" in key for key in generator.state_dict())


# --- gradients ---------------------------------------------------------------------------------


def test_backward_reaches_every_parameter():
    pair = _pair()
    generator, critic = pair.generator.train(), pair.critic
    labels = torch.tensor([0, 1, 2])
    critic(generator(generator.make_latent([1, 2, 3], 64), labels), labels).mean().backward()
    for module in (generator, critic):
        for name, parameter in module.named_parameters():
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
            assert parameter.grad.abs().sum() > 0, name


def test_gradient_penalty_double_backward(ntu_pair):
    critic = ntu_pair.critic
    critic.zero_grad()
    features = (torch.rand(3, 3, 64, 25) * 2 - 1).requires_grad_(True)
    labels = torch.tensor([0, 2, 4])
    (gradient,) = torch.autograd.grad(critic(features, labels).sum(), features, create_graph=True)
    penalty = ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    # Biases (and the label embedding) do not change ∂score/∂x of a piecewise-linear net: their grads may be None.
    weights = [p for name, p in critic.named_parameters() if name.endswith("weight") and "embedding" not in name]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)


@pytest.mark.parametrize("skeleton", ["ntu25", "cmu31"])
def test_critic_score_depends_on_every_joint_and_frame(skeleton):
    # Coarsening by node selection must not drop joints whose features never reached a kept vertex.
    critic = _pair(skeleton).critic
    features = torch.rand(2, 3, 64, JOINTS[skeleton], requires_grad=True)
    (gradient,) = torch.autograd.grad(critic(features, torch.tensor([0, 1])).sum(), features)
    assert (gradient.abs().sum(dim=(0, 1, 2)) > 0).all()
    assert (gradient.abs().sum(dim=(0, 1, 3)) > 0).all()


def _new_critic_spreads(critic_init: str) -> tuple[list[float], torch.Tensor]:
    """Spread between 8 clips after the stem and after each block of a new cmu31 critic, and its scores."""
    torch.manual_seed(0)
    critic = csgn.build(load_skeleton("cmu31"), 12, frames=32, critic_channels=(32, 64, 64, 128, 128),
                        critic_init=critic_init).critic
    features, labels = 0.5 * torch.randn(8, 3, 32, 31), torch.zeros(8, dtype=torch.long)
    spreads = []
    with torch.no_grad():
        x = critic.act(critic.stem(torch.cat([features, critic.class_embedding(labels)[:, :, None, None]
                                              .expand(-1, -1, 32, 31)], dim=1)))
        for block in critic.blocks:
            spreads.append(x.std(0).mean().item())
            x = block(x)
        spreads.append(x.std(0).mean().item())
        return spreads, critic(features, labels)


def test_a_new_critic_passes_the_differences_between_clips_to_its_score():
    """``critic_init="he"``: with PyTorch's default the clips' differences shrink ~10× per block and
    a new critic scores 8 different clips within 10⁻⁷ of each other."""
    spreads, scores = _new_critic_spreads("he")
    assert spreads[-1] > 0.01 * spreads[0]  # the last block still tells the clips apart
    assert scores.std() > 1e-3


def test_critic_init_pytorch_keeps_the_default_start():
    """The default start (PyTorch's), the one CSGN trained from on the CPU: the clips' spread nearly
    gone at the last block."""
    assert csgn.CSGNConfig().critic_init == "pytorch"
    spreads, scores = _new_critic_spreads("pytorch")
    assert spreads[-1] < 0.001 * spreads[0]
    assert scores.std() < 1e-4


def test_pyramid_repairs_keep_levels_connected():
    for name in ("ntu25", "cmu31"):
        levels = csgn.csgn_levels(graph_pyramid(load_skeleton(name)))
        for level in levels:
            assert (level.upsample.sum(1) > 0).all()  # every finer vertex draws from some coarse vertex
            reach = np.eye(level.joint_count, dtype=bool)
            for _ in range(level.joint_count):
                reach = reach | ((reach.astype(int) @ level.adjacency.astype(int)) > 0)
            assert reach.all(), (name, level.joint_count)


# --- spatially varying graph convolution -------------------------------------------------------


def test_spatially_varying_weights_differ_per_vertex():
    adjacency = np.zeros((4, 4), dtype=np.float32)
    adjacency[[0, 1, 2], [1, 2, 3]] = 1  # a chain 0-1-2-3
    adjacency = adjacency + adjacency.T
    torch.manual_seed(0)
    layer = SpatiallyVaryingGraphConv(6, 5, adjacency)
    assert layer.weight.shape == (4 + 2 * 3, 6, 5)  # one [C_in, C_out] matrix per (vertex, neighbour)
    same = torch.randn(1, 2, 7, 6).expand(4, 2, 7, 6)  # [V, B, T, C]: every vertex sees the same input
    out = layer(same)
    assert out.shape == (4, 2, 7, 5)
    assert not torch.allclose(out[1], out[2], atol=1e-3)  # same degree, same input: still different
    assert not torch.allclose(out[0], out[3], atol=1e-3)


def test_generator_vertices_differ_right_after_graph_upsampling(ntu_pair):
    # The one-vertex features are copied to every vertex of the next level: all get the same input, so only
    # vertex-specific weights can make two leaves with the same neighbourhood differ.
    block = ntu_pair.generator.blocks[0]
    count = block.upsample.shape[0]
    copied = torch.matmul(block.upsample, torch.randn(1, 2 * 4 * 32)).view(count, 2, 4, 32)
    assert torch.allclose(copied[1], copied[count - 1])
    out = block.graph_conv(copied)
    assert not torch.allclose(out[1], out[count - 1], atol=1e-3)


def test_linear_time_upsampling_matches_interpolate():
    x = torch.randn(3, 2, 9, 5)
    reference = torch.nn.functional.interpolate(
        x.permute(0, 1, 3, 2).reshape(6, 5, 9), scale_factor=2, mode="linear", align_corners=False
    )
    ours = upsample_time_linear(x).permute(0, 1, 3, 2).reshape(6, 5, 18)
    assert torch.allclose(ours, reference, atol=1e-6)


# --- checkpoints, limits, config ---------------------------------------------------------------


def test_safetensors_round_trip_gives_identical_outputs(tmp_path):
    pair = _pair("cmu31", seed=1)
    pair.generator.train()(pair.generator.make_latent([0, 1, 2, 3], 64), torch.tensor([0, 1, 2, 3]))  # move BN stats
    save_file(pair.generator.state_dict(), str(tmp_path / "generator.safetensors"))
    save_file(pair.critic.state_dict(), str(tmp_path / "critic.safetensors"))
    other = _pair("cmu31", seed=2)
    other.generator.load_state_dict(load_file(str(tmp_path / "generator.safetensors")))
    other.critic.load_state_dict(load_file(str(tmp_path / "critic.safetensors")))
    latent, labels = pair.generator.make_latent([5, 6], 200), torch.tensor([1, 3])
    with torch.no_grad():
        first = pair.generator.eval()(latent, labels, frames=200)
        second = other.generator.eval()(latent, labels, frames=200)
        assert torch.equal(first, second)
        assert torch.equal(pair.critic(first, labels), other.critic(second, labels))


def test_frames_supported_messages(ntu_pair):
    generator = ntu_pair.generator
    for frames in (16, 17, 64, 1000, 1024, 4096, 1_000_000):
        assert generator.frames_supported(frames) is None, frames
    assert "at least 16 frames" in generator.frames_supported(15)
    assert "at least 16 frames" in generator.frames_supported(0)
    assert "at least 16 frames" in generator.frames_supported(-5)
    assert "limit of 1,000,000 frames" in generator.frames_supported(1_000_001)
    assert "whole number" in generator.frames_supported(2.5)
    assert "whole number" in generator.frames_supported(True)
    with pytest.raises(ConfigError, match="at least 16 frames"):
        generator.make_latent([0], 8)
    with pytest.raises(ConfigError, match="limit"):
        generator.make_latent([0], 10**9)


def test_config_errors():
    skeleton = load_skeleton("ntu25")
    with pytest.raises(ConfigError, match="did you mean latent_channels"):
        csgn.build(skeleton, 3, latent_chanels=8)
    with pytest.raises(ConfigError, match="unknown csgn config field 'bogus'"):
        csgn.build(skeleton, 3, bogus=1)
    with pytest.raises(ConfigError, match="multiple of 16"):
        csgn.build(skeleton, 3, frames=100)
    with pytest.raises(ConfigError, match="at least 5 positive widths"):
        csgn.build(skeleton, 3, channels=[64, 32, 16])
    with pytest.raises(ConfigError, match="length_scale_frames"):
        csgn.build(skeleton, 3, length_scale_frames=0)
    with pytest.raises(ConfigError, match="critic_init must be one of he, pytorch, got 'xavier'"):
        csgn.build(skeleton, 3, critic_init="xavier")
    with pytest.raises(ConfigError, match="at least one class"):
        csgn.build(skeleton, 0)
    pair = csgn.build(skeleton, 3, **{**TINY, "channels": list(TINY["channels"])})  # lists, as JSON gives back
    assert pair.config.channels == TINY["channels"]
    assert csgn.CSGNConfig(**pair.config_dict()) == pair.config


def test_truncation_scales_the_latent_towards_zero(ntu_pair):
    generator = ntu_pair.generator.eval()
    latent = generator.make_latent([1, 2], 64)
    labels = torch.tensor([3, 3])
    with torch.no_grad():
        at_mode = generator(latent, labels, truncation=0.0)
        assert torch.allclose(at_mode[0], at_mode[1])  # ψ = 0: every seed gives the class's mode
        assert torch.equal(generator(latent, labels), generator(latent, labels, truncation=1.0))
        assert torch.allclose(generator(latent, labels, truncation=0.5), generator(0.5 * latent, labels))
        assert not torch.allclose(generator(latent, torch.tensor([0, 0])), generator(latent, labels))


def test_bf16_autocast(ntu_pair):
    generator, critic = ntu_pair.generator.train(), ntu_pair.critic
    labels = torch.tensor([0, 1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        motion = generator(generator.make_latent([0, 1], 64), labels)
        score = critic(motion, labels)
    assert motion.shape == (2, 3, 64, 25) and torch.isfinite(motion.float()).all()
    assert torch.isfinite(score.float()).all()


# --- inverse mapping H -------------------------------------------------------------------------


@pytest.mark.parametrize("skeleton", ["ntu25", "cmu31"])
def test_encoder_maps_motion_to_a_latent_sequence(skeleton):
    torch.manual_seed(0)
    encoder = csgn.build_encoder(load_skeleton(skeleton), **TINY)
    for frames in (64, 100, 1024):
        motion = torch.rand(2, 3, frames, JOINTS[skeleton]) * 2 - 1
        assert encoder(motion).shape == (2, 8, -(-frames // 16))
    encoder(torch.rand(2, 3, 64, JOINTS[skeleton], requires_grad=True)).pow(2).mean().backward()
    assert all(p.grad is not None for p in encoder.parameters())
