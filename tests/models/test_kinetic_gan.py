"""Kinetic-GAN (motiongen.models.kinetic_gan) and the shared layers it uses, at tiny size on the CPU:
shapes, gradients (with WGAN-GP's double backward), determinism by seed, truncation, the paper's
architectural rules, config errors, checkpoints. The fused fast paths are checked against direct
re-implementations of the reference's block order."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from motiongen.errors import ConfigError
from motiongen.models.kinetic_gan import KineticGANConfig, build
from motiongen.nn.graph import graph_pyramid
from motiongen.nn.layers import GraphConv, NoiseInjection, add_repeated, interpolate_frames, repeat_frames
from motiongen.skeletons import load_skeleton

TINY = dict(frames=16, latent_dim=16, w_dim=16, mapping_depth=2, class_embedding_dim=4,
            generator_channels=(16, 8, 8, 4), critic_channels=(4, 8, 8, 16))
CLASSES = 3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: thread start-up costs more than it saves, and on a shared CPU two spinning
    threads made these tests ~3× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=["ntu25", "cmu31"])
def skeleton(request):
    return load_skeleton(request.param)


def tiny_pair(skeleton, **overrides):
    torch.manual_seed(0)
    return build(skeleton, CLASSES, **{**TINY, **overrides})


def randomise_noise_weights(generator) -> None:
    for module in generator.modules():
        if isinstance(module, NoiseInjection):
            nn.init.uniform_(module.weight, 0.2, 0.5)


# --- shapes and gradients --------------------------------------------------------------------

def test_shapes(skeleton):
    pair = tiny_pair(skeleton)
    assert pair.kind == "kinetic-gan" and isinstance(pair.config, KineticGANConfig)
    latent = pair.generator.make_latent(range(5), 16)
    labels = torch.tensor([0, 1, 2, 0, 1])
    motion = pair.generator(latent, labels)
    assert motion.shape == (5, 3, 16, skeleton.joint_count)
    assert motion.abs().max() <= 1  # tanh
    assert pair.critic(motion, labels).shape == (5,)
    assert pair.config_dict()["generator_channels"] == (16, 8, 8, 4)


def test_blocks_follow_the_pyramid(skeleton):
    pyramid = graph_pyramid(skeleton)
    generator = tiny_pair(skeleton).generator
    frames = [block.plan.frames_out for block in generator.blocks]
    vertices = [block.gcn.output_vertices for block in generator.blocks]
    assert frames[:2] == [1, 16 // 16] and frames[-1] == 16
    assert all(b in (a, 2 * a) for a, b in zip(frames[1:], frames[2:]))
    assert vertices[0] == 1 and vertices[-1] == skeleton.joint_count
    assert sorted(set(vertices)) == [level.graph.joint_count for level in pyramid]
    assert len(generator.blocks) == 2 * len(pyramid) - 1
    assert [block.plan.out_channels for block in generator.blocks][-1] == 3


def test_backward_and_gradient_penalty(skeleton):
    pair = tiny_pair(skeleton)
    generator, critic = pair.generator, pair.critic
    labels = torch.tensor([0, 2, 1, 2])
    fake = generator(generator.make_latent(range(4), 16), labels)
    (-critic(fake, labels).mean()).backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    critic.zero_grad()
    real = torch.rand_like(fake) * 2 - 1
    alpha = torch.rand(4, 1, 1, 1)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    (gradient,) = torch.autograd.grad(critic(mixed, labels).sum(), mixed, create_graph=True)
    penalty = ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
    loss = critic(fake.detach(), labels).mean() - critic(real, labels).mean() + 10 * penalty
    loss.backward()
    for name, parameter in critic.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert critic.blocks[1].tcn.weight.grad.abs().sum() > 0


# --- determinism -------------------------------------------------------------------------------

def test_samples_depend_only_on_their_seed(skeleton):
    generator = tiny_pair(skeleton).generator
    randomise_noise_weights(generator)
    generator.eval()
    labels = torch.tensor([2, 0, 1, 1])
    latent = generator.make_latent(range(100, 104), 16)
    assert torch.equal(latent[2], generator.make_latent([102], 16)[0])
    with torch.no_grad():
        together = generator(latent, labels)
        alone = torch.cat([generator(generator.make_latent([100 + k], 16), labels[k:k + 1]) for k in range(4)])
        again = generator(generator.make_latent(range(100, 104), 16), labels)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    assert torch.equal(together, again)
    # the noise is part of the latent: other noise, other motion
    other = latent.clone()
    other[:, 16:] = generator.make_latent(range(200, 204), 16)[:, 16:]
    with torch.no_grad():
        assert not torch.allclose(generator(other, labels), together)


# --- truncation --------------------------------------------------------------------------------

def test_truncation(skeleton):
    generator = tiny_pair(skeleton).generator
    randomise_noise_weights(generator)
    generator.eval()
    latent = generator.make_latent(range(6), 16)
    latent[:, 16:] = latent[0, 16:]  # same noise everywhere: only z differs
    labels = torch.tensor([1, 1, 1, 2, 2, 2])
    with torch.no_grad():
        plain = generator(latent, labels)
        with pytest.raises(ConfigError, match="compute_truncation_centres"):
            generator(latent, labels, truncation=0.5)
        centres = generator.compute_truncation_centres(samples_per_class=64).clone()
        assert centres.shape == (CLASSES, 16) and "w_centres" in generator.state_dict()
        assert torch.equal(generator.compute_truncation_centres(samples_per_class=64), centres)  # seeded
        assert torch.equal(generator(latent, labels, truncation=1.0), plain)
        centre = generator(latent, labels, truncation=0.0)
        half = generator(latent, labels, truncation=0.5)
    torch.testing.assert_close(centre[:3], centre[:1].expand(3, -1, -1, -1), atol=1e-6, rtol=0)
    torch.testing.assert_close(centre[3:], centre[3:4].expand(3, -1, -1, -1), atol=1e-6, rtol=0)
    assert not torch.allclose(centre[0], centre[3])
    assert not torch.allclose(half, plain) and not torch.allclose(half, centre)


# --- the paper's architectural rules -------------------------------------------------------------

def test_edge_importance_starts_at_one_and_learns(skeleton):
    pair = tiny_pair(skeleton)
    convs = [m for m in [*pair.generator.modules(), *pair.critic.modules()] if isinstance(m, GraphConv)]
    assert convs and all(conv.edge_importance is not None for conv in convs)
    for conv in convs:
        assert torch.equal(conv.edge_importance, torch.ones_like(conv.partitions))
        assert conv.edge_importance.requires_grad
    labels = torch.tensor([0, 1])
    pair.critic(pair.generator(pair.generator.make_latent(range(2), 16), labels), labels).sum().backward()
    learning = [conv.edge_importance.grad.abs().sum() > 0 for conv in convs if conv.partitions.shape[1] > 1]
    assert all(learning)
    assert build(skeleton, CLASSES, **TINY, edge_importance=False).generator.blocks[-1].gcn.edge_importance is None


def test_noise_weights_start_at_zero(skeleton):
    generator = tiny_pair(skeleton).generator
    noises = [m for m in generator.modules() if isinstance(m, NoiseInjection)]
    assert len(noises) == len(generator.blocks)
    assert all(torch.equal(n.weight, torch.zeros_like(n.weight)) and n.weight.requires_grad for n in noises)
    quiet = build(skeleton, CLASSES, **TINY, noise_injection=False).generator
    assert quiet.latent_size == 16 and not any(isinstance(m, NoiseInjection) for m in quiet.modules())


def test_batch_norm_only_without_spatial_upsampling(skeleton):
    pair = tiny_pair(skeleton)
    norms = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
    for index, block in enumerate(pair.generator.blocks):
        has_norm = any(isinstance(m, norms) for m in block.modules())
        upsamples = block.gcn.unpool is not None
        assert upsamples == block.plan.resample
        assert has_norm == (not upsamples and index > 0), index  # the first block has none, as the reference
    assert any(block.gcn.unpool is not None for block in pair.generator.blocks)
    assert not any(isinstance(m, norms) for m in pair.critic.modules())
    no_norm = build(skeleton, CLASSES, **TINY, batch_norm=False).generator
    assert not any(isinstance(m, norms) for m in no_norm.modules())


# --- config ----------------------------------------------------------------------------------

def test_config_errors(skeleton):
    with pytest.raises(ConfigError, match="multiple of 16"):
        build(skeleton, CLASSES, **{**TINY, "frames": 40})
    with pytest.raises(ConfigError, match="multiple of 16"):
        KineticGANConfig(frames=0)
    with pytest.raises(ConfigError, match="latent_size_typo"):
        build(skeleton, CLASSES, **TINY, latent_size_typo=3)
    with pytest.raises(ConfigError, match="generator_channels"):
        build(skeleton, CLASSES, **{**TINY, "generator_channels": (8,) * 20})
    assert KineticGANConfig(generator_channels=[8, 4]).generator_channels == (8, 4)  # lists from JSON
    with pytest.raises(ConfigError, match="temporal_upsampling must be one of nearest, linear, got 'cubic'"):
        KineticGANConfig(temporal_upsampling="cubic")


def test_frames_supported(skeleton):
    generator = tiny_pair(skeleton).generator
    assert generator.frames_supported(16) is None
    message = generator.frames_supported(1024)
    assert "generates 16 frames" in message and "CSGN" in message
    with pytest.raises(ConfigError, match="generates 16 frames"):
        generator.make_latent([0], 1024)


# --- checkpoints, precision, compile ----------------------------------------------------------------

def test_safetensors_round_trip(skeleton, tmp_path):
    pair = tiny_pair(skeleton)
    randomise_noise_weights(pair.generator)
    pair.generator.compute_truncation_centres(samples_per_class=16)
    labels = torch.tensor([0, 1, 2])
    motion = pair.generator(pair.generator.make_latent(range(3), 16), labels)  # train mode: moves BN statistics
    save_file(pair.generator.state_dict(), tmp_path / "g.safetensors")
    save_file(pair.critic.state_dict(), tmp_path / "d.safetensors")
    torch.manual_seed(1)
    fresh = build(skeleton, CLASSES, **pair.config_dict())
    fresh.generator.load_state_dict(load_file(tmp_path / "g.safetensors"))
    fresh.critic.load_state_dict(load_file(tmp_path / "d.safetensors"))
    assert fresh.generator.centres_ready
    latent = pair.generator.make_latent(range(3), 16)
    for module in (pair.generator, fresh.generator):
        module.eval()
    with torch.no_grad():
        assert torch.equal(pair.generator(latent, labels, 0.7), fresh.generator(latent, labels, 0.7))
        assert torch.equal(pair.critic(motion, labels), fresh.critic(motion, labels))


def test_bfloat16_autocast(skeleton):
    pair = tiny_pair(skeleton)
    labels = torch.tensor([0, 1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        motion = pair.generator(pair.generator.make_latent(range(2), 16), labels)
        score = pair.critic(motion, labels)
    assert torch.isfinite(motion.float()).all() and torch.isfinite(score.float()).all()


def test_compiles_without_graph_breaks():
    pair = tiny_pair(load_skeleton("cmu31"))
    generator, critic = pair.generator.eval(), pair.critic
    generator.compute_truncation_centres(samples_per_class=4)
    latent, labels = generator.make_latent(range(2), 16), torch.tensor([0, 2])
    torch._dynamo.reset()
    compiled_g = torch.compile(generator, backend="eager", fullgraph=True)
    compiled_d = torch.compile(critic, backend="eager", fullgraph=True)
    with torch.no_grad():
        motion = compiled_g(latent, labels, 0.9)
        torch.testing.assert_close(motion, generator(latent, labels, 0.9))
        torch.testing.assert_close(compiled_d(motion, labels), critic(motion, labels))


def test_paper_size_parameter_count():
    """Kinetic-GAN at the NTU-60 size of the paper (25 joints, T = 64, latent 512, mapping 4)."""
    pair = build(load_skeleton("ntu25"), 60)
    generator = sum(p.numel() for p in pair.generator.parameters())
    critic = sum(p.numel() for p in pair.critic.parameters())
    sizes = "→".join(str(block.gcn.output_vertices) for block in pair.generator.blocks)
    print(f"\nKinetic-GAN ntu25/60 classes: generator {generator / 1e6:.2f}M, critic {critic / 1e6:.2f}M "
          f"parameters; generator joints per block {sizes}")
    assert 2e6 < generator < 8e6 and 2e6 < critic < 10e6


# --- fused fast paths against the reference's order of operations ---------------------------------

def reference_graph_conv(conv: GraphConv, x: torch.Tensor) -> torch.Tensor:
    """ST-GCN as written: unpool, 1×1 conv to K·C_out, einsum with A ⊙ M, then select."""
    if conv.unpool is not None:
        x = x @ conv.unpool
    h = torch.einsum("ock,bctv->bkotv", conv.weight[:, :, 0, :], x)
    y = torch.einsum("bkotv,kvw->botw", h, conv.partitions * conv.edge_importance)
    return y if conv.select is None else y[..., conv.select]


def test_graph_conv_matches_stgcn():
    torch.manual_seed(0)
    pyramid = graph_pyramid(load_skeleton("ntu25"))
    fine, coarse = pyramid[-1], pyramid[-2]
    cases = [GraphConv(5, 7, fine.graph.partitions),
             GraphConv(5, 7, fine.graph.partitions, upsample=coarse.upsample),
             GraphConv(5, 7, fine.graph.partitions, select=coarse.select)]
    for conv in cases:
        nn.init.uniform_(conv.edge_importance, 0.5, 1.5)
        x = torch.randn(2, 5, 4, conv.input_vertices)
        torch.testing.assert_close(conv(x), reference_graph_conv(conv, x), atol=1e-5, rtol=1e-5)
    # unpooling: a kept joint copies itself, a new one is the mean of its coarse neighbours
    upsample = torch.as_tensor(coarse.upsample)
    assert torch.allclose(upsample.sum(1), torch.ones(fine.graph.joint_count))


def test_temporal_helpers():
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(repeat_frames(x, 4), F.interpolate(x, size=(16, 5)))
    y = torch.randn(2, 3, 8, 5)
    torch.testing.assert_close(add_repeated(y, x, 2), y + F.interpolate(x, size=(8, 5)))


def test_linear_frames_interpolate_at_frame_centres():
    x = torch.randn(2, 3, 4, 5)
    up = interpolate_frames(x, 2)
    # output frame j sits at input time (j + 0.5) / 2 − 0.5; the edges hold the end frames
    times = ((torch.arange(8) + 0.5) / 2 - 0.5).clamp(0, 3)
    low = times.floor().long()
    high = (low + 1).clamp(max=3)
    weight = (times - low)[None, None, :, None]
    torch.testing.assert_close(up, x[:, :, low] * (1 - weight) + x[:, :, high] * weight)
    assert interpolate_frames(x, 1) is x
    one = torch.randn(2, 3, 1, 5)  # the first resize grows one frame: constant, as nearest
    torch.testing.assert_close(interpolate_frames(one, 2), repeat_frames(one, 2))


def reference_generator_block(block, x, noise, linear=False):
    """Kinetic-GAN's st_gcn (generator): unpool → resize → residual, gcn → tcn (+BN) → + → noise → act.
    ``linear``: the resize interpolates, and the residual path is resized after its batch norm (as
    the block does; the main path's graph convolution runs on the resized frames here)."""
    if block.gcn.unpool is not None:
        x = x @ block.gcn.unpool
    short = x
    size = (block.plan.frames_out, x.shape[-1])
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False) if linear else F.interpolate(x, size=size)
    y = block.tcn(torch.einsum("bkotv,kvw->botw", torch.einsum("ock,bctv->bkotv", block.gcn.weight[:, :, 0], x),
                               block.gcn.partitions * block.gcn.edge_importance))
    if block.norm is not None:
        y = block.norm(y)
    if block.plan.residual and linear:
        shortcut = short if block.residual is None else block.residual(short)
        shortcut = shortcut if block.residual_norm is None else block.residual_norm(shortcut)
        y = y + F.interpolate(shortcut, size=size, mode="bilinear", align_corners=False)
    elif block.plan.residual:
        shortcut = x if block.residual is None else block.residual(x)
        y = y + (shortcut if block.residual_norm is None else block.residual_norm(shortcut))
    y = block.noise(y, noise)
    return torch.tanh(y) if block.final else F.leaky_relu(y, 0.2)


