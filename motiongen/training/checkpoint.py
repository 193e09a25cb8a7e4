"""Checkpoints (DESIGN §7): inference artefacts apart from resume state.

``NAME.safetensors`` holds the weights — ``generator.*``, ``critic.*`` and ``ema.*`` (the moving
average of the generator, used for sampling), plus ``skeleton.offsets`` (exact fitted rest
offsets) — and, in the safetensors header, one metadata
entry ``motiongen`` with JSON: format version, model kind and config, the skeleton definition
(TOML text), action vocabulary, normalisation statistics, fps, frames, training step, versions,
creation time. Truncation centres are a generator buffer, so they travel with the weights.
Sampling needs nothing else.

``NAME.resume.pt`` beside it holds what only training needs: optimiser states, step, every RNG
state (as tensors), the data-order state. It is written with ``torch.save`` and read only with
``torch.load(weights_only=True)``; safetensors never executes anything either. Both files are
written to a temporary file and renamed into place. `export_for_inference` keeps only ``ema.*``
and the skeleton (``inference_only`` in the metadata): the shipped models are such files.
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from motiongen import __version__
from motiongen.core.skeleton import Skeleton
from motiongen.errors import CheckpointError, MotionGenError
from motiongen.formats._io import atomic_write
from motiongen.models import create_model, is_model, list_models
from motiongen.models.base import ModelPair

FORMAT_VERSION = 1
METADATA_KEY = "motiongen"
SUFFIX = ".safetensors"
RESUME_SUFFIX = ".resume.pt"
PREFIXES = ("generator", "critic", "ema")
SKELETON_OFFSETS = "skeleton.offsets"  # float64 [J, 3] metres, fitted bone lengths for IK


# --- paths -----------------------------------------------------------------------------------

def snapshot_path(run_dir: str | Path, step: int) -> Path:
    """Where a run keeps its snapshot of ``step`` (``--keep-snapshots``)."""
    return Path(run_dir) / f"step-{step:07d}{SUFFIX}"


def kept_snapshots(run_dir: str | Path) -> list[tuple[int, Path]]:
    """A run's kept snapshots as ``(step, path)``, in step order."""
    found = ((name[len("step-"):-len(SUFFIX)], path) for path in Path(run_dir).glob(f"step-*{SUFFIX}")
             for name in [path.name])
    return sorted((int(step), path) for step, path in found if step.isdigit())


def resume_path_for(checkpoint: str | Path) -> Path:
    """``run/last.safetensors`` → ``run/last.resume.pt``."""
    path = Path(checkpoint)
    name = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem
    return path.with_name(name + RESUME_SUFFIX)


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, a run folder (its ``last.safetensors``), or a shipped model's name
    (`motiongen.pretrained`)."""
    from motiongen.pretrained import resolve

    path = resolve(path)
    if path.is_dir():
        path = path / ("last" + SUFFIX)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    return path


# --- writing ---------------------------------------------------------------------------------

def _state_tensors(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share storage (tied weights, views)
    return {f"{prefix}.{name}": value.detach().to("cpu").contiguous().clone()
            for name, value in module.state_dict().items()}


def _skeleton_text(skeleton: Skeleton | str) -> str:
    if isinstance(skeleton, str):
        return skeleton
    from motiongen.skeletons import skeleton_to_toml

    return skeleton_to_toml(skeleton)


def checkpoint_metadata(pair: ModelPair, meta: dict) -> dict:
    """The JSON stored under ``motiongen``: fixed fields first, then ``meta``'s own extras."""
    meta = dict(meta)
    normalization = meta.pop("normalization", None)
    if normalization is not None and hasattr(normalization, "to_dict"):
        normalization = normalization.to_dict()
    return {
        "format_version": FORMAT_VERSION,
        "kind": pair.kind,
        "config": pair.config_dict(),
        "skeleton": _skeleton_text(meta.pop("skeleton")),
        "actions": list(meta.pop("actions", [])),
        "normalization": normalization,
        "fps": float(meta.pop("fps")),
        "frames": int(meta.pop("frames")),
        "step": int(meta.pop("step", 0)),
        "versions": {"motiongen": __version__, "torch": torch.__version__},
        "created": _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds"),
        **meta,
    }


