"""Sampling motion from a generator checkpoint.

Sample k of a request uses seed ``seed + k`` for every random draw it needs (latent and noise come
from per-sample CPU generators, see `motiongen.models.base.seeded_normal`), so a sample does not
depend on the batch size, the count or the device. Generated features (normalised, see
`motiongen.data.features`) are denormalised with the statistics stored in the checkpoint and
integrated back to joint positions in metres.
"""

from __future__ import annotations

import difflib
from typing import Sequence

import numpy as np
import torch

from motiongen.core.motion import Motion
from motiongen.errors import ConfigError

MAX_FRAMES = 1_000_000  # beyond any real request; refused before allocating
MAX_COUNT = 100_000


def resolve_action(action: str | int, actions: Sequence[str]) -> int:
    """Index of an action given by name (case-insensitive, spaces/underscores alike) or index."""
    text = str(action).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(actions):
            raise ConfigError(f"action index {index} is out of range: this model knows {len(actions)} actions (0..{len(actions) - 1})")
        return index

    def key(name: str) -> str:
        return name.lower().replace("_", " ").replace("-", " ").strip()

    keys = [key(a) for a in actions]
    if key(text) in keys:
        return keys.index(key(text))
    close = difflib.get_close_matches(key(text), keys, n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(repr(actions[keys.index(c)]) for c in close)}" if close else ""
    raise ConfigError(f"unknown action {text!r}{hint} (known: {', '.join(actions)})")


def check_request(frames: int, count: int, generator) -> None:
    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
    if not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"--count must be between 1 and {MAX_COUNT}, got {count}")
    reason = generator.frames_supported(frames)
    if reason:
        raise ConfigError(reason)


@torch.no_grad()
def generate_features(generator, label: int, frames: int, seeds: Sequence[int], truncation: float = 1.0,
                      device: torch.device | str = "cpu", batch_size: int = 64,
                      start_pose: np.ndarray | None = None) -> np.ndarray:
    """Normalised features ``[len(seeds), 3, T, V]`` for one action, in batches; ``start_pose``
    (normalised features of one pose, ``[3, V]``) is the first frame of every sample, for a
    generator that takes one (LARNet)."""
    generator = generator.to(device).eval()
    chunks = []
    for start in range(0, len(seeds), batch_size):  # batches of samples, not single samples
        chunk = list(seeds[start:start + batch_size])
        latent = generator.make_latent(chunk, frames)
        latent = _to_device(latent, device)
        labels = torch.full((len(chunk),), int(label), dtype=torch.long, device=device)
        if start_pose is None:
            features = generator(latent, labels, truncation)
        else:
            pose = torch.as_tensor(np.asarray(start_pose), dtype=torch.float32, device=device)
            features = generator(latent, labels, truncation, start=pose.expand(len(chunk), -1, -1))
        chunks.append(features[:, :, :frames].float().cpu().numpy())
    return np.concatenate(chunks)


def _to_device(latent, device):
    if isinstance(latent, torch.Tensor):
        return latent.to(device)
    if isinstance(latent, dict):
        return {k: _to_device(v, device) for k, v in latent.items()}
    if isinstance(latent, (list, tuple)):
        return type(latent)(_to_device(v, device) for v in latent)
    return latent


def features_to_motions(features: np.ndarray, checkpoint, meta: dict, start_xz=(0.0, 0.0),
                        plant_feet: bool = False) -> list[Motion]:
    """``[N, 3, T, V]`` normalised features → one `Motion` per sample on the training skeleton,
    the root starting over ``start_xz``; ``plant_feet``: see `positions_from_features`."""
    if checkpoint.normalization is None:
        raise ConfigError(f"{checkpoint.path}: checkpoint has no normalisation statistics; cannot return metres")
    return motions_from_features(features, checkpoint.normalization, checkpoint.skeleton, checkpoint.fps, meta,
                                 start_xz, plant_feet)


def positions_from_features(features: np.ndarray, normalization, skeleton, start_xz=(0.0, 0.0),
                        plant_feet: bool = False) -> np.ndarray:
    """``[N, 3, T, V]`` normalised features → positions ``[N, T, V, 3]`` in metres; with
    ``plant_feet`` the body is moved so that feet on the floor do not slide (`footplant`; a
    skeleton without foot joints is left as it is)."""
    from motiongen.data.features import Normalization, from_features, to_channels_last

    positions = from_features(Normalization.of(normalization).denormalize(to_channels_last(features)), start_xz)
    if plant_feet:
        from motiongen.inference.footplant import plant_skeleton_feet

        positions = plant_skeleton_feet(positions, skeleton)
    return positions


def motions_from_features(features: np.ndarray, normalization, skeleton, fps: float,
                          meta: dict | None = None, start_xz=(0.0, 0.0), plant_feet: bool = False) -> list[Motion]:
    """The same from the parts a checkpoint (or a dataset during training) holds; ``normalization``
    is a `Normalization` or its dict."""
    positions = positions_from_features(features, normalization, skeleton, start_xz, plant_feet)
    return [Motion(positions=p, skeleton=skeleton, fps=fps, meta=dict(meta or {}, index=k))
            for k, p in enumerate(positions)]