def reference_critic_block(block, x):
    """Kinetic-GAN's st_gcn (critic): residual, gcn → tcn → + → select joints → nearest resize → act."""
    tcn = F.conv2d(reference_graph_conv(_without_select(block.gcn), x), block.tcn.weight, block.tcn.bias,
                   padding=(1, 0))
    if block.plan.residual:
        tcn = tcn + (x if block.residual is None else F.conv2d(x, block.residual.weight, block.residual.bias))
    if block.gcn.select is not None:
        tcn = tcn[..., block.gcn.select]
    return F.leaky_relu(F.interpolate(tcn, size=(block.plan.frames_out, tcn.shape[-1])), 0.2)


class _without_select:
    def __init__(self, conv):
        self.__dict__.update(unpool=conv.unpool, weight=conv.weight, partitions=conv.partitions,
                             edge_importance=conv.edge_importance, select=None)


@pytest.mark.parametrize("upsampling", ["nearest", "linear"])
@pytest.mark.parametrize("train", [True, False])
def test_blocks_match_reference_order(skeleton, train, upsampling):
    pair = tiny_pair(skeleton, temporal_upsampling=upsampling)
    randomise_noise_weights(pair.generator)
    pair.generator.train(train)
    latent = pair.generator.make_latent(range(3), 16)
    x = pair.generator.mapped(latent[:, :16], torch.tensor([0, 1, 2]))[:, :, None, None]
    offset = 16
    with torch.no_grad():
        for block in pair.generator.blocks:
            frames, vertices = block.noise_shape
            noise = latent[:, offset:offset + frames * vertices].view(3, 1, frames, vertices)
            offset += frames * vertices
            expected = reference_generator_block(block, x, noise, linear=upsampling == "linear")
            x = block(x, noise)
            torch.testing.assert_close(x, expected, atol=1e-5, rtol=1e-4)
        classes = pair.critic.class_embedding(torch.tensor([0, 1, 2]))[:, :, None, None]
        x = torch.cat([x, classes.expand(-1, -1, *x.shape[2:])], 1)
        for block in pair.critic.blocks:
            expected = reference_critic_block(block, x)
            x = block(x)
            torch.testing.assert_close(x, expected, atol=1e-5, rtol=1e-4)
