"""The ST-GCN recogniser at tiny size: shapes, what its input ignores (where the window starts)
and what it keeps (height), deterministic features in eval mode, config checks, checkpoints that
carry and check a SHA-256 of their weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiongen.errors import CheckpointError, ConfigError
from motiongen.models import create_model
from motiongen.models.recognizer import INPUT_CHANNELS
from motiongen.skeletons import load_skeleton

TINY = {"frames": 16, "channels": [8, 16], "strides": [2, 1], "temporal_kernel": 3}


@pytest.fixture()
def pair():
    torch.manual_seed(0)
    return create_model("recognizer", load_skeleton("ntu25"), num_classes=3, **TINY)


def _windows(count=4, frames=16, joints=25, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(count, 1, joints, 3)) + np.array([0.0, 1.0, 0.0])
    drift = np.cumsum(rng.normal(scale=0.01, size=(count, frames, joints, 3)), axis=1)
    return torch.as_tensor(base + drift, dtype=torch.float32)


def test_shapes_and_feature_size(pair):
    model = pair.generator.eval()
    x = _windows()
    assert model(x).shape == (4, 3)
    assert model.features(x).shape == (4, 16) and model.feature_dim == 16
    assert model.channels(x).shape == (4, INPUT_CHANNELS, 16, 25)
    assert pair.critic is None and pair.kind == "recognizer"


def test_features_ignore_where_the_window_starts_but_not_height(pair):
    model = pair.generator.eval()
    x = _windows()
    moved = x + torch.tensor([3.0, 0.0, -2.0])
    assert torch.allclose(model.features(x), model.features(moved), atol=1e-5)
    raised = x + torch.tensor([0.0, 0.5, 0.0])
    assert not torch.allclose(model.features(x), model.features(raised), atol=1e-3)


def test_eval_features_are_deterministic_and_batch_independent(pair):
    model = pair.generator
    model.train()
    model(_windows(8))  # batch norm statistics move in training mode
    model.eval()
    x = _windows(5, seed=3)
    together = model.features(x)
    alone = torch.cat([model.features(x[k:k + 1]) for k in range(5)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.equal(model.features(x), together)


def test_fit_data_stores_input_statistics(pair):
    model = pair.generator
    windows = _windows(6).numpy()
    model.fit_data(windows)
    channels = model.channels(torch.as_tensor(windows, dtype=torch.float64))
    assert torch.allclose(model.input_mean.double(), channels.mean(dim=(0, 2)).unsqueeze(1), atol=1e-5)
    assert (model.input_std > 0).all()


def test_frames_and_input_checks(pair):
    model = pair.generator
    assert model.frames_supported(16) is None
    assert "16-frame" in model.frames_supported(32)
    with pytest.raises(ConfigError, match="expected windows"):
        model.features(torch.zeros(2, 16, 24, 3))


@pytest.mark.parametrize("config, message", [
    ({"channels": [8, 8], "strides": [1]}, "same"),
    ({"strides": [3, 1], "channels": [8, 8]}, "strides"),
    ({"temporal_kernel": 4}, "odd"),
    ({"dropout": 1.0}, "dropout"),
    ({"chanels": [8]}, "did you mean channels"),
])
def test_bad_configs_are_config_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        create_model("recognizer", load_skeleton("ntu25"), num_classes=3, **config)


def test_one_action_is_not_enough():
    with pytest.raises(ConfigError, match="two actions"):
        create_model("recognizer", load_skeleton("ntu25"), num_classes=1)


def test_checkpoint_round_trip_with_sha256(pair, tmp_path):
    from motiongen.training.checkpoint import load_checkpoint, save_checkpoint, weights_sha256

    skeleton = load_skeleton("ntu25")
    meta = {"skeleton": skeleton, "actions": ["a", "b", "c"], "normalization": None, "fps": 30.0, "frames": 16,
            "step": 7}
    path = save_checkpoint(tmp_path / "r.safetensors", pair, None, meta)
    loaded = load_checkpoint(path)
    assert loaded.kind == "recognizer" and loaded.meta["weights_sha256"] == weights_sha256(
        {k: v for k, v in __import__("safetensors.torch", fromlist=["load_file"]).load_file(str(path)).items()})
    x = _windows()
    assert torch.allclose(loaded.pair.generator.features(x), pair.generator.eval().features(x), atol=1e-6)

    # one weight changed in place (same size, same header): refused
    data = bytearray(path.read_bytes())
    header = int.from_bytes(data[:8], "little")
    data[8 + header + 16] ^= 0xFF
    altered = tmp_path / "altered.safetensors"
    altered.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(altered)
