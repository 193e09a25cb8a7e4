"""The training loop for the motion GANs (DESIGN §7): one function, `train`, iterating over phases.

Each iteration runs ``n_critic`` critic steps and one generator step (WGAN-GP, Gulrajani et al.
2017, Algorithm 1; the maths is in `motiongen.training.losses`), then updates the generator's
moving average (`motiongen.training.ema`). A *step* is one generator step.

Determinism: real windows are drawn by index from epoch permutations of a seeded
``torch.Generator``; latents come from ``generator.make_latent(seeds)`` with one seed per sample
(a global counter, so sample k of a step gets the same latent whatever the process count);
interpolation weights of the gradient penalty and the generator phase's classes come from their
own seeded generators, augmentation from another. Every one of those states, the global RNGs, the
optimisers and the running loss sums go into the resume file, so a resumed run continues exactly
as an uninterrupted one would (on the same device kind).

A run folder holds ``config.json`` (the resolved configuration), ``log.jsonl`` (`log`),
``last.safetensors`` + ``last.resume.pt`` (`checkpoint`) and, if asked, ``step-XXXXXXX.safetensors``
snapshots. SIGINT/SIGTERM finish the current step, write a checkpoint and return.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from motiongen.errors import ConfigError, MotionGenError
from motiongen.formats._io import atomic_write
from motiongen.models import create_model
from motiongen.nn.action_classifier import FRESH_PARTS
from motiongen.nn.smoothness import SMOOTHNESS_BUFFERS
from motiongen.training import checkpoint as ckpt
from motiongen.training import distributed
from motiongen.training.ema import ema_beta, make_ema, update_ema
from motiongen.training.log import JsonlLog, LossMeter
from motiongen.training.losses import ClassifierLoss, LarnetLoss, Networks, VaeLoss, WganGpLoss
from motiongen.training.preview import render_preview

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
LAST = "last"
# The one phase of a model without a critic, by kind: its name and the loss it runs.
SINGLE_PHASE = {"recognizer": ("classify", ClassifierLoss)}
DEFAULT_SINGLE_PHASE = ("vae", VaeLoss)
# The critic/generator loss of a model with a critic, by kind (default: plain WGAN-GP).
PAIR_LOSS = {"larnet": LarnetLoss}
PRELOAD_BYTES = 2 << 30  # datasets up to this size are normalised once and kept on the device


class TrainingDiverged(MotionGenError):
    """A loss became NaN or infinite."""


@dataclass
class TrainProgress:
    """What a progress display needs, passed to ``progress`` after every step."""

    step: int  # generator steps done
    total_steps: int
    start_step: int  # where this session began (non-zero after --resume)
    losses: dict[str, float]  # the latest logged averages
    steps_per_s: float | None  # over the latest log interval
    event: str  # "start", "step", "log", "checkpoint" or "end"


@dataclass
class TrainResult:
    run_dir: Path
    step: int  # generator steps done
    checkpoint: Path  # the latest checkpoint written
    interrupted: str | None  # "SIGINT" or "SIGTERM" when a signal stopped the run
    losses: dict[str, float]  # the latest logged averages
    seconds: float  # training time of this session
    config: dict = field(default_factory=dict)


@dataclass
class Phase:
    name: str  # "critic" or "generator" (what `WganGpLoss.accumulate_gradients` runs)
    module: nn.Module  # whose parameters this phase updates
    optimizer: torch.optim.Optimizer
    repeats: int  # steps of this phase per iteration


# --- the loop -----------------------------------------------------------------------------------

def train(
    *,
    model: str,  # registry name of the model ("kinetic-gan", "csgn", …)
    dataset: Any,  # a motiongen.data.MotionDataset (training split): windows, labels, features(indices)
    run_dir: str | Path,  # folder for config.json, log.jsonl and checkpoints (created)
    total_steps: int,  # generator steps to reach (each after n_critic critic steps)
    batch_size: int = 32,  # windows per process per step (global batch = batch_size × processes)
    model_config: dict | None = None,  # fields of the model's config dataclass (mapping_depth, channels, …)
    lr_generator: float = 2e-4,  # Adam learning rate of the generator
    lr_critic: float = 2e-4,  # Adam learning rate of the critic
    lr_decay_steps: int = 0,  # both learning rates fall linearly to 0 over the last this many steps (0 = constant)
    critic_warmup_steps: int = 0,  # the run's first this many steps train the critic alone (generator and EMA wait)
    betas: Sequence[float] = (0.5, 0.999),  # Adam betas of both optimisers
    n_critic: int = 5,  # critic steps per generator step
    gp_weight: float = 10.0,  # λ of the WGAN-GP gradient penalty
    drift_weight: float = 0.0,  # ε of the ProGAN drift term E[D(x)²] (0 = off)
    grad_clip_norm: float | None = None,  # clip each network's gradient norm to this (None = off)
    ema_halflife_steps: float = 500.0,  # half-life of the generator EMA, in generator steps
    ema_rampup: float | None = 0.05,  # EMA half-life at most this × step early on (None = no ramp-up)
    precision: str = "fp32",  # "fp32" or "bf16" (autocast; on CUDA only, fp32 elsewhere)
    compile: bool = False,  # torch.compile the networks' forwards (the gradient penalty stays eager)
    device: str = "auto",  # "auto" (CUDA when available), "cpu" or "cuda"
    seed: int = 0,  # seeds initialisation, data order, latents and augmentation
    snapshot_every_steps: int = 1000,  # write last.safetensors every this many steps (and at the end)
    keep_snapshots: bool = False,  # also keep step-XXXXXXX.safetensors at each snapshot
    log_every_steps: int = 50,  # one log.jsonl line per this many steps
    render_every_steps: int = 0,  # draw samples/step-XXXXXXX.png from the EMA generator (0 = never)
    evaluate_every_steps: int = 0,  # score the EMA generator with `evaluator` into log.jsonl (0 = never)
    evaluator: Callable[[nn.Module], dict] | None = None,  # generator -> {"eval_fid": …} (rank 0 only)
    augment: bool = True,  # mirror (p = mirror_probability) and rotate about the up axis each real window
    mirror_probability: float = 0.5,  # with augment: the share of real windows mirrored (0 keeps handedness)
    keep_handedness: Sequence[str] = (),  # actions never mirrored (one-handed ones), the rest at mirror_probability
    balance_actions: float = 0.0,  # draw action a ∝ windows_a^(1 − this): 0 = as the data has them, 1 = evenly
    resume: bool = False,  # continue from run_dir/last.safetensors + last.resume.pt
    init_from: str | Path | None = None,  # fine-tune: start a new run from this checkpoint's weights
    progress: Callable[[TrainProgress], None] | None = None,  # called after each step on rank 0
    handle_signals: bool = True,  # SIGINT/SIGTERM write a checkpoint and return (main thread only)
    extra_config: dict | None = None,  # more entries for config.json and the checkpoint (data options, …)
) -> TrainResult:
    """Train a generator/critic pair with WGAN-GP; returns where it stopped (see module docstring)."""
    settings = {k: v for k, v in locals().items() if k not in ("dataset", "progress", "run_dir", "evaluator")}
    window_count = len(dataset)
    _check_request(total_steps, batch_size, n_critic, lr_generator, lr_critic, betas, gp_weight, drift_weight,
                   ema_halflife_steps, precision, device, snapshot_every_steps, log_every_steps, window_count,
                   render_every_steps, balance_actions, lr_decay_steps, critic_warmup_steps, mirror_probability)
    mirror_by_action = mirror_probabilities(dataset, mirror_probability, keep_handedness)  # before any folder
    torch_device = resolve_device(device)
    with distributed.joined(torch_device.type) as world:
        if torch_device.type == "cuda" and world.distributed:
            torch_device = torch.device("cuda", world.local_rank)
        if window_count < batch_size * world.size:
            raise ConfigError(f"the dataset has {window_count} windows, fewer than one global batch "
                              f"({batch_size} × {world.size} processes); lower --batch-size or add data")
        run_dir = Path(run_dir)
        last_path = run_dir / (LAST + ckpt.SUFFIX)
        if resume and not last_path.is_file():
            raise ConfigError(f"{run_dir}: nothing to resume (no {last_path.name})")
        use_bf16 = precision == "bf16" and torch_device.type == "cuda"
        if precision == "bf16" and not use_bf16:
            warnings.warn("bf16 autocast runs on CUDA only; training in fp32")
        model_config = dict(model_config or {})
        if resume:
            model_config = _resumed_model_config(last_path, model, model_config, dataset)
            dataset = _in_trained_normalization(last_path, dataset)
        elif init_from is not None:
            init_from = ckpt.resolve_checkpoint_path(init_from)
            model_config = _initial_model_config(init_from, model, model_config, dataset)
            dataset = _in_trained_normalization(init_from, dataset)

        # Models: identical initialisation on every rank (DDP broadcasts rank 0's anyway).
        torch.manual_seed(_derive_seed(seed, "init"))
        pair = build_model(model, dataset, model_config)
        if init_from is not None and not resume:  # before the run folder exists: a misfit leaves none
            _initialise_from(init_from, pair, dataset)
        likelihood_model = pair.critic is None  # a VAE: one phase on its own bound, no critic
        if likelihood_model and critic_warmup_steps:
            raise ConfigError(f"{model} has no critic to warm up; leave out --critic-warmup-steps")
        spread = getattr(pair.critic, "minibatch_stddev", None)
        if spread is not None and batch_size % spread.group_size:  # a group must not mix real and fake clips
            raise ConfigError(f"the critic's minibatch-stddev groups of {spread.group_size} must divide the "
                              f"batch of {batch_size} per process; change --batch-size or the group size")
        if evaluate_every_steps and not hasattr(pair.generator, "make_latent"):  # every rank refuses alike
            raise ConfigError(f"periodic evaluation scores generated motion; {model} does not generate any")
        if world.is_main:  # only now: a refused request leaves no empty run folder
            run_dir.mkdir(parents=True, exist_ok=True)
        pair.generator.to(torch_device).train()
        if not likelihood_model:
            pair.critic.to(torch_device).train()
        ema = make_ema(pair.generator)
        # A fine-tune's average starts at the checkpoint's, an average of a trained model: no
        # ramp-up, which would make it follow the raw generator's early fine-tuning steps alone.
        rampup = None if init_from is not None else ema_rampup
        if init_from is not None and not resume:
            _initialise_ema_from(init_from, ema)
        adam_kind = {"fused": True} if torch_device.type == "cuda" else {"foreach": True}
        generator_optimizer = torch.optim.Adam(pair.generator.parameters(), lr=lr_generator, betas=tuple(betas),
                                               **adam_kind)
        single_phase, single_loss = SINGLE_PHASE.get(pair.kind, DEFAULT_SINGLE_PHASE)
        if likelihood_model:  # one phase on the model's own objective
            phases = [Phase(single_phase, pair.generator, generator_optimizer, 1)]
        else:
            critic_optimizer = torch.optim.Adam(pair.critic.parameters(), lr=lr_critic, betas=tuple(betas),
                                                **adam_kind)
            phases = [Phase("critic", pair.critic, critic_optimizer, int(n_critic)),
                      Phase("generator", pair.generator, generator_optimizer, 1)]

        for phase in phases:  # the base rate the decay scales (as torch's schedulers keep it)
            for group in phase.optimizer.param_groups:
                group["initial_lr"] = group["lr"]
        global_batch = batch_size * world.size
        source = BatchSource(dataset, torch_device, world, augment, seed, mirror_by_action)
        state = LoopState(sampler=IndexSampler(window_count, _derive_seed(seed, "order"),
                                               window_weights(dataset.labels, balance_actions)),
                          label_generator=torch.Generator().manual_seed(_derive_seed(seed, "labels")),
                          noise_generator=torch.Generator().manual_seed(_derive_seed(seed, "interpolation")),
                          latent_base=_derive_seed(seed, "latent") & ((1 << 62) - 1))
        torch.manual_seed(_derive_seed(seed, "noise", world.rank))  # noise injection, dropout: per rank
        if resume:
            _resume(last_path, pair, ema, phases, state, source, world, torch_device)

        config = _resolved_config(settings, pair, dataset, world, torch_device, use_bf16)
        log = JsonlLog(run_dir / "log.jsonl", enabled=world.is_main)
        if world.is_main:
            with atomic_write(run_dir / "config.json") as stream:
                json.dump(config, stream, indent=2)
            if resume:
                log.truncate_after(state.step)
            elif log.path.exists():
                log.path.unlink()
        checkpoint_meta = {"skeleton": dataset.skeleton, "actions": list(dataset.actions),
                           "normalization": dataset.normalization, "fps": float(dataset.fps),
                           "frames": int(dataset.frames), "training": config}

        autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext
        if likelihood_model:
            model_train = distributed.wrap(pair.generator, world, torch_device)
            loss = single_loss(torch.compile(model_train) if compile else model_train, pair.generator, autocast)
        else:
            networks = _networks(pair, world, torch_device, compile)
            pair_loss = PAIR_LOSS.get(pair.kind, WganGpLoss)
            loss = pair_loss(networks, gp_weight=gp_weight, drift_weight=drift_weight, autocast=autocast)
        frames = int(dataset.frames)
        start_step = state.step
        session_start = time.perf_counter()
        elapsed_before = state.elapsed_s
        interval_start, interval_step = session_start, state.step
        latest: dict[str, float] = {}
        rate: float | None = None
        stop = _StopRequest(handle_signals)
        checkpoint_path = last_path

        def save() -> Path:
            state.elapsed_s = elapsed_before + time.perf_counter() - session_start
            snapshot = keep_snapshots and state.step % snapshot_every_steps == 0
            return _save(run_dir, pair, ema, phases, state, source, world, torch_device,
                         {**checkpoint_meta, "step": state.step}, snapshot)

        def report(event: str) -> None:
            if progress is not None and world.is_main:
                progress(TrainProgress(state.step, total_steps, start_step, dict(latest), rate, event))

        report("start")
        try:
            while state.step < total_steps:
                if lr_decay_steps:  # a function of the step alone, so a resumed run follows the same schedule
                    factor = learning_rate_factor(state.step, total_steps, lr_decay_steps)
                    for phase in phases:
                        for group in phase.optimizer.param_groups:
                            group["lr"] = group["initial_lr"] * factor
                # A fine-tune of an inference-only file starts with an untrained critic, whose first
                # gradients would undo the generator (RESULTS, seventh session): it learns alone first.
                warming_up = state.step < critic_warmup_steps
                for phase in phases:
                    if warming_up and phase.name == "generator":
                        continue
                    for other in phases:
                        other.module.requires_grad_(other is phase)
                    for _ in range(phase.repeats):
                        batch = _draw(phase.name, state, source, pair.generator, global_batch, frames, world,
                                      torch_device, getattr(loss, "needs_real", ("critic",)))
                        phase.optimizer.zero_grad(set_to_none=True)
                        values = loss.accumulate_gradients(phase.name, **batch)
                        if grad_clip_norm:
                            nn.utils.clip_grad_norm_(phase.module.parameters(), grad_clip_norm)
                        phase.optimizer.step()
                        state.meter.add(values)
                state.step += 1
                if not warming_up:
                    update_ema(ema, pair.generator, ema_beta(state.step, ema_halflife_steps, rampup))
                event = "step"
                at_end = state.step == total_steps
                if state.step % log_every_steps == 0 or at_end:
                    now = time.perf_counter()
                    rate = (state.step - interval_step) / max(now - interval_start, 1e-9)
                    interval_start, interval_step = now, state.step
                    latest = state.meter.averages()
                    _check_finite(latest, state.step, checkpoint_path)
                    log.write({"step": state.step, "time_s": round(elapsed_before + now - session_start, 3),
                               "steps_per_s": round(rate, 4), **latest,
                               **({"lr_scale": round(factor, 6)} if lr_decay_steps else {}),
                               **({} if state.step % log_every_steps == 0 else {"partial": True})})
                    if state.step % log_every_steps == 0:  # a partial interval keeps summing (resume stays exact)
                        state.meter.reset()
                    event = "log"
                stopping = distributed.any_rank(stop.signal_name is not None, world, torch_device)
                if stopping or at_end or state.step % snapshot_every_steps == 0:
                    checkpoint_path = save()
                    event = "checkpoint"
                if world.is_main and render_every_steps and (state.step % render_every_steps == 0 or at_end):
                    render_preview(ema, dataset, run_dir / "samples" / f"step-{state.step:07d}.png", state.step)
                if (world.is_main and evaluator is not None and evaluate_every_steps
                        and (state.step % evaluate_every_steps == 0 or at_end)):
                    # forked: evaluation draws noise, and a resumed run must see the same streams
                    evaluation_start = time.perf_counter()
                    with torch.random.fork_rng(devices=[torch_device] if torch_device.type == "cuda" else []):
                        scores = evaluator(ema)
                    log.write({"step": state.step, "event": "evaluation", **scores})
                    interval_start += time.perf_counter() - evaluation_start  # steps/s counts training only
                report(event)
                if stopping:
                    break
        finally:
            stop.restore()
        distributed.barrier(world)
        report("end")
        return TrainResult(run_dir=run_dir, step=state.step, checkpoint=checkpoint_path,
                           interrupted=stop.signal_name, losses=latest,
                           seconds=time.perf_counter() - session_start, config=config)


# --- checks and configuration ----------------------------------------------------------------------

def build_model(model: str, dataset, model_config: dict):
    """The model pair for this dataset's skeleton and actions. A config with a ``frames`` field
    (the training window) or an ``fps`` field gets the dataset's unless ``model_config`` sets it."""
    config = dict(model_config)
    state = torch.get_rng_state()
    pair = create_model(model, dataset.skeleton, num_classes=len(dataset.actions), **config)
    from_data = {"frames": int(dataset.frames), "fps": float(dataset.fps)}
    defaults = pair.config_dict()
    taken = {k: v for k, v in from_data.items() if k not in config and k in defaults and defaults[k] != v}
    if taken:
        torch.set_rng_state(state)  # the same initialisation as a direct build with this config
        pair = create_model(model, dataset.skeleton, num_classes=len(dataset.actions), **config, **taken)
    reason = pair.generator.frames_supported(int(dataset.frames))
    if reason:
        raise ConfigError(f"{model} cannot train on {dataset.frames}-frame windows: {reason}")
    fit_to_data(pair, dataset)
    return pair


