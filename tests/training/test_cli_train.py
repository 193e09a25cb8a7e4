"""``motiongen train``: help, dry run, one-line errors with exit code 2, a short run and --resume."""

from __future__ import annotations

import json

import pytest
from _cli import assert_one_line_error, run
from motiongen.training import load_checkpoint
from motiongen.training.log import read_log

TINY_KGAN = ["--frames", "16", "--fps", "15", "--batch-size", "2", "--n-critic", "1", "--channels", "8,4",
             "--mapping-depth", "2", "--model-option", "latent_dim=8", "--model-option", "w_dim=8",
             "--model-option", "critic_channels=[4,8]", "--device", "cpu", "--log-every", "1"]


def test_help_lists_models_and_options():
    result = run("train", "--help")
    assert result.exit_code == 0
    for text in ("kinetic-gan", "csgn", "--data", "--resume", "--init-from", "--dry-run", "--precision", "--n-critic",
                 "--gp-weight", "--mapping-depth", "--holdout-subjects", "--snapshot-every"):
        assert text in result.stdout, text


def test_dry_run_prints_the_resolved_config(tmp_path, cmu_data_dir):
    out = tmp_path / "run"
    result = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--steps", "7", "--out", out, "--dry-run")
    assert result.exit_code == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["model"] == "kinetic-gan" and resolved["total_steps"] == 7
    assert resolved["model_config"]["generator_channels"] == [8, 4] and resolved["model_config"]["frames"] == 16
    assert resolved["model_config"]["mapping_depth"] == 2
    assert resolved["options"]["batch_size"] == 2 and resolved["options"]["lr_generator"] == 2e-4
    assert resolved["dataset"]["actions"] == ["jumping", "walking"] and resolved["dataset"]["windows"] > 2
    assert resolved["parameters"]["generator"] > 0
    assert not out.exists()


def test_hgvae_takes_the_papers_defaults(tmp_path, cmu_data_dir):
    result = run("train", "hgvae", "--data", cmu_data_dir, "--fps", "15", "--model-option", "hidden=16",
                 "--out", tmp_path / "run", "--dry-run")
    assert result.exit_code == 0, result.stderr
    resolved = json.loads(result.stdout)
    options = resolved["options"]
    assert options["frames"] == 50 and options["lr_generator"] == 1e-4 and options["grad_clip_norm"] == 100.0
    assert resolved["model_config"]["nodes"] == [24, 8, 1] and resolved["parameters"]["critic"] == 0


def test_mirror_probability_reaches_the_run(cmu_data_dir, tmp_path):
    result = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--mirror-probability", "0",
                 "--keep-handedness", "walking, jumping", "--out", tmp_path / "run", "--dry-run")
    assert result.exit_code == 0, result.stderr
    options = json.loads(result.stdout)["options"]
    assert options["mirror_probability"] == 0.0 and options["keep_handedness"] == ["walking", "jumping"]


def test_adam_betas_reach_the_run(cmu_data_dir, tmp_path):
    result = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--betas", "0,0.9",
                 "--out", tmp_path / "run", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["options"]["betas"] == [0.0, 0.9]


def test_epochs_become_steps(cmu_data_dir):
    result = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--epochs", "2", "--dry-run")
    resolved = json.loads(result.stdout)
    windows = resolved["dataset"]["windows"]
    assert resolved["total_steps"] == -(-2 * windows // 2)  # batch 2, n_critic 1


@pytest.mark.parametrize("args, fragments", [
    (["kinetic-gn", "--data", "."], ["unknown model 'kinetic-gn'", "did you mean kinetic-gan"]),
    (["kinetic-gan", "--data", "no/such/folder"], ["no/such/folder"]),
    (["kinetic-gan", "--data", ".", "--steps", "0"], ["--steps"]),
    (["kinetic-gan", "--data", ".", "--frames", "0"], ["--frames"]),
    (["kinetic-gan", "--data", ".", "--frames", "1000000000"], ["--frames"]),
    (["kinetic-gan", "--data", ".", "--batch-size", "0"], ["--batch-size"]),
    (["kinetic-gan", "--data", ".", "--steps", "5", "--epochs", "1"], ["--steps or --epochs"]),
    (["kinetic-gan", "--data", ".", "--channels", "8,x"], ["--channels"]),
    (["kinetic-gan", "--data", ".", "--balance-actions", "2"], ["--balance-actions", "[0, 1]"]),
    (["kinetic-gan", "--data", ".", "--mirror-probability", "-0.5"], ["--mirror-probability", "[0, 1]"]),
    (["kinetic-gan", "--data", ".", "--betas", "0.5,1"], ["--betas", "[0, 1)", "0.5,1.0"]),
    (["kinetic-gan", "--data", ".", "--betas", "0.9"], ["--betas", "two numbers"]),
    (["kinetic-gan", "--data", ".", "--betas", "0,x"], ["--betas", "comma-separated numbers"]),
    (["kinetic-gan"], ["--data is required"]),
    (["--resume", "no/such/run"], ["no/such/run", "no checkpoint"]),
])
def test_bad_requests_are_one_line_errors(args, fragments):
    assert_one_line_error(run("train", *args), *fragments)


def test_bad_model_option_and_too_few_windows(tmp_path, cmu_data_dir):
    assert_one_line_error(run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--model-option",
                              "mapping_dept=3", "--out", tmp_path / "a"), "mapping_dept")
    assert_one_line_error(run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--batch-size", "500",
                              "--out", tmp_path / "b"), "fewer than one batch")