def weights_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor (sorted by name; name, dtype, shape and bytes), independent of
    how the safetensors file lays them out. A frozen recogniser is cited by it, so two evaluations
    say whether they used the same network."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | Path, pair: ModelPair, ema_generator: nn.Module | None, meta: dict) -> Path:
    """Write ``path`` (``*.safetensors``) atomically. ``meta`` needs ``skeleton`` (a Skeleton or
    its TOML text), ``actions``, ``normalization`` (dict or object with ``to_dict``), ``fps``,
    ``frames``, ``step``; other JSON-serialisable entries are stored as given."""
    path = Path(path)
    tensors = _state_tensors("generator", pair.generator)
    if pair.critic is not None:  # likelihood models (HG-VAE) have none
        tensors.update(_state_tensors("critic", pair.critic))
    tensors.update(_state_tensors("ema", ema_generator if ema_generator is not None else pair.generator))
    skeleton = meta.get("skeleton")
    if isinstance(skeleton, Skeleton):  # exact rest offsets (the TOML text keeps 9 digits)
        tensors[SKELETON_OFFSETS] = torch.from_numpy(skeleton.offsets.copy())
    metadata = checkpoint_metadata(pair, meta)
    metadata["weights_sha256"] = weights_sha256(tensors)  # what evaluations cite; checked on load
    header = json.dumps(metadata, allow_nan=False)
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: header})
    with atomic_write(path, binary=True) as stream:
        stream.write(data)
    return path


def save_resume_state(path: str | Path, state: dict) -> Path:
    """``torch.save`` of plain containers of tensors and numbers, atomically."""
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buffer)
    with atomic_write(path, binary=True) as stream:
        stream.write(buffer.getvalue())
    return Path(path)


# --- reading ---------------------------------------------------------------------------------

@dataclass
class LoadedCheckpoint:
    path: Path
    kind: str  # registry name of the model
    config: dict  # the model's config dataclass as a dict
    skeleton: Skeleton
    actions: list[str]
    normalization: dict | None  # `motiongen.data` statistics, as stored (from_dict to use them)
    fps: float
    frames: int  # window length trained on
    step: int  # generator steps trained
    pair: ModelPair  # generator = EMA weights unless loaded with ema=False
    meta: dict = field(default_factory=dict)  # the whole stored JSON


