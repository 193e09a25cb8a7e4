"""SIGINT/SIGTERM in the middle of a run: the current step finishes, a loadable checkpoint is
written atomically, the process exits cleanly (130 for SIGINT, 143 for SIGTERM) and the run resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import _tiny
from motiongen.training import load_checkpoint, load_resume_state, train
from motiongen.training.log import read_log

SCRIPT = Path(__file__).with_name("_train_script.py")


def _wait_for_log(path: Path, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"training exited early: {process.communicate()}")
        if path.is_file() and path.read_text().strip():
            return
        time.sleep(0.05)
    process.kill()
    raise AssertionError("training never logged a step")


@pytest.mark.parametrize("signum, exit_code, word", [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "terminated")])
def test_signal_writes_a_checkpoint_and_exits_cleanly(tmp_path, signum, exit_code, word):
    run_dir = tmp_path / "run"
    command = [sys.executable, str(SCRIPT), "cli", "train", _tiny.TINY, "--data", str(tmp_path), "--out", str(run_dir),
               "--steps", "1000000", "--batch-size", "4", "--n-critic", "1", "--log-every", "1",
               "--snapshot-every", "1000000", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_log(run_dir / "log.jsonl", process)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    assert f"{word} at step" in stderr and f"--resume {run_dir}" in stderr
    assert stdout.strip() == str(run_dir / "last.safetensors")
    checkpoint = load_checkpoint(run_dir)
    assert checkpoint.step >= 1
    assert load_resume_state(run_dir / "last.safetensors")["step"] == checkpoint.step
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []  # no temporary files left
    assert read_log(run_dir / "log.jsonl")[-1]["step"] <= checkpoint.step

    resumed = train(model=_tiny.TINY, dataset=_tiny.synthetic_dataset(), run_dir=run_dir, batch_size=4, n_critic=1,
                    total_steps=checkpoint.step + 1, resume=True, device="cpu", handle_signals=False)
    assert resumed.step == checkpoint.step + 1
