"""``train_from_options``: what ``motiongen train`` calls — resolve options (explicit, else the
run's own when resuming, else defaults), prepare the dataset (cached), build the model, run
`motiongen.training.train`. ``dry_run`` returns the resolved configuration without training.

Under torchrun every process calls this; rank 0 prepares (and caches) the dataset first, the
others then read the cache.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from motiongen.errors import ConfigError

# The defaults of every option (None: decided later, e.g. the skeleton's own fps).
DEFAULTS: dict[str, Any] = {
    "skeleton": None, "frames": 64, "fps": None, "stride": None, "layout": None, "labels": None,
    "holdout_subjects": [], "batch_size": 32, "steps": None, "epochs": None, "lr_generator": 2e-4,
    "lr_critic": 2e-4, "lr_decay_steps": 0, "critic_warmup_steps": 0, "betas": [0.5, 0.999], "n_critic": 5,
    "gp_weight": 10.0, "drift_weight": 0.0, "grad_clip_norm": None, "ema_halflife_steps": 500.0, "precision": "fp32",
    "compile": False, "device": "auto", "seed": 0, "snapshot_every_steps": 1000, "keep_snapshots": False,
    "log_every_steps": 50, "render_every_steps": 1000, "augment": True, "mirror_probability": 0.5,
    "keep_handedness": [], "balance_actions": 0.0, "model_config": {},
    "recognizer": None, "evaluate_every_steps": 0, "init_from": None,
}
# Where a model's paper asks for other values (HG-VAE: 50-frame windows, Adam 1e-4, gradient
# norms clipped at 100; one phase, so an epoch is one pass of that phase).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "hgvae": {"frames": 50, "lr_generator": 1e-4, "grad_clip_norm": 100.0, "n_critic": 1,
              "model_config": {"canonical_facing": True}},
    # LARNet: most of its signal is supervised (latent MSE, reconstruction), so two critic steps
    # per generator step keep the critics ahead of it; a shorter EMA suits its faster training.
    "larnet": {"frames": 64, "n_critic": 2, "lr_generator": 3e-4, "lr_critic": 3e-4, "ema_halflife_steps": 200.0},
    # ST-GCN trains with SGD at 0.1; Adam at 1e-3 gets there in fewer steps on a CPU. A short EMA:
    # the frozen recogniser should be the weights at the end, barely smoothed.
    "recognizer": {"frames": 64, "lr_generator": 1e-3, "betas": [0.9, 0.999], "n_critic": 1,
                   "ema_halflife_steps": 50.0, "render_every_steps": 0, "steps": 2000},
}
DEFAULT_STEPS = 10_000
MAX_FRAMES = 100_000
# ``--channels`` (the generator's widths) is spelt differently by each model's config dataclass.
GENERATOR_WIDTHS_FIELD = {"kinetic-gan": "generator_channels", "csgn": "channels"}
# Options a resumed run may change (the rest must match the run, or the weights/data would not fit).
CHANGEABLE_ON_RESUME = {"steps", "epochs", "lr_generator", "lr_critic", "lr_decay_steps", "critic_warmup_steps",
                        "betas", "n_critic", "gp_weight", "drift_weight", "grad_clip_norm", "ema_halflife_steps",
                        "precision", "compile", "device", "snapshot_every_steps", "keep_snapshots",
                        "log_every_steps", "render_every_steps", "augment", "mirror_probability", "keep_handedness",
                        "batch_size", "recognizer",
                        "evaluate_every_steps"}


@dataclass
class ResolvedTraining:
    """The dry-run answer: everything `train` would be called with."""

    model: str
    data: str
    run_dir: str
    options: dict[str, Any]
    total_steps: int
    resume: bool
    world_size: int
    dataset: dict[str, Any] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --- options ---------------------------------------------------------------------------------------

def resolve_options(given: dict[str, Any], saved: dict[str, Any] | None, model: str | None = None) -> dict[str, Any]:
    """Explicit options win, then the resumed run's, then the model's `MODEL_DEFAULTS`, then `DEFAULTS`."""
    resolved = {**DEFAULTS, **MODEL_DEFAULTS.get(model or "", {})}
    if saved:
        resolved.update({k: v for k, v in saved.items() if k in DEFAULTS})
    for key, value in given.items():
        if value is None:
            continue
        if key == "model_config":
            if saved and value:
                _same_on_resume("model_config", {**resolved["model_config"], **value}, resolved["model_config"])
            resolved["model_config"] = {**resolved["model_config"], **value}
            continue
        if saved and key not in CHANGEABLE_ON_RESUME and key in saved:
            _same_on_resume(key, value, saved[key])
        resolved[key] = value
    if given.get("steps") is not None and given.get("epochs") is None:
        resolved["epochs"] = None  # an explicit length replaces the run's own
    elif given.get("epochs") is not None and given.get("steps") is None:
        resolved["steps"] = None
    return resolved


def _same_on_resume(key: str, value, stored) -> None:
    if json.loads(json.dumps(value, default=str)) != json.loads(json.dumps(stored, default=str)):
        flag = "--" + key.replace("_", "-")
        raise ConfigError(f"--resume: {flag} {value!r} differs from the run's {stored!r} (it cannot change mid-run)")


def check_options(options: dict[str, Any]) -> None:
    """Refuse impossible requests before reading any data."""
    frames = options["frames"]
    if isinstance(frames, bool) or not isinstance(frames, int) or not 2 <= frames <= MAX_FRAMES:
        raise ConfigError(f"--frames must be between 2 and {MAX_FRAMES}, got {frames}")
    if options["steps"] is not None and options["epochs"] is not None:
        raise ConfigError("give --steps or --epochs, not both")
    steps = options["steps"]
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"--steps must be a whole number ≥ 1, got {steps}")
    epochs = options["epochs"]
    if epochs is not None and not (math.isfinite(epochs) and epochs > 0):
        raise ConfigError(f"--epochs must be a positive number, got {epochs}")
    batch = options["batch_size"]
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"--batch-size must be a whole number ≥ 1, got {batch}")
    every = options["evaluate_every_steps"]
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ConfigError(f"--eval-every must be a whole number ≥ 0, got {every}")
    if every and not options["recognizer"]:
        raise ConfigError("--eval-every needs --recognizer (a frozen recogniser: motiongen train recognizer ...)")
    balance = options["balance_actions"]
    if isinstance(balance, bool) or not isinstance(balance, (int, float)) or not 0.0 <= balance <= 1.0:
        raise ConfigError(f"--balance-actions must be a number in [0, 1], got {balance}")
    mirror = options["mirror_probability"]
    if isinstance(mirror, bool) or not isinstance(mirror, (int, float)) or not 0.0 <= mirror <= 1.0:
        raise ConfigError(f"--mirror-probability must be a number in [0, 1], got {mirror}")
    betas = options["betas"]
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0.0 <= b < 1.0 for b in betas):
        raise ConfigError(f"--betas must be two numbers in [0, 1) (Adam's β1,β2), got {','.join(map(str, betas))}")
    fps = options["fps"]
    if fps is not None and not (math.isfinite(fps) and 0 < fps < 100_000):
        raise ConfigError(f"--fps must be between 0 and 100000, got {fps}")


def total_steps_for(options: dict[str, Any], windows: int, world_size: int) -> int:
    """Generator steps: ``--steps``, or ``--epochs`` × windows ÷ (global batch × n_critic)
    (an epoch = the critic has seen every window once)."""
    if options["steps"] is not None:
        return int(options["steps"])
    if options["epochs"] is not None:
        per_step = options["batch_size"] * world_size * options["n_critic"]
        return max(1, math.ceil(options["epochs"] * windows / per_step))
    return DEFAULT_STEPS


def _defaults_from_checkpoint(options: dict[str, Any], model: str | None) -> str:
    """A fine-tune (``--init-from``) trains the checkpoint's model on its skeleton, window length
    and frame rate unless told otherwise; returns the model name."""
    from motiongen.training import checkpoint as ckpt

    path = ckpt.resolve_checkpoint_path(options["init_from"])
    options["init_from"] = str(path.resolve())  # absolute: config.json is read from anywhere
    meta = ckpt.read_metadata(path)
    if model is not None and model != meta["kind"]:
        raise ConfigError(f"{path}: --init-from holds a {meta['kind']} model, not {model}")
    if options.get("skeleton") is None:
        options["skeleton"] = ckpt.stored_skeleton(path, meta).name
    if options.get("frames") is None:
        options["frames"] = int(meta["frames"])
    if options.get("fps") is None:
        options["fps"] = float(meta["fps"])
    stored = {k: v for k, v in dict(meta["config"]).items() if k not in ("num_classes", "frames", "fps")}
    options["model_config"] = {**stored, **(options.get("model_config") or {})}
    return meta["kind"]


def _saved_options(run_dir: Path) -> tuple[str | None, str | None, dict[str, Any]]:
    config_path = run_dir / "config.json"
    if not (run_dir / "last.safetensors").is_file():
        raise ConfigError(f"--resume {run_dir}: no checkpoint there (last.safetensors missing)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--resume {run_dir}: cannot read config.json ({exc})") from None
    options = dict(config.get("options") or {})
    return config.get("model"), options.pop("data", None), options


# --- the call --------------------------------------------------------------------------------------

def train_from_options(
    model: str | None = None,
    data: str | Path | None = None,
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    dry_run: bool = False,
    progress: Callable | None = None,
    data_progress: Callable[[int, int], None] | None = None,
    **options: Any,
):
    """Prepare data, build the model and train; returns a `TrainResult`, or the resolved
    configuration (`ResolvedTraining`) with ``dry_run``.

    model: registry name. data: dataset folder, manifest or NTU array (see `prepare_dataset`).
    out: run folder (default ``runs/<model>``). resume: a run folder to continue (model, data and
    options default to the run's own). options: any key of `DEFAULTS` (None = unset)."""
    from motiongen.models import is_model

    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown training options: {', '.join(unknown)}")
    saved = None
    if resume is not None and options.get("init_from") is not None:
        raise ConfigError("--init-from starts a new run from a checkpoint; --resume continues a run: give one")
    if options.get("init_from") is not None:
        model = _defaults_from_checkpoint(options, model)
    if resume is not None:
        resume = Path(resume)
        if out is not None and Path(out).resolve() != resume.resolve():
            raise ConfigError(f"--resume {resume} continues that run in place; drop --out {out}")
        saved_model, saved_data, saved = _saved_options(resume)
        if model is not None and saved_model is not None and model != saved_model:
            raise ConfigError(f"--resume {resume}: the run trains {saved_model!r}, not {model!r}")
        model = model or saved_model
        data = data if data is not None else saved_data
    if model is None:
        from motiongen.models import list_models

        raise ConfigError(f"name a model to train: {', '.join(list_models())}")
    if not is_model(model):
        raise ConfigError(unknown_model_message(model))
    if data is None:
        raise ConfigError("--data is required (a dataset folder, manifest or NTU array)")
    data = Path(data)
    if not data.exists():
        raise ConfigError(f"{data}: no such dataset folder or file")
    config = options.get("model_config")
    if config and "channels" in config and GENERATOR_WIDTHS_FIELD.get(model, "channels") != "channels":
        config = dict(config)
        config[GENERATOR_WIDTHS_FIELD[model]] = config.pop("channels")
        options["model_config"] = config
    resolved = resolve_options(options, saved, model)
    check_options(resolved)
    run_dir = resume if resume is not None else Path(out) if out is not None else Path("runs") / model
    if resume is None and not dry_run and (run_dir / "last.safetensors").is_file():
        raise ConfigError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                          "or choose another --out")

    from motiongen.training import distributed
    from motiongen.training.loop import resolve_device, train

    device = resolve_device(resolved["device"])
    with distributed.joined(device.type) as world:
        dataset = _prepare(data, resolved, world, data_progress)
        total_steps = total_steps_for(resolved, len(dataset), world.size)
        stored = {"data": str(data.resolve()), **resolved}  # absolute paths: --resume works from anywhere
        if stored["labels"] is not None:
            stored["labels"] = str(Path(stored["labels"]).resolve())
        if dry_run:
            return _dry_run(model, data, run_dir, resolved, stored, total_steps, resume is not None, world, dataset)
        return train(
            model=model, dataset=dataset, run_dir=run_dir, total_steps=total_steps,
            batch_size=resolved["batch_size"], model_config=resolved["model_config"],
            lr_generator=resolved["lr_generator"], lr_critic=resolved["lr_critic"],
            lr_decay_steps=resolved["lr_decay_steps"], critic_warmup_steps=resolved["critic_warmup_steps"],
            betas=tuple(resolved["betas"]),
            n_critic=resolved["n_critic"], gp_weight=resolved["gp_weight"], drift_weight=resolved["drift_weight"],
            grad_clip_norm=resolved["grad_clip_norm"], ema_halflife_steps=resolved["ema_halflife_steps"],
            precision=resolved["precision"], compile=resolved["compile"], device=resolved["device"],
            seed=resolved["seed"], snapshot_every_steps=resolved["snapshot_every_steps"],
            keep_snapshots=resolved["keep_snapshots"], log_every_steps=resolved["log_every_steps"],
            render_every_steps=resolved["render_every_steps"], augment=resolved["augment"],
            mirror_probability=resolved["mirror_probability"], keep_handedness=resolved["keep_handedness"],
            balance_actions=resolved["balance_actions"], resume=resume is not None, init_from=resolved["init_from"],
            progress=progress,
            evaluate_every_steps=resolved["evaluate_every_steps"],
            evaluator=_evaluator(data, resolved, dataset, world),
            extra_config={"options": stored},
        )