def read_metadata(path: str | Path) -> dict:
    """The stored JSON of a checkpoint, checked for a known format version (no weights read)."""
    path = resolve_checkpoint_path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({reason})") from None
    if METADATA_KEY not in header:
        raise CheckpointError(f"{path}: safetensors file without motiongen metadata (not a motiongen checkpoint)")
    try:
        meta = json.loads(header[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: motiongen metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: motiongen metadata is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unknown checkpoint format version {version!r} "
                              f"(this motiongen {__version__} reads version {FORMAT_VERSION})")
    missing = [k for k in ("kind", "config", "skeleton", "actions", "fps", "frames") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: motiongen metadata lacks {', '.join(missing)}")
    if not is_model(meta["kind"]):
        known = ", ".join(list_models()) or "none"
        raise CheckpointError(f"{path}: unknown model kind {meta['kind']!r} (known: {known})")
    return meta


def read_tensors(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix.`` with the prefix removed, on the CPU."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key[len(prefix) + 1:]: handle.get_tensor(key)
                    for key in handle.keys() if key.startswith(prefix + ".")}
    except (SafetensorError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: cannot read weights ({reason})") from None


def load_state(path: Path, module: nn.Module, prefix: str, may_lack: Sequence[str] = (),
               may_drop: tuple[str, ...] = ()) -> None:
    """Load ``prefix.*`` into ``module``, every key and shape matching; the module's own values
    stand for keys in ``may_lack`` that the file does not hold or holds in another shape
    (statistics refitted to the data after loading, which an older checkpoint did not save; parts
    a fine-tune starts afresh, such as an auxiliary classifier that now reads other inputs); the
    file's keys starting with a ``may_drop`` prefix that the module lacks are left out (a part the
    fine-tune switched off)."""
    state = read_tensors(path, prefix)
    if not state and list(module.state_dict()):
        raise CheckpointError(f"{path}: holds no {prefix} weights")
    own = module.state_dict()
    if may_drop:
        state = {name: value for name, value in state.items() if name in own or not name.startswith(may_drop)}
    if may_lack:
        state.update({name: own[name] for name in may_lack
                      if name in own and (name not in state or state[name].shape != own[name].shape)})
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{path}: {prefix} weights do not fit the model ({detail})") from None


def stored_skeleton(path: Path, meta: dict) -> Skeleton:
    """The skeleton a checkpoint was trained on, with its exact fitted bone offsets."""
    from motiongen.skeletons import skeleton_from_toml_text

    try:
        skeleton = skeleton_from_toml_text(meta["skeleton"], origin=f"{path} (stored skeleton)")
    except MotionGenError as exc:
        raise CheckpointError(f"{path}: stored skeleton is invalid ({exc})") from None
    offsets = read_tensors(path, "skeleton").get("offsets")
    if offsets is not None and tuple(offsets.shape) == (skeleton.joint_count, 3):
        skeleton = skeleton.with_offsets(offsets.double().numpy())
    return skeleton


def build_pair(path: Path, meta: dict) -> tuple[ModelPair, Skeleton]:
    skeleton = stored_skeleton(path, meta)
    config = {k: v for k, v in dict(meta["config"]).items() if k != "num_classes"}
    try:
        pair = create_model(meta["kind"], skeleton, num_classes=len(meta["actions"]), **config)
    except (MotionGenError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild the {meta['kind']} model from its stored config "
                              f"({exc})") from None
    return pair, skeleton


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> LoadedCheckpoint:
    """Rebuild the model pair of a checkpoint (a file or a run folder) with its weights.

    The generator gets the EMA weights (what sampling should use) unless ``ema=False``; both
    networks are in eval mode on ``device``."""
    path = resolve_checkpoint_path(path)
    meta = read_metadata(path)
    verify_weights(path, meta)
    pair, skeleton = build_pair(path, meta)
    if meta.get("inference_only"):
        if not ema:
            raise CheckpointError(f"{path}: an inference-only file holds the EMA generator alone (no raw "
                                  "generator weights)")
        pair = ModelPair(kind=pair.kind, config=pair.config, generator=pair.generator, critic=None)
    load_state(path, pair.generator, "ema" if ema else "generator")
    pair.generator.to(device).eval()
    if pair.critic is not None:
        load_state(path, pair.critic, "critic")
        pair.critic.to(device).eval()
    return LoadedCheckpoint(path=path, kind=meta["kind"], config=dict(meta["config"]), skeleton=skeleton,
                            actions=list(meta["actions"]), normalization=meta.get("normalization"),
                            fps=float(meta["fps"]), frames=int(meta["frames"]), step=int(meta.get("step", 0)),
                            pair=pair, meta=meta)


def verify_weights(path: Path, meta: dict) -> None:
    """Refuse a file whose tensors no longer hash to the stored ``weights_sha256`` (older
    checkpoints, written before the digest was stored, are taken as they are)."""
    stored = meta.get("weights_sha256")
    if stored is None:
        return
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: cannot read weights ({reason})") from None
    if weights_sha256(tensors) != stored:
        raise CheckpointError(f"{path}: the weights do not match their stored SHA-256 (the file was altered)")


def load_resume_state(path: str | Path) -> dict[str, Any]:
    """The resume file beside a checkpoint (or the file itself), loaded with ``weights_only=True``."""
    path = Path(path)
    if path.name.endswith(SUFFIX):
        path = resume_path_for(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: resume state not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling refused or a corrupt archive: one line either way
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a motiongen resume file ({reason})") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        version = state.get("format_version") if isinstance(state, dict) else None
        raise CheckpointError(f"{path}: unknown resume format version {version!r} (expected {FORMAT_VERSION})")
    return state


# --- random number generator states (resume) --------------------------------------------------

def global_rng_state(device: torch.device) -> dict[str, Any]:
    """Every global RNG this process uses, as tensors (loadable with ``weights_only=True``)."""
    import random

    import numpy as np

    numpy_state = np.random.get_state()
    python_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "numpy_position": int(numpy_state[2]),
        "numpy_gauss": [int(numpy_state[3]), float(numpy_state[4])],
        "python": torch.tensor(python_state[1], dtype=torch.int64),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_global_rng_state(state: dict[str, Any], device: torch.device) -> None:
    import random

    import numpy as np

    torch.set_rng_state(state["torch"])
    has_gauss, gauss = state["numpy_gauss"]
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), int(state["numpy_position"]),
                         int(has_gauss), float(gauss)))
    random.setstate((3, tuple(int(v) for v in state["python"].tolist()), None))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def export_for_inference(path: str | Path, output: str | Path, settings: dict[str, Any] | None = None,
                         with_critic: bool = False, **entries: Any) -> Path:
    """Write ``output``: the checkpoint's EMA generator and skeleton offsets only (no critic, no
    raw generator — what sampling and imputation load, a third of a training checkpoint), its
    metadata with ``inference_only`` and ``entries`` added and the weights' SHA-256 recomputed.
    ``settings`` replace model config fields that only sampling reads (e.g. a generator's default
    ``truncation``); the model must already have them.

    ``with_critic`` keeps the raw generator and the critic too (metadata ``fine_tunable``, not
    ``inference_only``). Why: a GAN fine-tuned from its EMA generator alone gets an untrained
    critic, whose first gradients undo the generator (a CSGN fell from 67% of its samples read as
    asked to 23% in 500 steps); with the critic it trained against, ``train --init-from`` goes on
    where the run stopped, losing only the optimisers' moments."""
    path = resolve_checkpoint_path(path)
    meta = read_metadata(path)
    verify_weights(path, meta)
    unknown = sorted(set(settings or {}) - set(meta["config"]))
    if unknown:
        raise CheckpointError(f"{path}: a {meta['kind']} model has no setting {', '.join(unknown)}")
    meta["config"] = {**meta["config"], **(settings or {})}
    build_pair(path, meta)  # the settings must make a valid model
    kept = ("ema.", "generator.", "critic.") if with_critic else ("ema.",)
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()
                   if key.startswith(kept) or key == SKELETON_OFFSETS}
    if not any(key.startswith("ema.") for key in tensors):
        raise CheckpointError(f"{path}: holds no ema weights to export")
    if with_critic and not any(key.startswith("critic.") for key in tensors):
        raise CheckpointError(f"{path}: holds no critic to keep (an inference-only file, or a model without one)")
    meta.update(entries, weights_sha256=weights_sha256(tensors),
                **({"fine_tunable": True} if with_critic else {"inference_only": True}))
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(meta, allow_nan=False)})
    with atomic_write(Path(output), binary=True) as stream:
        stream.write(data)
    return Path(output)