def fit_to_data(pair, dataset) -> None:
    """Networks that keep statistics of the data (start poses, input scales) take this dataset's."""
    offered = {"labels": np.asarray(dataset.labels), "normalization": dataset.normalization,
               "actions": list(dataset.actions)}
    for module in (pair.generator, pair.critic):
        fit_data = getattr(module, "fit_data", None)
        if callable(fit_data):
            wanted = inspect.signature(fit_data).parameters
            fit_data(training_positions(dataset), **{k: v for k, v in offered.items() if k in wanted})


def training_positions(dataset) -> np.ndarray:
    """Every training window as positions ``[N, T, V, 3]`` (metres), unaugmented."""
    return np.asarray(dataset.windows)


def learning_rate_factor(step: int, total_steps: int, decay_steps: int) -> float:
    """The share of the base learning rate used for generator step ``step + 1`` (0-based ``step``
    already taken): 1 until the last ``decay_steps`` steps, then falling linearly so the final step
    runs at 1 / decay_steps of it. Why: a GAN at a constant rate keeps orbiting its equilibrium
    (snapshots swing between the actions they render); annealing is the usual way to let it settle
    (it did not settle the CPU Kinetic-GAN on CMU: benchmarks/RESULTS.md, "Second CPU session")."""
    remaining = total_steps - step
    return 1.0 if remaining >= decay_steps else max(remaining, 1) / decay_steps