def _evaluator(data: Path, options: dict[str, Any], dataset, world):
    """The periodic evaluation of a generator (`motiongen.api.evaluate.periodic_evaluator`) on rank 0."""
    if not options["evaluate_every_steps"] or not world.is_main:
        return None
    from motiongen.api.evaluate import periodic_evaluator

    return periodic_evaluator(options["recognizer"], data, dataset, device=options["device"])


def _prepare(data: Path, options: dict[str, Any], world, data_progress):
    """The training split of the dataset; rank 0 fills the cache before the others read it."""
    from motiongen.data import prepare_dataset
    from motiongen.training import distributed

    def prepare():
        return prepare_dataset(
            data, skeleton=options["skeleton"], frames=options["frames"], fps=options["fps"],
            stride=options["stride"], layout=options["layout"],
            labels=None if options["labels"] is None else Path(options["labels"]),
            holdout_subjects=tuple(options["holdout_subjects"] or ()),
            progress=data_progress if world.is_main else None)

    dataset = prepare() if world.is_main else None
    distributed.barrier(world)
    if dataset is None:
        dataset = prepare()
    return dataset.split("train") if "train" in dataset.split_names() else dataset


def unknown_model_message(name: str) -> str:
    import difflib

    from motiongen.models import list_models

    known = list_models()
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(known) or 'none'}"
    return f"unknown model {name!r}; {hint}"


def _dry_run(model, data, run_dir, options, stored, total_steps, resume, world, dataset) -> ResolvedTraining:
    from motiongen.training.loop import build_model

    pair = build_model(model, dataset, options["model_config"])
    config = pair.config_dict()
    return ResolvedTraining(
        model=model, data=str(data), run_dir=str(run_dir), options=stored, total_steps=total_steps, resume=resume,
        world_size=world.size,
        dataset={"windows": len(dataset), "frames": dataset.frames, "fps": dataset.fps,
                 "skeleton": dataset.skeleton.name, "joints": dataset.skeleton.joint_count,
                 "actions": list(dataset.actions), "windows_per_action": dataset.label_counts()},
        model_config=json.loads(json.dumps(config, default=str)),
        parameters={"generator": sum(p.numel() for p in pair.generator.parameters()),
                    "critic": sum(p.numel() for p in pair.critic.parameters()) if pair.critic is not None else 0},
    )