def export_average(paths: Sequence[str | Path], output: str | Path) -> Path:
    """Write ``output``: an inference-only file (as `export_for_inference`) whose generator is
    the uniform average of the EMA generators in ``paths`` (snapshots of one run), its metadata
    the last snapshot's with ``averaged_from`` (path, step, SHA-256 of each). Integer buffers
    (batch-norm counters) are the last snapshot's; truncation centres are recomputed on the
    averaged weights. Why: a moving average over a few hundred steps still follows a conditional
    GAN that oscillates between the actions it renders well; averaging along the later trajectory
    is the longer average after the fact (Yazıcı et al., ICLR 2019)."""
    paths = [resolve_checkpoint_path(p) for p in paths]
    if not paths:
        raise CheckpointError("nothing to average: give at least one checkpoint")
    metas = [read_metadata(p) for p in paths]
    last, last_meta = paths[-1], metas[-1]
    for path, meta in zip(paths, metas):
        verify_weights(path, meta)
        if (meta["kind"], meta["config"], meta["actions"]) != (last_meta["kind"], last_meta["config"],
                                                                last_meta["actions"]):
            raise CheckpointError(f"{path}: not the same model as {last} (kind, config or actions differ); "
                                  "average snapshots of one run")
    averaged: dict[str, torch.Tensor] = {}
    for path in paths:
        for name, tensor in read_tensors(path, "ema").items():
            if tensor.is_floating_point():
                averaged[name] = averaged.get(name, 0) + tensor.double() / len(paths)
            else:
                averaged[name] = tensor  # the last snapshot's
    pair, _ = build_pair(last, last_meta)
    generator = pair.generator
    reference = generator.state_dict()
    generator.load_state_dict({name: value.to(reference[name].dtype) for name, value in averaged.items()})
    if hasattr(generator, "compute_truncation_centres"):
        generator.compute_truncation_centres()
    tensors = _state_tensors("ema", generator)
    with safe_open(str(last), framework="pt") as handle:
        if SKELETON_OFFSETS in handle.keys():
            tensors[SKELETON_OFFSETS] = handle.get_tensor(SKELETON_OFFSETS)
    meta = {**last_meta, "inference_only": True,
            "averaged_from": [{"path": str(p), "step": int(m.get("step", 0)), "weights_sha256": m.get("weights_sha256")}
                              for p, m in zip(paths, metas)]}
    meta["weights_sha256"] = weights_sha256(tensors)
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(meta, allow_nan=False)})
    with atomic_write(Path(output), binary=True) as stream:
        stream.write(data)
    return Path(output)


def update_metadata(path: str | Path, **entries: Any) -> Path:
    """Add or replace top-level entries of a checkpoint's JSON (e.g. a calibrated threshold),
    rewriting the file atomically with the same tensors."""
    path = resolve_checkpoint_path(path)
    meta = read_metadata(path)
    meta.update(entries)
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(meta, allow_nan=False)})
    with atomic_write(path, binary=True) as stream:
        stream.write(data)
    return path