def _check_request(total_steps, batch_size, n_critic, lr_generator, lr_critic, betas, gp_weight, drift_weight,
                   ema_halflife_steps, precision, device, snapshot_every_steps, log_every_steps, window_count,
                   render_every_steps, balance_actions=0.0, lr_decay_steps=0, critic_warmup_steps=0,
                   mirror_probability=0.5) -> None:
    """Refuse impossible requests before anything is allocated (DESIGN §8)."""
    def whole(name, value, minimum=1):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ConfigError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")

    whole("total steps", total_steps)
    whole("batch size", batch_size)
    whole("n_critic", n_critic)
    whole("snapshot interval (steps)", snapshot_every_steps)
    whole("picture interval (steps)", render_every_steps, minimum=0)
    whole("log interval (steps)", log_every_steps)
    whole("learning-rate decay (steps)", lr_decay_steps, minimum=0)
    whole("critic warm-up (steps)", critic_warmup_steps, minimum=0)
    for name, value in (("generator learning rate", lr_generator), ("critic learning rate", lr_critic),
                        ("EMA half-life (steps)", ema_halflife_steps)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number, got {value!r}")
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ConfigError(f"Adam betas must be two numbers in [0, 1), got {tuple(betas)}")
    for name, value in (("gradient-penalty weight", gp_weight), ("drift weight", drift_weight)):
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be ≥ 0, got {value!r}")
    if not (isinstance(balance_actions, (int, float)) and 0.0 <= balance_actions <= 1.0):
        raise ConfigError(f"action balance must be a number in [0, 1], got {balance_actions!r}")
    if isinstance(mirror_probability, bool) or not (isinstance(mirror_probability, (int, float))
                                                    and 0.0 <= mirror_probability <= 1.0):
        raise ConfigError(f"mirror probability must be a number in [0, 1], got {mirror_probability!r}")
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if window_count < batch_size:
        raise ConfigError(f"the dataset has {window_count} windows, fewer than one batch of {batch_size}; "
                          "lower --batch-size or add data")


def resolve_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked but no CUDA GPU is available")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _derive_seed(seed: int, purpose: str, rank: int = 0) -> int:
    """A 63-bit seed for one purpose, the same on every machine (unlike ``hash``)."""
    digest = hashlib.blake2b(f"{int(seed)}/{purpose}/{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _json_ready(value):
    return json.loads(json.dumps(value, default=str))


def _resolved_config(settings: dict, pair, dataset, world: distributed.World, device: torch.device,
                     use_bf16: bool) -> dict:
    """config.json: the arguments as resolved (model config filled in, precision and device as used)."""
    extra = settings.pop("extra_config", None) or {}
    meta = getattr(dataset, "meta", {}) or {}
    config = {
        **{k: v for k, v in settings.items() if k not in ("resume", "handle_signals", "model_config")},
        "model_config": pair.config_dict(),
        "betas": list(settings["betas"]),
        "precision": "bf16" if use_bf16 else "fp32",
        "device": device.type,
        "world_size": world.size,
        "global_batch_size": settings["batch_size"] * world.size,
        "dataset": {"source": meta.get("source"), "windows": len(dataset), "frames": int(dataset.frames),
                    "fps": float(dataset.fps), "skeleton": dataset.skeleton.name, "actions": list(dataset.actions)},
        **extra,
    }
    return _json_ready(config)


def _resumed_model_config(last_path: Path, model: str, model_config: dict, dataset) -> dict:
    """The stored model config, after checking the request and the data agree with the run."""
    meta = ckpt.read_metadata(last_path)
    if meta["kind"] != model:
        raise ConfigError(f"{last_path}: the run trains {meta['kind']!r}, not {model!r}")
    stored = dict(meta["config"])
    changed = [k for k, v in model_config.items() if k in stored and _json_ready(v) != _json_ready(stored[k])]
    if changed:  # or only spelt otherwise ("shift,cutout" for ["shift", "cutout"]): the config class decides
        model_fields = {k: v for k, v in stored.items() if k != "num_classes"}
        with torch.random.fork_rng(devices=[]):  # building draws initial weights; the run's RNG stays put
            requested = create_model(model, dataset.skeleton, len(dataset.actions),
                                     **{**model_fields, **model_config}).config_dict()
        changed = [k for k in changed if _json_ready(requested[k]) != _json_ready(stored[k])]
    if changed:
        raise ConfigError(f"{last_path}: cannot change the model on resume ({', '.join(sorted(changed))} differ)")
    if list(meta["actions"]) != list(dataset.actions):
        raise ConfigError(f"{last_path}: the data's actions differ from the run's ({len(dataset.actions)} vs "
                          f"{len(meta['actions'])}); resume with the same data")
    if int(meta["frames"]) != int(dataset.frames):
        raise ConfigError(f"{last_path}: the run trains on {meta['frames']}-frame windows, not {dataset.frames}")
    stored_norm = meta.get("normalization")
    if stored_norm is not None and _json_ready(stored_norm) != _json_ready(dataset.normalization.to_dict()):
        warnings.warn("the dataset's normalisation statistics changed since the run began (data or preparation "
                      "changed?); training goes on in the run's own")
    return {k: v for k, v in stored.items() if k != "num_classes"}


def _in_trained_normalization(path: Path, dataset):
    """``dataset`` normalised as the weights in ``path`` were trained (its stored statistics), so
    a resumed or fine-tuned network keeps reading and writing the feature scale it learned; new
    data's own statistics would silently rescale every input and output. Older checkpoints
    without statistics leave the dataset's."""
    from motiongen.data.features import Normalization

    stored = ckpt.read_metadata(path).get("normalization")
    if stored is None:
        return dataset
    return replace(dataset, normalization=Normalization.of(stored))


def _initial_model_config(path: Path, model: str, model_config: dict, dataset) -> dict:
    """A fine-tune's model config: the checkpoint's, with the request's changes on top (loss
    switches and weights may change; anything that changes a tensor's shape fails on loading)."""
    meta = ckpt.read_metadata(path)
    if meta["kind"] != model:
        raise ConfigError(f"{path}: --init-from holds a {meta['kind']} model, not {model}")
    if list(meta["actions"]) != list(dataset.actions):
        raise ConfigError(f"{path}: --init-from was trained on other actions than the data's "
                          f"({', '.join(meta['actions'])} vs {', '.join(dataset.actions)})")
    stored_skeleton = ckpt.stored_skeleton(path, meta).name
    if stored_skeleton != dataset.skeleton.name:
        raise ConfigError(f"{path}: --init-from is on the {stored_skeleton} skeleton, the data on "
                          f"{dataset.skeleton.name} (train with --skeleton {stored_skeleton})")
    # the window length and frame rate are the data's, as in a new run
    stored = {k: v for k, v in dict(meta["config"]).items() if k not in ("num_classes", "frames", "fps")}
    return {**stored, **model_config}


def _initialise_from(path: Path, pair, dataset) -> None:
    """The checkpoint's generator and critic weights (an inference-only file has no critic: it
    starts fresh; so do critic parts the checkpoint lacks or holds in another shape, such as a newly
    added or motion-only auxiliary classifier, and the file's parts the new critic has switched off
    are left out); the data statistics the networks keep are then refitted to this dataset."""
    meta = ckpt.read_metadata(path)
    ckpt.verify_weights(path, meta)
    inference_only = bool(meta.get("inference_only"))
    refitted = getattr(pair.generator, "refitted_buffers", ())
    # a fine-tune may switch the generator's smoothness term off: its fitted target is then left out
    ckpt.load_state(path, pair.generator, "ema" if inference_only else "generator", refitted,
                    may_drop=SMOOTHNESS_BUFFERS)
    if pair.critic is not None:
        if inference_only:
            warnings.warn(f"{path} holds no critic (an inference-only file); the critic starts untrained "
                          "(--critic-warmup-steps N trains it alone first)")
        else:
            ckpt.load_state(path, pair.critic, "critic", getattr(pair.critic, "fresh_parameters", ()),
                            may_drop=FRESH_PARTS)
    fit_to_data(pair, dataset)


def _initialise_ema_from(path: Path, ema) -> None:
    """The moving average starts at the checkpoint's (its data statistics are the generator's)."""
    fitted = {name: buffer.clone() for name, buffer in ema.named_buffers()}
    ckpt.load_state(path, ema, "ema", getattr(ema, "refitted_buffers", ()), may_drop=SMOOTHNESS_BUFFERS)
    with torch.no_grad():
        for name, buffer in ema.named_buffers():
            buffer.copy_(fitted[name])


# --- data, latents, phases ---------------------------------------------------------------------------

def mirror_probabilities(dataset, probability: float, keep_handedness: Sequence[str]) -> float | torch.Tensor:
    """The mirror probability of each action (``[K]``: 0 for the actions in ``keep_handedness``),
    or the one number when no action is kept. Why per action: mirroring makes a one-handed action
    two modes, which the CSGN blended (both arms moving), while a gait is symmetric and gains from
    it (RESULTS, eleventh session)."""
    kept = list(dict.fromkeys(keep_handedness))
    unknown = [a for a in kept if a not in dataset.actions]
    if unknown:
        raise ConfigError(f"--keep-handedness: the data has no action {', '.join(map(repr, unknown))} "
                          f"(its actions: {', '.join(dataset.actions)})")
    if not kept:
        return float(probability)
    return torch.tensor([0.0 if a in kept else float(probability) for a in dataset.actions])


def window_weights(labels, balance: float) -> torch.Tensor | None:
    """Per-window draw weights giving action a the share windows_a^(1 − balance) / Σ (None at 0:
    plain epochs). Why: on CMU one action holds 38% of the windows and another 1.3%, so a
    class-conditional generator sees its rare labels too seldom to learn them."""
    if not balance:
        return None
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    counts = torch.bincount(labels).to(torch.float64)
    return counts[labels] ** -float(balance)


class IndexSampler:
    """Window indices from a seeded CPU generator: epoch permutations, or with ``weights`` draws
    with replacement in proportion to them."""

    def __init__(self, count: int, seed: int, weights: torch.Tensor | None = None):
        self.count = count
        self.weights = weights
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(count, generator=self.generator)
        self.cursor = 0

    def draw(self, n: int) -> torch.Tensor:
        if self.weights is not None:
            return self.pick(n, self.generator)
        parts, needed = [], n
        while needed:
            if self.cursor == self.count:
                self.order = torch.randperm(self.count, generator=self.generator)
                self.cursor = 0
            take = min(needed, self.count - self.cursor)
            parts.append(self.order[self.cursor:self.cursor + take])
            self.cursor += take
            needed -= take
        return torch.cat(parts)

    def pick(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` window indices for the generator phase's classes: uniform over windows, or by
        the same weights as the real windows, so both phases see the actions alike."""
        if self.weights is None:
            return torch.randint(self.count, (n,), generator=generator)
        return torch.multinomial(self.weights, n, replacement=True, generator=generator)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        if int(state["order"].numel()) != self.count:
            raise ConfigError(f"the dataset has {self.count} windows, the run was trained on "
                              f"{state['order'].numel()}; resume with the same data")
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.cursor = int(state["cursor"])


class BatchSource:
    """Real batches: normalised features on the device (preloaded when small), augmented."""

    def __init__(self, dataset, device: torch.device, world: distributed.World, augment: bool, seed: int,
                 mirror_probability: float | torch.Tensor = 0.5):  # one number, or one per action
        self.dataset = dataset
        self.device = device
        self.labels = torch.as_tensor(np.asarray(dataset.labels), dtype=torch.long)
        sample_bytes = 4 * 3 * int(dataset.frames) * dataset.skeleton.joint_count
        self.features = None
        if len(dataset) * sample_bytes <= PRELOAD_BYTES:  # in chunks: features() makes temporaries
            chunks = [torch.as_tensor(np.asarray(dataset.features(np.arange(start, min(start + 4096, len(dataset))))))
                      for start in range(0, len(dataset), 4096)]
            self.features = torch.cat(chunks).to(device)
        self.labels_on_device = self.labels.to(device)
        self.augment = augment
        self.mirror_probability = torch.as_tensor(mirror_probability, dtype=torch.float32)
        where = device if self.features is not None else torch.device("cpu")
        self.augment_generator = torch.Generator(device=where).manual_seed(_derive_seed(seed, "augment", world.rank))

    def real(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``[B, 3, T, V]`` and labels ``[B]`` of these window indices, on the device."""
        if self.features is not None:
            on_device = indices.to(self.device)
            features, labels = self.features[on_device], self.labels_on_device[on_device]
        else:
            features = torch.as_tensor(np.asarray(self.dataset.features(indices.numpy())))
            labels = self.labels[indices]
        if self.augment:
            from motiongen.data.augment import augment_features

            probability = (self.mirror_probability[labels.cpu()] if self.mirror_probability.ndim
                           else self.mirror_probability)
            features = augment_features(features, self.dataset.normalization, self.dataset.skeleton,
                                        self.augment_generator, probability)
        return features.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def positions(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same windows (augmented alike) as positions ``[B, T, V, 3]`` in metres."""
        from motiongen.data.features import from_features, to_channels_last

        features, labels = self.real(indices)
        return from_features(self.dataset.normalization.denormalize(to_channels_last(features))), labels


@dataclass
class LoopState:
    """Everything besides weights and optimisers that a resumed run needs."""

    sampler: IndexSampler
    label_generator: torch.Generator  # classes of the generator phase
    noise_generator: torch.Generator  # interpolation weights of the gradient penalty
    latent_base: int  # first latent seed
    latent_draws: int = 0  # latent batches drawn so far (the seeds' counter)
    step: int = 0  # generator steps done
    elapsed_s: float = 0.0  # training seconds before this session
    meter: LossMeter = field(default_factory=LossMeter)


def _draw(phase: str, state: LoopState, source: BatchSource, generator, global_batch: int, frames: int,
          world: distributed.World, device: torch.device, needs_real: Sequence[str] = ("critic",)) -> dict:
    """One phase's inputs: every rank draws the global batch and keeps its shard. Phases in
    ``needs_real`` get real windows (and their labels); a generator phase without them draws
    classes as the data has them."""
    if phase in ("vae", "classify"):  # real windows only, as positions (a VAE draws its own latents)
        indices = distributed.shard(state.sampler.draw(global_batch), world)
        positions, labels = source.positions(indices)
        return {"positions": positions, "labels": labels, "step": state.step}
    seeds = state.latent_base + state.latent_draws * global_batch + torch.arange(global_batch)
    state.latent_draws += 1
    latent = generator.make_latent(distributed.shard(seeds, world).tolist(), frames).to(device, non_blocking=True)
    if phase in needs_real:
        indices = distributed.shard(state.sampler.draw(global_batch), world)
        interpolation = distributed.shard(torch.rand(global_batch, generator=state.noise_generator), world)
        real, labels = source.real(indices)
        return {"real_features": real, "labels": labels, "latent": latent,
                "interpolation": interpolation.to(device, non_blocking=True)}
    picks = state.sampler.pick(global_batch, state.label_generator)
    labels = source.labels[distributed.shard(picks, world)].to(device, non_blocking=True)
    return {"real_features": None, "labels": labels, "latent": latent}


def _networks(pair, world: distributed.World, device: torch.device, compile: bool) -> Networks:
    generator_train = distributed.wrap(pair.generator, world, device)
    critic_train = distributed.wrap(pair.critic, world, device)
    generator_plain, critic_plain = pair.generator, pair.critic
    if compile:  # one compiled wrapper per distinct module (in a world of one, *_train is *_plain)
        cache: dict[int, Callable] = {}

        def compiled(module: nn.Module) -> Callable:
            if id(module) not in cache:
                cache[id(module)] = torch.compile(module)
            return cache[id(module)]

        generator_train, critic_train = compiled(generator_train), compiled(critic_train)
        generator_plain, critic_plain = compiled(generator_plain), compiled(critic_plain)
    return Networks(generator_train=generator_train, generator_plain=generator_plain, critic_train=critic_train,
                    critic_plain=critic_plain, critic_eager=pair.critic, generator_module=pair.generator,
                    critic_module=pair.critic)


def _check_finite(losses: dict[str, float], step: int, checkpoint: Path) -> None:
    bad = [k for k, v in losses.items() if not math.isfinite(v)]
    if bad:
        where = f"; the last checkpoint is {checkpoint}" if checkpoint.is_file() else ""
        raise TrainingDiverged(f"training diverged at step {step}: {', '.join(bad)} not finite{where}")


# --- checkpoints and resume ---------------------------------------------------------------------------

def _rank_state(state: LoopState, source: BatchSource, device: torch.device) -> dict:
    return {"rng": ckpt.global_rng_state(device), "augment": source.augment_generator.get_state()}


def _save(run_dir: Path, pair, ema, phases: list[Phase], state: LoopState, source: BatchSource,
          world: distributed.World, device: torch.device, meta: dict, snapshot: bool) -> Path:
    """Write last.safetensors + last.resume.pt (rank 0; every rank contributes its RNG states)."""
    per_rank = distributed.gather_objects(_rank_state(state, source, device), world)
    last = run_dir / (LAST + ckpt.SUFFIX)
    if world.is_main:
        resume_state = {
            "step": state.step, "elapsed_s": state.elapsed_s, "world_size": world.size,
            "optimizers": {phase.name: phase.optimizer.state_dict() for phase in phases},
            "sampler": state.sampler.state_dict(), "label_generator": state.label_generator.get_state(),
            "noise_generator": state.noise_generator.get_state(), "latent_base": state.latent_base,
            "latent_draws": state.latent_draws, "meter": state.meter.state_dict(), "ranks": per_rank,
        }
        compute_centres = getattr(ema, "compute_truncation_centres", None)
        if callable(compute_centres):
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
                compute_centres()
        ckpt.save_checkpoint(last, pair, ema, meta)
        ckpt.save_resume_state(ckpt.resume_path_for(last), resume_state)
        if snapshot:
            ckpt.save_checkpoint(ckpt.snapshot_path(run_dir, state.step), pair, ema, meta)
    distributed.barrier(world)
    return last


def _resume(last: Path, pair, ema, phases: list[Phase], state: LoopState, source: BatchSource,
            world: distributed.World, device: torch.device) -> None:
    ckpt.load_state(last, pair.generator, "generator")
    if pair.critic is not None:
        ckpt.load_state(last, pair.critic, "critic")
    ckpt.load_state(last, ema, "ema")
    resume_state = ckpt.load_resume_state(last)
    stored_step = int(ckpt.read_metadata(last).get("step", -1))
    if int(resume_state["step"]) != stored_step:
        raise ConfigError(f"{last}: resume state is for step {resume_state['step']}, weights for step "
                          f"{stored_step} (interrupted while saving?)")
    for phase in phases:
        requested = [(group["lr"], group["betas"]) for group in phase.optimizer.param_groups]
        phase.optimizer.load_state_dict(resume_state["optimizers"][phase.name])
        # The stored state carries the old rates and betas; a resume's --lr-g/--lr-d/--betas must still win.
        for group, (lr, betas) in zip(phase.optimizer.param_groups, requested):
            group["lr"] = group["initial_lr"] = lr
            group["betas"] = betas
    state.sampler.load_state_dict(resume_state["sampler"])
    state.label_generator.set_state(resume_state["label_generator"])
    state.noise_generator.set_state(resume_state["noise_generator"])
    state.latent_base = int(resume_state["latent_base"])
    state.latent_draws = int(resume_state["latent_draws"])
    state.step = int(resume_state["step"])
    state.elapsed_s = float(resume_state["elapsed_s"])
    state.meter.load_state_dict(resume_state["meter"], device)
    ranks = resume_state["ranks"]
    if int(resume_state["world_size"]) == world.size and world.rank < len(ranks):
        mine = ranks[world.rank]
        ckpt.restore_global_rng_state(mine["rng"], device)
        try:
            source.augment_generator.set_state(mine["augment"])
        except (RuntimeError, TypeError):
            warnings.warn("augmentation RNG state is for another device; reseeding it")
    else:
        warnings.warn(f"resuming a {resume_state['world_size']}-process run with {world.size} processes: "
                      "per-process random streams restart (results will not match an uninterrupted run)")
        torch.manual_seed(_derive_seed(state.step, "noise-resume", world.rank))


# --- signals ------------------------------------------------------------------------------------------

class _StopRequest:
    """SIGINT/SIGTERM set a flag the loop checks after each step; a second one acts at once."""

    def __init__(self, enabled: bool):
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}
        if enabled and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        self.signal_name = signal.Signals(signum).name
        previous = self._previous.get(signum)
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