def test_train_then_resume(tmp_path, cmu_data_dir):
    out = tmp_path / "run"
    first = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--steps", "2", "--out", out, "--quiet")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == str(out / "last.safetensors")
    assert [p.name for p in (out / "samples").iterdir()] == ["step-0000002.png"]  # the last step is drawn
    again = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--steps", "2", "--out", out)
    assert_one_line_error(again, "already holds a run", f"--resume {out}")
    changed = run("train", "--resume", out, "--frames", "32")
    assert_one_line_error(changed, "--frames")

    resumed = run("train", "--resume", out, "--steps", "3", "--json")  # model, data and options from the run
    assert resumed.exit_code == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["step"] == 3 and summary["interrupted"] is None
    assert load_checkpoint(out).step == 3
    assert [r["step"] for r in read_log(out / "log.jsonl")] == [1, 2, 3]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-0000002.png", "step-0000003.png"]
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["steps"] == 3 and config["model_config"]["generator_channels"] == [8, 4]


def test_init_from_fine_tunes_a_checkpoint(tmp_path, cmu_data_dir):
    base = tmp_path / "base"
    assert run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--steps", "2", "--out", base,
               "--quiet").exit_code == 0
    tuned = tmp_path / "tuned"
    # model, skeleton, window, frame rate and widths come from the checkpoint
    result = run("train", "--init-from", base, "--data", cmu_data_dir, "--batch-size", "2", "--n-critic", "1",
                 "--device", "cpu", "--steps", "1", "--out", tuned, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["step"] == 1
    config = json.loads((tuned / "config.json").read_text())
    assert config["model"] == "kinetic-gan" and config["init_from"] == str((base / "last.safetensors").resolve())
    assert config["model_config"]["generator_channels"] == [8, 4] and config["model_config"]["frames"] == 16
    assert config["dataset"]["fps"] == 15.0
    result = run("train", "--init-from", base, "--data", cmu_data_dir, "--critic-warmup-steps", "500", "--dry-run")
    assert result.exit_code == 0 and json.loads(result.stdout)["options"]["critic_warmup_steps"] == 500
    assert_one_line_error(run("train", "--init-from", base, "--data", cmu_data_dir, "--critic-warmup-steps", "-1",
                              "--batch-size", "2", "--device", "cpu", "--steps", "1", "--out", tmp_path / "w"),
                          "critic warm-up")
    assert_one_line_error(run("train", "--init-from", base, "--data", cmu_data_dir, "--channels", "16,4",
                              "--batch-size", "2", "--device", "cpu", "--steps", "1", "--out", tmp_path / "wide"),
                          "do not fit")
    assert not (tmp_path / "wide").exists()
    assert_one_line_error(run("train", "--resume", tuned, "--init-from", base), "--init-from", "--resume")
    assert_one_line_error(run("train", "csgn", "--init-from", base, "--data", cmu_data_dir, "--out", tmp_path / "c"),
                          "holds a kinetic-gan model, not csgn")
    assert_one_line_error(run("train", "--init-from", tmp_path / "nothing.safetensors", "--data", cmu_data_dir),
                          "nothing.safetensors")


def test_critic_augmentation_is_named_on_the_command_line(tmp_path, cmu_data_dir):
    """A bare comma-separated word (no JSON quoting) switches it on; an unknown name is a one-line
    error naming the known ones, before any run folder exists."""
    result = run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--model-option",
                 "critic_augment=shift,cutout", "--out", tmp_path / "run", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model_config"]["critic_augment"] == ["shift", "cutout"]
    assert_one_line_error(run("train", "kinetic-gan", "--data", cmu_data_dir, *TINY_KGAN, "--model-option",
                              "critic_augment=shift,flip", "--out", tmp_path / "bad"),
                          "unknown 'flip'", "known: shift, cutout")
    assert not (tmp_path / "bad").exists()
