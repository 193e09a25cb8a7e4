"""Checkpoints (DESIGN §7): safetensors weights + JSON metadata, resume state beside them loaded
with weights_only=True, one-line CheckpointErrors for everything that can be wrong."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import _tiny
from motiongen.errors import CheckpointError
from motiongen.models import create_model
from motiongen.training import checkpoint as ckpt
from motiongen.training.ema import make_ema

KGAN_TINY = {"frames": 16, "latent_dim": 8, "w_dim": 8, "mapping_depth": 2, "generator_channels": [8, 4],
             "critic_channels": [4, 8]}


def _meta(dataset, step=7):
    return {"skeleton": dataset.skeleton, "actions": list(dataset.actions), "normalization": dataset.normalization,
            "fps": dataset.fps, "frames": dataset.frames, "step": step, "training": {"note": "test"}}


def _perturbed(pair):
    with torch.no_grad():
        for p in pair.generator.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return pair


def _one_line(error: CheckpointError, *fragments: str) -> None:
    message = str(error)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("kind, config", [(_tiny.TINY, {}), ("kinetic-gan", KGAN_TINY)])
def test_save_load_generate_identical(tmp_path, kind, config):
    dataset = _tiny.synthetic_dataset(frames=16)
    torch.manual_seed(0)
    pair = _perturbed(create_model(kind, dataset.skeleton, num_classes=len(dataset.actions), **config))
    ema = make_ema(pair.generator)
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(0.5)  # the EMA differs from the raw generator
    if hasattr(ema, "compute_truncation_centres"):
        ema.compute_truncation_centres()
    path = ckpt.save_checkpoint(tmp_path / "model.safetensors", pair, ema, _meta(dataset))

    loaded = ckpt.load_checkpoint(path)
    raw = ckpt.load_checkpoint(path, ema=False)
    latent = pair.generator.make_latent([3, 4, 5], dataset.frames)
    labels = torch.tensor([0, 1, 0])
    pair.generator.eval()
    for module, reloaded, truncations in ((ema, loaded.pair.generator, (1.0, 0.9)),
                                          (pair.generator, raw.pair.generator, (1.0,))):
        for truncation in truncations:  # the centres were computed for the EMA generator only
            torch.manual_seed(1)
            expected = module(latent, labels, truncation)
            torch.manual_seed(1)
            assert torch.equal(reloaded(latent, labels, truncation), expected)
    features = torch.randn(2, 3, dataset.frames, dataset.skeleton.joint_count)
    assert torch.equal(loaded.pair.critic(features, labels[:2]), pair.critic.eval()(features, labels[:2]))


def _saved_kinetic_gan(tmp_path):
    """A tiny Kinetic-GAN saved as a training checkpoint whose moving average differs from its raw
    generator: (dataset, pair, path)."""
    dataset = _tiny.synthetic_dataset(frames=16)
    torch.manual_seed(0)
    pair = _perturbed(create_model("kinetic-gan", dataset.skeleton, num_classes=len(dataset.actions), **KGAN_TINY))
    ema = make_ema(pair.generator)
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(0.5)
    full = ckpt.save_checkpoint(tmp_path / "model.safetensors", pair, ema, _meta(dataset))
    return dataset, pair, full


def test_inference_export_keeps_what_sampling_needs_only(tmp_path):
    dataset, pair, full = _saved_kinetic_gan(tmp_path)
    small = ckpt.export_for_inference(full, tmp_path / "shipped.safetensors", shipped_as="tiny")

    meta = ckpt.read_metadata(small)
    assert meta["inference_only"] is True and meta["shipped_as"] == "tiny"
    assert meta["weights_sha256"] != ckpt.read_metadata(full)["weights_sha256"]
    assert small.stat().st_size < 0.5 * full.stat().st_size  # no critic, no raw generator
    loaded = ckpt.load_checkpoint(small)
    assert loaded.pair.critic is None and loaded.actions == list(dataset.actions)
    latent = pair.generator.make_latent([3, 4], dataset.frames)
    labels = torch.tensor([0, 1])
    assert torch.equal(loaded.pair.generator(latent, labels), ckpt.load_checkpoint(full).pair.generator(latent, labels))
    with pytest.raises(CheckpointError) as raised:
        ckpt.load_checkpoint(small, ema=False)
    _one_line(raised.value, "inference-only")
    # a sampling setting can be fixed at export; one the model lacks or rejects cannot
    tuned = ckpt.export_for_inference(full, tmp_path / "tuned.safetensors", {"truncation": 0.5})
    assert ckpt.load_checkpoint(tuned).config["truncation"] == 0.5
    for settings, message in (({"psi": 0.5}, "no setting psi"), ({"truncation": 3.0}, "truncation")):
        with pytest.raises(CheckpointError) as raised:
            ckpt.export_for_inference(full, tmp_path / "bad.safetensors", settings)
        _one_line(raised.value, message)
    assert not (tmp_path / "bad.safetensors").exists()


def test_an_export_with_its_critic_keeps_every_network_for_fine_tuning(tmp_path):
    dataset, pair, full = _saved_kinetic_gan(tmp_path)
    kept = ckpt.export_for_inference(full, tmp_path / "shipped.safetensors", {"truncation": 0.8}, with_critic=True,
                                     shipped_as="tiny")

    meta = ckpt.read_metadata(kept)
    assert meta["fine_tunable"] is True and "inference_only" not in meta and meta["shipped_as"] == "tiny"
    assert meta["config"]["truncation"] == 0.8
    with safe_open(str(full), framework="pt") as a, safe_open(str(kept), framework="pt") as b:
        assert set(a.keys()) == set(b.keys())
        assert all(torch.equal(a.get_tensor(key), b.get_tensor(key)) for key in a.keys())
    features = torch.randn(2, 3, dataset.frames, dataset.skeleton.joint_count)
    labels = torch.tensor([0, 1])
    for ema_weights in (True, False):  # sampling's average and the raw generator the critic trained against
        reloaded, original = ckpt.load_checkpoint(kept, ema=ema_weights), ckpt.load_checkpoint(full, ema=ema_weights)
        latent = pair.generator.make_latent([3, 4], dataset.frames)
        assert torch.equal(reloaded.pair.generator(latent, labels, 1.0), original.pair.generator(latent, labels, 1.0))
        assert torch.equal(reloaded.pair.critic(features, labels), original.pair.critic(features, labels))
    small = ckpt.export_for_inference(full, tmp_path / "small.safetensors")
    with pytest.raises(CheckpointError) as raised:  # an inference-only file has no critic left to keep
        ckpt.export_for_inference(small, tmp_path / "bad.safetensors", with_critic=True)
    _one_line(raised.value, "small.safetensors", "no critic")
    assert not (tmp_path / "bad.safetensors").exists()


def test_an_average_of_snapshots_is_the_mean_of_their_moving_averages(tmp_path):
    dataset = _tiny.synthetic_dataset(frames=16)
    snapshots = []
    for seed in (0, 1, 2):  # three "snapshots" of one model
        torch.manual_seed(seed)
        pair = _perturbed(create_model("kinetic-gan", dataset.skeleton, num_classes=len(dataset.actions),
                                       **KGAN_TINY))
        snapshots.append(ckpt.save_checkpoint(tmp_path / f"step-{seed}.safetensors", pair, make_ema(pair.generator),
                                              _meta(dataset, step=seed)))
    averaged = ckpt.export_average(snapshots, tmp_path / "averaged.safetensors")
    meta = ckpt.read_metadata(averaged)
    assert meta["inference_only"] is True and [e["step"] for e in meta["averaged_from"]] == [0, 1, 2]
    generator = ckpt.load_checkpoint(averaged).pair.generator
    states = [ckpt.load_checkpoint(p).pair.generator.state_dict() for p in snapshots]
    for name, value in generator.state_dict().items():
        if name == "w_centres":  # recomputed on the averaged mapping network
            assert generator.centres_ready and not torch.allclose(value, sum(s[name] for s in states) / 3)
        elif value.is_floating_point():
            torch.testing.assert_close(value, sum(s[name] for s in states) / 3, atol=1e-6, rtol=1e-6)
        else:
            assert torch.equal(value, states[-1][name])
    torch.manual_seed(5)
    other = create_model("kinetic-gan", dataset.skeleton, num_classes=len(dataset.actions),
                         **{**KGAN_TINY, "latent_dim": 4})
    stranger = ckpt.save_checkpoint(tmp_path / "other.safetensors", other, None, _meta(dataset))
    with pytest.raises(CheckpointError) as raised:
        ckpt.export_average([snapshots[0], stranger], tmp_path / "bad.safetensors")
    _one_line(raised.value, "other.safetensors", "not the same model")
    assert not (tmp_path / "bad.safetensors").exists()


def test_metadata_round_trip(tmp_path, synthetic):
    torch.manual_seed(0)
    pair = create_model(_tiny.TINY, synthetic.skeleton, num_classes=2, hidden=6)
    ckpt.save_checkpoint(tmp_path / "last.safetensors", pair, make_ema(pair.generator), _meta(synthetic, step=42))
    loaded = ckpt.load_checkpoint(tmp_path)  # a run folder means its last.safetensors
    assert loaded.kind == _tiny.TINY and loaded.step == 42
    assert loaded.config == {"latent_channels": 4, "hidden": 6}
    assert loaded.actions == list(synthetic.actions)
    assert loaded.fps == synthetic.fps and loaded.frames == synthetic.frames
    assert loaded.normalization == synthetic.normalization.to_dict()
    assert loaded.skeleton.joint_names == synthetic.skeleton.joint_names
    assert np.array_equal(loaded.skeleton.offsets, synthetic.skeleton.offsets)  # exact, not 9 digits
    assert np.array_equal(loaded.skeleton.parents, synthetic.skeleton.parents)
    meta = loaded.meta
    assert meta["format_version"] == ckpt.FORMAT_VERSION
    assert set(meta["versions"]) == {"motiongen", "torch"} and meta["created"]
    assert meta["training"] == {"note": "test"}
    from motiongen.data import Normalization

    restored = Normalization.from_dict(loaded.normalization)
    assert np.array_equal(restored.centre, synthetic.normalization.centre)


def test_resume_file_loads_with_weights_only(tmp_path, synthetic):
    from motiongen.training import train

    train(model=_tiny.TINY, dataset=synthetic, run_dir=tmp_path, total_steps=2, batch_size=4, n_critic=1,
          device="cpu", handle_signals=False)
    resume_path = tmp_path / "last.resume.pt"
    state = torch.load(resume_path, weights_only=True)  # no arbitrary unpickling needed
    assert state["step"] == 2 and state["format_version"] == ckpt.FORMAT_VERSION
    assert set(state["optimizers"]) == {"critic", "generator"}
    assert isinstance(state["ranks"][0]["rng"]["torch"], torch.Tensor)
    assert ckpt.load_resume_state(tmp_path / "last.safetensors")["step"] == 2


class _Boom:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_resume_file_with_code_is_refused(tmp_path):
    path = tmp_path / "last.resume.pt"
    torch.save({"format_version": 1, "payload": _Boom()}, path)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_resume_state(path)
    _one_line(info.value, "not a motiongen resume file")
    path.write_bytes(pickle.dumps({"format_version": 1}))
    with pytest.raises(CheckpointError):
        ckpt.load_resume_state(path)


def test_checkpoint_errors_are_one_line(tmp_path, synthetic):
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(tmp_path / "missing.safetensors")
    _one_line(info.value, "missing.safetensors", "not found")

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(garbage)
    _one_line(info.value, "garbage.safetensors", "not a safetensors checkpoint")

    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(foreign)
    _one_line(info.value, "without motiongen metadata")

    torch.manual_seed(0)
    pair = create_model(_tiny.TINY, synthetic.skeleton, num_classes=2)
    good = ckpt.save_checkpoint(tmp_path / "good.safetensors", pair, None, _meta(synthetic))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(truncated)
    _one_line(info.value, "truncated.safetensors")

    for name, change, fragment in (("future", {"format_version": 99}, "unknown checkpoint format version 99"),
                                   ("alien", {"kind": "no-such-model"}, "unknown model kind 'no-such-model'"),
                                   ("bad-config", {"config": {"hidden": -3}}, "cannot rebuild")):
        meta = {**ckpt.checkpoint_metadata(pair, _meta(synthetic)), **change}
        tensors = {f"generator.{k}": v for k, v in pair.generator.state_dict().items()}
        path = tmp_path / f"{name}.safetensors"
        save_file(tensors, str(path), metadata={"motiongen": json.dumps(meta)})
        with pytest.raises(CheckpointError) as info:
            ckpt.load_checkpoint(path)
        _one_line(info.value, f"{name}.safetensors", fragment)

    other = create_model(_tiny.TINY, synthetic.skeleton, num_classes=2, hidden=5)
    mismatched = tmp_path / "mismatched.safetensors"
    meta = ckpt.checkpoint_metadata(pair, _meta(synthetic))
    tensors = {f"{prefix}.{k}": v.clone() for prefix in ("generator", "ema")
               for k, v in other.generator.state_dict().items()}
    tensors.update({f"critic.{k}": v for k, v in other.critic.state_dict().items()})
    save_file(tensors, str(mismatched), metadata={"motiongen": json.dumps(meta)})
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(mismatched)
    _one_line(info.value, "weights do not fit the model")


def test_written_atomically(tmp_path, synthetic, monkeypatch):
    """A failure while writing leaves the previous checkpoint and no temporary files."""
    torch.manual_seed(0)
    pair = create_model(_tiny.TINY, synthetic.skeleton, num_classes=2)
    path = ckpt.save_checkpoint(tmp_path / "last.safetensors", pair, None, _meta(synthetic, step=1))
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "safetensors_bytes", lambda *a, **k: b"x" * 10)
    monkeypatch.setattr("motiongen.formats._io.os.replace", fail)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(path, pair, None, _meta(synthetic, step=2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors"]
