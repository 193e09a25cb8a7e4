"""``impute``: fill missing joints of motion files with an HG-VAE checkpoint (DESIGN §6.4).

Inputs: ``.npy`` ``[T, J, 3]`` / ``[N, T, J, 3]`` with NaN where values are missing (written back
in the same shape), or any motion file motiongen reads, with NaN joints or a ``mask`` (``.npy``
bool ``[T, J]`` or ``[N, T, J]``, True where the joint is observed — `Motion.mask`'s convention),
written back in the same format. The skeleton is the model's when the joint count matches (or
``skeleton`` says which), else a registry skeleton retargeted to the model's and back; observed
values are returned exactly as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError, MotionGenError
from motiongen.formats import detect_format, read_motions, write_motions
from motiongen.formats._io import atomic_write
from motiongen.inference.imputation import DEFAULT_LR, DEFAULT_STEPS, check_sequence, impute_sequences
from motiongen.retarget import retarget
from motiongen.skeletons import list_skeletons, load_skeleton


@dataclass
class SequenceReport:
    name: str
    frames: int
    missing_fraction: float
    score_before: float
    score_after: float
    out_of_distribution: bool | None  # None: the checkpoint has no calibrated range

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ImputeResult:
    output: Path | None
    sequences: list[SequenceReport] = field(default_factory=list)
    typical_range: tuple[float, float] | None = None  # scores of held-out real windows (calibrated)
    skeleton: str = ""

    def to_dict(self) -> dict:
        return {"output": None if self.output is None else str(self.output), "skeleton": self.skeleton,
                "typical_range": None if self.typical_range is None else list(self.typical_range), "sequences": [s.to_dict() for s in self.sequences]}


def load_imputer(model: str | Path, device: str = "cpu"):
    """An HG-VAE checkpoint's model (EMA weights, eval mode) and the loaded checkpoint."""
    from motiongen.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(model, device=device)
    if checkpoint.kind != "hgvae":
        raise ConfigError(f"{checkpoint.path}: a {checkpoint.kind} checkpoint; impute needs an hgvae one "
                          "(motiongen train hgvae --data ...)")
    return checkpoint.pair.generator, checkpoint


def default_output(path: Path) -> Path:
    """walk.npy → walk.imputed.npy"""
    return path.with_name(f"{path.stem}.imputed{path.suffix}")


def impute(input_path: str | Path, model: str | Path, output: str | Path | None = None, mask: str | Path | None = None,
           skeleton: str | None = None, steps: int = DEFAULT_STEPS, init: str = "mean", lr: float = DEFAULT_LR,
           device: str = "cpu", on_batch: Callable[[int], None] | None = None,
           on_start: Callable[[int], None] | None = None) -> ImputeResult:
    """Impute ``input_path`` and write the result (default ``INPUT.imputed.EXT``)."""
    from motiongen.api.sample import resolve_device

    input_path = Path(input_path)
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ConfigError(f"--steps must be a whole number ≥ 1, got {steps!r}")
    output = Path(output) if output is not None else default_output(input_path)
    if str(output) != "-" and output.resolve() == input_path.resolve():
        raise ConfigError(f"-o {output}: refusing to overwrite the input")
    torch_device = resolve_device(device)
    network, checkpoint = load_imputer(model, torch_device)
    raw = input_path.suffix.lower() == ".npy"
    if raw:
        (arrays, dimensions), motions = _read_npy(input_path), None
    else:
        detect_format(input_path)  # an unknown suffix fails here, naming the file
        motions = read_motions(input_path)
        arrays = [m.positions.copy() for m in motions]
    if mask is not None:
        arrays = _apply_mask(arrays, Path(mask), input_path)
    source = _input_skeleton(arrays[0].shape[1], skeleton, checkpoint.skeleton, input_path,
                             None if motions is None else motions[0].skeleton)
    for k, array in enumerate(arrays):
        check_sequence(array, _name(input_path, k, len(arrays)), source.joint_count)
    in_model = [_to_model(a, source, checkpoint.skeleton, checkpoint.fps) for a in arrays]
    if on_start is not None:
        on_start(sum(_window_count(len(a), int(checkpoint.frames)) for a in in_model))
    results = impute_sequences(network, in_model, steps=int(steps), init=init, lr=lr, device=torch_device,
                               on_batch=on_batch)
    filled = [_from_model(r.positions, a, source, checkpoint.skeleton, checkpoint.fps)
              for r, a in zip(results, arrays)]
    stored = checkpoint.meta.get("ood_typical_range")
    typical = None if stored is None else (float(stored[0]), float(stored[1]))
    report = ImputeResult(output=output, typical_range=typical, skeleton=source.name)
    for k, (result, array) in enumerate(zip(results, arrays)):
        report.sequences.append(SequenceReport(
            name=_name(input_path, k, len(arrays)), frames=len(array),
            missing_fraction=float((~np.isfinite(array)).mean()), score_before=result.score_before,
            score_after=result.score_after,
            out_of_distribution=None if typical is None else not typical[0] <= result.score_after <= typical[1]))
    if raw:
        stacked = filled[0] if dimensions == 3 else np.stack(filled)
        with atomic_write(output, binary=True) as stream:
            np.save(stream, stacked.astype(np.float32), allow_pickle=False)
    else:
        written = [_write_ready(m, f, a) for m, f, a in zip(motions, filled, arrays)]
        write_motions(written, output, detect_format(input_path).NAME if str(output) == "-" else None)
    return report


