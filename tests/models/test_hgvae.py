"""HG-VAE (DESIGN §6.4): the DCT, graph layers that change the node count, the ladder's shapes and
KL terms, a deterministic score that ignores where a window happens, and a bound that training lowers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiongen.errors import ConfigError
from motiongen.models import create_model
from motiongen.models.hgvae import HGVAE, HGVAEConfig
from motiongen.nn.gcn import GraphConvBlock, GraphConvLayer, dct_matrix
from motiongen.skeletons import load_skeleton
from motiongen.training.losses import VaeLoss

TINY = {"frames": 16, "nodes": [6, 2, 1], "latent_dims": [4, 4, 4, 8], "hidden": 16}


def tiny(skeleton: str = "h36m17", **overrides) -> HGVAE:
    torch.manual_seed(0)
    return create_model("hgvae", load_skeleton(skeleton), num_classes=3, **{**TINY, **overrides}).generator


def walking_windows(count: int = 8, frames: int = 16) -> torch.Tensor:
    """The h36m17 rest pose stepping forward with swinging limbs: smooth, person-shaped windows."""
    rest = torch.as_tensor(load_skeleton("h36m17").rest_positions(), dtype=torch.float32)
    t = torch.arange(frames)[None, :, None] / 15.0 + torch.arange(count)[:, None, None] * 0.1
    positions = rest[None, None].repeat(count, frames, 1, 1)
    positions[..., 2] += 1.2 * t
    positions[..., 2] += 0.1 * torch.sin(2 * torch.pi * t) * (positions[..., 1] < rest[0, 1]).float()
    return positions


def test_dct_is_orthonormal_and_starts_with_the_mean():
    d = dct_matrix(16, torch.float64)
    torch.testing.assert_close(d @ d.T, torch.eye(16, dtype=torch.float64))
    constant = torch.full((16,), 3.0, dtype=torch.float64)
    coefficients = constant @ d.T
    assert coefficients[0] == pytest.approx(3.0 * 4.0) and coefficients[1:].abs().max() < 1e-12


def test_graph_layers_change_the_node_count_and_blocks_start_as_identity():
    layer = GraphConvLayer(nodes_in=51, nodes_out=6, features_in=16, features_out=8)
    assert layer(torch.randn(2, 51, 16)).shape == (2, 6, 8)
    up = GraphConvLayer(nodes_in=6, nodes_out=51, features_in=8, features_out=8)
    assert up(torch.randn(2, 6, 8)).shape == (2, 51, 8)
    block = GraphConvBlock(nodes=6, features=8)
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(block(x), x)  # ReZero: α = 0 at first
    block.alpha.data.fill_(0.5)
    assert not torch.allclose(block(x), x)


def test_shapes_kl_and_a_deterministic_score():
    model = tiny()
    x = walking_windows()
    nll, kl = model(x)
    assert nll.shape == (8,) and kl.shape == (8, 4) and (kl >= -1e-5).all()
    first, second = model.score(x), model.score(x)
    torch.testing.assert_close(first, second)  # latents at their posterior means
    a, _ = model(x)
    b, _ = model(x)
    assert not torch.equal(a, b)  # training draws latents
    assert sum(p.numel() for p in model.parameters()) > 0


def test_the_score_does_not_depend_on_where_the_window_happens():
    model = tiny()
    x = walking_windows()
    moved = x.clone()
    moved[..., 0] += 7.0
    moved[..., 2] -= 3.0
    torch.testing.assert_close(model.score(x), model.score(moved), atol=1e-4, rtol=1e-4)
    higher = x.clone()
    higher[..., 1] += 0.5  # height is kept: floating half a metre up is another pose
    assert not torch.allclose(model.score(x), model.score(higher))


def test_fit_data_stores_the_relative_statistics():
    model = tiny()
    windows = walking_windows(16)
    model.fit_data(windows.numpy())
    relative = HGVAE.relative(windows.double())
    torch.testing.assert_close(model.position_mean, relative.mean(dim=(0, 1)).float())
    assert model.position_mean[0, [0, 2]].abs().max() < 1e-5  # the root's place is centred
    assert (model.position_std > 0).all()


def test_training_lowers_the_bound():
    model = tiny()
    windows = walking_windows(16)
    model.fit_data(windows.numpy())
    loss = VaeLoss(model, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    before = model.score(windows).mean().item()
    for step in range(60):
        optimizer.zero_grad()
        values = loss.accumulate_gradients("vae", windows, torch.zeros(16, dtype=torch.long), step)
        optimizer.step()
    assert set(values) >= {"vae_loss", "nll", "kl", "elbo", "kl_weight", "kl_0", "kl_3"}
    assert model.score(windows).mean().item() < before - 0.1  # per coordinate, in nats


def test_kl_warm_up():
    model = tiny(kl_start=0.001, kl_warmup_steps=100)
    loss = VaeLoss(model, model)
    assert loss.kl_weight(0) == pytest.approx(0.001)
    assert loss.kl_weight(50) == pytest.approx(0.5005)
    assert loss.kl_weight(100) == loss.kl_weight(10_000) == 1.0


def test_class_conditioning_uses_the_label():
    model = tiny(class_conditional=True)
    x = walking_windows(2)
    scores = [model.score(x, torch.full((2,), k)) for k in range(3)]
    assert not torch.allclose(scores[0], scores[1])
    with pytest.raises(ConfigError, match="class conditional"):
        model.score(x)


@pytest.mark.parametrize("config, message", [
    ({"nodse": [4]}, "did you mean nodes"),
    ({"nodes": [4, 1], "latent_dims": [4, 4, 4, 4]}, "latent_dims"),
    ({"frames": 1}, "at least 2 frames"),
])
def test_bad_configs(config, message):
    with pytest.raises(ConfigError, match=message):
        HGVAEConfig.from_dict(config)


def test_frames_supported():
    assert tiny().frames_supported(16) is None
    assert "exactly 16 frames" in tiny().frames_supported(50)


def test_default_size_is_the_papers():
    model = create_model("hgvae", load_skeleton("h36m17"), num_classes=1).generator
    parameters = sum(p.numel() for p in model.parameters())
    assert model.nodes == [51, 24, 8, 1] and 2.0e6 < parameters < 3.5e6  # the paper: ~3.2M on 54 nodes
    assert np.isclose(model.config.kl_start, 0.001)


def test_posterior_energy_differentiates_the_likelihood_only():
    """Fisher's identity: the input gradient of log p(x) holds the latents at the posterior, so
    it is (x − reconstruction)/σ² and does not run through the encoder."""
    model = tiny()
    x = walking_windows(2).requires_grad_(True)
    (gradient,) = torch.autograd.grad(model.posterior_energy(x).sum(), x)
    _, _, reconstruction = model.terms(x, sample=False)
    nodes = model.to_nodes(x)
    sigma = model.log_sigma.exp()[:, None]
    expected_energy = (0.5 * ((nodes - reconstruction.detach()) / sigma).square()).flatten(1).sum(1) / model.elements
    (expected,) = torch.autograd.grad(expected_energy.sum(), x)
    torch.testing.assert_close(gradient, expected, atol=1e-6, rtol=1e-5)
    (through_encoder,) = torch.autograd.grad(model.terms(x, sample=False)[0].sum(), x)
    assert not torch.allclose(through_encoder / model.elements, gradient)


def _turned(positions: torch.Tensor, angle: float) -> torch.Tensor:
    from motiongen.models.hgvae import turn

    return turn(positions, torch.full(positions.shape[:-3], angle))


def test_canonical_facing_makes_the_input_independent_of_heading():
    model = tiny(canonical_facing=True).eval()
    windows = walking_windows()
    model.fit_data(windows.numpy())
    for angle in (0.7, -2.0, 3.0):
        torch.testing.assert_close(model.to_nodes(_turned(windows, angle)), model.to_nodes(windows),
                                   atol=1e-3, rtol=0)
    plain = tiny().eval()  # the old behaviour (and old checkpoints' default) sees the heading
    plain.fit_data(windows.numpy())
    assert not torch.allclose(plain.to_nodes(_turned(windows, 0.7)), plain.to_nodes(windows), atol=1e-3)
    assert HGVAEConfig().canonical_facing is False


def test_the_start_pose_faces_the_window_from_its_observed_pairs():
    model = tiny(canonical_facing=True)
    windows = walking_windows(2)
    model.fit_data(windows.numpy())
    turned = _turned(windows, 1.1).numpy()
    missing = np.zeros(turned.shape, dtype=bool)
    pose = model.start_pose(turned, missing)
    # the canonical mean pose turned back to each window's heading: its own left-right vector
    # points like the window's
    left, right = model.left_joints.numpy(), model.right_joints.numpy()
    window_lateral = (turned[:, :, left] - turned[:, :, right]).mean(axis=(1, 2))
    pose_lateral = (pose[:, left] - pose[:, right]).mean(axis=1)
    angle = lambda v: np.arctan2(v[:, 2], v[:, 0])  # noqa: E731
    np.testing.assert_allclose(angle(pose_lateral), angle(window_lateral), atol=1e-4)
    # hiding one side of a pair leaves the heading to the other pairs
    missing[:, :, left[0]] = True
    hidden = model.start_pose(turned, missing)
    np.testing.assert_allclose(angle((hidden[:, left] - hidden[:, right]).mean(axis=1)), angle(window_lateral),
                               atol=0.05)


def test_canonical_facing_needs_symmetry_pairs():
    with pytest.raises(ConfigError, match="symmetry"):
        HGVAE(HGVAEConfig(**TINY, canonical_facing=True), joints=17, num_classes=3)
