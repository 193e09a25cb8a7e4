"""The CUDA paths, which CI (CPU only) cannot reach: every model trains a few steps on the GPU in
fp32 and under bf16 autocast, compiled too, its checkpoint loads on the CPU, and samples drawn on
the GPU are the CPU's for the same seeds (latents and noise come from CPU generators; only
TF32 convolutions and summation order differ). Skipped without a GPU; `benchmarks/device_check.sh`
runs this module first on a lent one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import _tiny
from motiongen.inference.sampling import generate_features
from motiongen.training import load_checkpoint, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device (benchmarks/device_check.sh runs these on a lent GPU)")

CLASSIFIER = {"action_classifier_weight": 1.0, "classifier_rejects_fakes": True}
CONFIGS = {  # small, with the options the CMU recipes use, so their GPU code runs too
    "kinetic-gan": {"latent_dim": 8, "w_dim": 8, "mapping_depth": 2, "generator_channels": [8, 4],
                    "critic_channels": [4, 8], "critic_frame_changes": True, "critic_augment": "shift",
                    "classifier_width": 8, **CLASSIFIER},
    "csgn": {"latent_channels": 4, "class_channels": 4, "channels": [8] * 6, "critic_channels": [8] * 6,
             "mode_seeking_weight": 0.2, "critic_class_projection": True, "critic_augment": "shift",
             "classifier_width": 8, **CLASSIFIER},
    "larnet": {"hidden": 8, "width": 8, "latent_dim": 4, "noise_dim": 2, "action_dim": 4, **CLASSIFIER},
    "hgvae": {"nodes": [6, 2, 1], "latent_dims": [4, 4, 4, 8], "hidden": 16},
}
GENERATORS = ("kinetic-gan", "csgn", "larnet")


def _dataset():
    return _tiny.synthetic_dataset(windows=16, frames=16, actions=("walking", "jumping"))


def _train(tmp_path, model, steps=3, **options):
    settings = dict(batch_size=4, n_critic=2, log_every_steps=1, snapshot_every_steps=100, seed=3,
                    balance_actions=1.0, handle_signals=False, model_config=CONFIGS[model])
    settings.update(options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(model=model, dataset=_dataset(), run_dir=tmp_path / model, total_steps=steps, **settings)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("model", sorted(CONFIGS))
def test_trains_on_the_gpu_and_loads_on_the_cpu(tmp_path, model, precision):
    result = _train(tmp_path, model, device="cuda", precision=precision)
    assert result.step == 3 and result.config["device"].startswith("cuda")
    assert result.config["precision"] == precision
    assert np.isfinite(list(result.losses.values())).all(), result.losses
    checkpoint = load_checkpoint(result.checkpoint)
    assert all(p.device.type == "cpu" for p in checkpoint.pair.generator.parameters())


@pytest.mark.parametrize("model", ["kinetic-gan", "csgn"])
def test_compiled_training_runs_on_the_gpu(tmp_path, model):
    result = _train(tmp_path, model, device="cuda", precision="bf16", compile=True)
    assert result.step == 3 and np.isfinite(list(result.losses.values())).all(), result.losses


@pytest.mark.parametrize("model", GENERATORS)
def test_gpu_samples_are_the_cpus(tmp_path, model):
    result = _train(tmp_path, model, device="cpu")
    generator = load_checkpoint(result.checkpoint).pair.generator
    seeds = [7, 8, 9]
    on_cpu = generate_features(generator, 1, 16, seeds, device="cpu")
    on_gpu = generate_features(generator, 1, 16, seeds, device="cuda")
    # Features lie in [-1, 1]; a wrong latent, label or noise stream moves them by tenths.
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-2)
    alone = generate_features(generator, 1, 16, seeds[1:2], device="cuda")
    np.testing.assert_allclose(alone[0], on_gpu[1], atol=1e-4)  # a sample does not depend on its batch


def test_a_gpu_run_resumes_on_the_gpu(tmp_path):
    first = _train(tmp_path, "kinetic-gan", steps=2, device="cuda", snapshot_every_steps=1)
    resumed = _train(tmp_path, "kinetic-gan", steps=4, device="cuda", resume=True)
    assert first.step == 2 and resumed.step == 4
    assert np.isfinite(list(resumed.losses.values())).all()
