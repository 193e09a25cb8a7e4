"""DistributedDataParallel on the CPU with gloo: 2 processes launched by torchrun keep equal
weights, and only rank 0 writes; ``torchrun -m motiongen train`` works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from _data import CMU_DIR
from motiongen.training import load_checkpoint
from motiongen.training.log import read_log

SCRIPT = Path(__file__).with_name("_train_script.py")
REPO = Path(__file__).resolve().parents[2]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def _launch(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    result = subprocess.run(TORCHRUN + arguments, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("model", ["tiny", "larnet", "larnet-classifier", "larnet-rejecting", "kinetic-gan-rejecting",
                                   "csgn-rejecting"])
def test_two_processes_keep_equal_weights_and_only_rank_0_writes(tmp_path, model):
    run_dir, dump = tmp_path / "run", tmp_path / "dump"
    dump.mkdir()
    _launch([str(SCRIPT), "ddp", str(run_dir), str(dump)] + ([model] if model != "tiny" else []), cwd=tmp_path)
    ranks = [torch.load(dump / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["step"] for r in ranks] == [3, 3]
    first, second = ranks[0]["state"], ranks[1]["state"]
    parameters = [k for k in first if "running_" not in k and "num_batches" not in k and "w_centres" not in k]
    assert parameters
    for key in parameters:  # batch-norm running statistics are per process; parameters must agree
        assert torch.equal(first[key], second[key]), key
    assert ranks[1]["writes"] == []
    assert {Path(p).name for p in ranks[0]["writes"]} == {"config.json", "log.jsonl", "last.safetensors",
                                                         "last.resume.pt"}
    checkpoint = load_checkpoint(run_dir, ema=False)
    for key, value in checkpoint.pair.generator.state_dict().items():
        if f"generator.{key}" in parameters:
            assert torch.equal(value, first[f"generator.{key}"]), key
    config = json.loads((run_dir / "config.json").read_text())
    assert config["world_size"] == 2 and config["global_batch_size"] == 6
    assert [r["step"] for r in read_log(run_dir / "log.jsonl")] == [1, 2, 3]


@pytest.mark.skipif(not CMU_DIR.is_dir(), reason=f"real CMU data not found at {CMU_DIR}")
def test_torchrun_python_m_motiongen_train(tmp_path, cmu_data_dir):
    run_dir = tmp_path / "run"
    result = _launch(["-m", "motiongen", "train", "kinetic-gan", "--data", str(cmu_data_dir), "--frames", "16",
                      "--fps", "15", "--batch-size", "2", "--steps", "2", "--n-critic", "1", "--log-every", "1",
                      "--channels", "8,4", "--mapping-depth", "2", "--model-option", "latent_dim=8",
                      "--model-option", "w_dim=8", "--model-option", "critic_channels=[4,8]", "--device", "cpu",
                      "--out", str(run_dir), "--quiet"], cwd=REPO)
    assert result.stdout.strip() == str(run_dir / "last.safetensors")  # printed once, by rank 0
    checkpoint = load_checkpoint(run_dir)
    assert checkpoint.step == 2 and checkpoint.kind == "kinetic-gan"
    assert checkpoint.meta["training"]["world_size"] == 2


@pytest.mark.skipif(not CMU_DIR.is_dir(), reason=f"real CMU data not found at {CMU_DIR}")
def test_torchrun_trains_hgvae(tmp_path, cmu_data_dir):
    """The VAE phase under DDP: every parameter takes part in the forward, so gradients all-reduce."""
    run_dir = tmp_path / "run"
    _launch(["-m", "motiongen", "train", "hgvae", "--data", str(cmu_data_dir), "--frames", "16", "--fps", "15",
             "--batch-size", "2", "--steps", "2", "--log-every", "1", "--model-option", "hidden=8",
             "--model-option", "nodes=[4,2,1]", "--model-option", "latent_dims=[2,2,2,4]", "--device", "cpu",
             "--out", str(run_dir), "--quiet"], cwd=REPO)
    checkpoint = load_checkpoint(run_dir)
    assert checkpoint.step == 2 and checkpoint.kind == "hgvae"
    assert checkpoint.meta["training"]["world_size"] == 2
    assert [r["step"] for r in read_log(run_dir / "log.jsonl")] == [1, 2]
