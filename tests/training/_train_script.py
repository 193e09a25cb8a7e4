"""Run by the training tests in a subprocess (also under torchrun), with the tiny test model.

    python _train_script.py cli ARGS...        the `motiongen` CLI, dataset preparation stubbed
                                               with the synthetic dataset (any existing --data)
    python _train_script.py ddp RUN_DIR DUMP [larnet|larnet-classifier|larnet-rejecting|
                                               kinetic-gan-rejecting|csgn-rejecting]
                                               train 3 steps through the library (the tiny model, or a
                                               small LARNet or GAN); every rank saves its final weights and the
                                               files it wrote to DUMP/rank{r}.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import torch  # noqa: E402

torch.set_num_threads(1)

import _tiny  # noqa: E402

_tiny.register()


def cli(arguments: list[str]) -> None:
    import motiongen.api.train as api

    api._prepare = lambda data, options, world, progress: _tiny.synthetic_dataset()
    from motiongen.cli import app

    app(arguments, prog_name="motiongen")


def ddp(run_dir: str, dump: str, model: str = _tiny.TINY) -> None:
    import os

    from motiongen.training import checkpoint, log, loop

    captured: dict = {"writes": []}
    original_build, original_make_ema = loop.build_model, loop.make_ema

    def build(*args, **kwargs):
        captured["pair"] = original_build(*args, **kwargs)
        return captured["pair"]

    def make_ema(generator):
        captured["ema"] = original_make_ema(generator)
        return captured["ema"]

    def recording(original):
        def wrapper(path, *args, **kwargs):
            captured["writes"].append(str(path))
            return original(path, *args, **kwargs)
        return wrapper

    loop.build_model, loop.make_ema = build, make_ema
    loop.atomic_write = recording(loop.atomic_write)
    checkpoint.atomic_write = recording(checkpoint.atomic_write)
    log.atomic_write = recording(log.atomic_write)
    original_write = log.JsonlLog.write

    def log_write(self, record):
        if self.enabled:
            captured["writes"].append(str(self.path))
        original_write(self, record)

    log.JsonlLog.write = log_write
    if model.startswith("larnet"):  # critics, mix and latent supervision under DDP (unused parts allowed)
        dataset = _tiny.synthetic_dataset(windows=24, frames=16, actions=("walking", "jumping"))
        options = {"model_config": {"hidden": 8, "width": 8, "latent_dim": 4, "noise_dim": 2, "action_dim": 4}}
        if model in ("larnet-classifier", "larnet-rejecting"):  # the classifier goes through the critic's DDP forward
            options["model_config"]["action_classifier_weight"] = 0.5
        if model == "larnet-rejecting":  # its "generated" class, and every rank drawing the same balanced batch
            options["model_config"]["classifier_rejects_fakes"] = True
            options["balance_actions"] = 1.0
        model = "larnet"
    elif model in ("kinetic-gan-rejecting", "csgn-rejecting"):  # the GANs' classifier through the DDP critic
        dataset = _tiny.synthetic_dataset(windows=24, frames=16, actions=("walking", "jumping"))
        model = model.removesuffix("-rejecting")
        small = ({"latent_dim": 8, "w_dim": 8, "mapping_depth": 2, "generator_channels": [8, 4],
                  "critic_channels": [4, 8]} if model == "kinetic-gan" else
                 {"latent_channels": 4, "class_channels": 4, "channels": [8] * 6, "critic_channels": [8] * 6})
        options = {"balance_actions": 1.0, "model_config": {**small, "action_classifier_weight": 1.0,
                                                            "classifier_rejects_fakes": True, "classifier_width": 8}}
    else:
        dataset, options = _tiny.synthetic_dataset(), {}
    result = loop.train(model=model, dataset=dataset, run_dir=run_dir, total_steps=3,
                        batch_size=3, n_critic=2, log_every_steps=1, snapshot_every_steps=2, device="cpu",
                        ema_halflife_steps=2.0, **options)
    pair = captured["pair"]
    state = {f"generator.{k}": v for k, v in pair.generator.state_dict().items()}
    state.update({f"critic.{k}": v for k, v in pair.critic.state_dict().items()})
    state.update({f"ema.{k}": v for k, v in captured["ema"].state_dict().items()})
    rank = int(os.environ.get("RANK", "0"))
    torch.save({"state": state, "writes": captured["writes"], "step": result.step,
                "world_size": int(os.environ.get("WORLD_SIZE", "1"))}, Path(dump) / f"rank{rank}.pt")


if __name__ == "__main__":
    if sys.argv[1] == "cli":
        cli(sys.argv[2:])
    elif sys.argv[1] == "ddp":
        ddp(*sys.argv[2:5])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