# --- reading ------------------------------------------------------------------------------------------

def _read_npy(path: Path) -> tuple[list[np.ndarray], int]:
    """The sequences of a ``.npy`` and whether it was ``[T, J, 3]`` (3) or ``[N, T, J, 3]`` (4)."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a plain numeric array ({exc})") from None
    if not np.issubdtype(array.dtype, np.number):
        raise ConfigError(f"{path}: expected numbers, got {array.dtype}")
    if array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise ConfigError(f"{path}: expected positions [T, J, 3] or [N, T, J, 3], got shape {list(array.shape)}")
    array = array.astype(np.float32)
    return ([array] if array.ndim == 3 else list(array)), array.ndim


def _apply_mask(arrays: list[np.ndarray], mask_path: Path, input_path: Path) -> list[np.ndarray]:
    try:
        mask = np.load(mask_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{mask_path}: cannot read the mask ({exc})") from None
    if mask.dtype != bool:
        raise ConfigError(f"{mask_path}: the mask must be a bool array (True = observed), got {mask.dtype}")
    shape = arrays[0].shape[:2]
    if mask.shape == shape and len(arrays) >= 1 and all(a.shape[:2] == shape for a in arrays):
        masks = [mask] * len(arrays)
    elif mask.shape == (len(arrays), *shape):
        masks = list(mask)
    else:
        raise ConfigError(f"{mask_path}: mask shape {list(mask.shape)} does not fit {input_path} "
                          f"({len(arrays)} × [T={shape[0]}, J={shape[1]}]); expected [T, J] or [N, T, J]")
    return [np.where(m[..., None], a, np.nan).astype(np.float32) for a, m in zip(arrays, masks)]


def _input_skeleton(joints: int, name: str | None, model_skeleton: Skeleton, path: Path,
                    file_skeleton: Skeleton | None) -> Skeleton:
    if name is not None:
        skeleton = load_skeleton(name)
        if skeleton.joint_count != joints:
            raise ConfigError(f"{path}: {joints} joints, but --skeleton {name} has {skeleton.joint_count}")
        return skeleton
    if file_skeleton is not None and file_skeleton.joint_count == joints:
        return model_skeleton if file_skeleton.same_layout(model_skeleton) else file_skeleton
    if joints == model_skeleton.joint_count:
        return model_skeleton
    fits = [s for s in (load_skeleton(n) for n in list_skeletons()) if s.joint_count == joints]
    if not fits:
        raise ConfigError(f"{path}: {joints} joints; the model knows {model_skeleton.name} "
                          f"({model_skeleton.joint_count} joints) and no registry skeleton has {joints} "
                          "(give --skeleton)")
    return fits[0]


def _to_model(array: np.ndarray, source: Skeleton, model: Skeleton, fps: float) -> np.ndarray:
    if source.same_layout(model):
        return array
    try:
        return retarget(Motion(array, source, fps), model).positions
    except MotionGenError as exc:
        raise ConfigError(f"cannot bring {source.name} motion onto the model's {model.name} skeleton: {exc}") from None


def _from_model(filled: np.ndarray, original: np.ndarray, source: Skeleton, model: Skeleton, fps: float) -> np.ndarray:
    """Imputed values in the input's skeleton; observed values exactly as given."""
    if not source.same_layout(model):
        try:
            filled = retarget(Motion(filled, model, fps), source).positions
        except MotionGenError as exc:
            raise ConfigError(f"cannot bring the result back onto {source.name}: {exc}") from None
    return np.where(np.isfinite(original), original, filled).astype(np.float32)


def _write_ready(motion: Motion, filled: np.ndarray, given: np.ndarray) -> Motion:
    """The input motion with imputed positions; rotations re-solved by IK on its own skeleton
    (observed joints keep their positions) and a mask of what was given (``given``: the positions
    imputed from, NaN where missing or masked out), so pictures can show what was filled."""
    observed = np.isfinite(given).all(-1) & (motion.mask if motion.mask is not None else True)
    updated = motion.replace(positions=filled, rotations=None, root_translation=None, mask=observed)
    return updated.with_ik() if motion.has_rotations else updated


def _name(path: Path, index: int, count: int) -> str:
    return path.name if count == 1 else f"{path.name}[{index}]"


def _window_count(frames: int, window: int) -> int:
    from motiongen.inference.imputation import window_starts

    return len(window_starts(max(frames, window), window))
