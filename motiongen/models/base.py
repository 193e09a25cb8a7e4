"""What every generative motion model in motiongen is, to the training loop and to sampling.

A model is a pair of modules built from one config dataclass and a skeleton:

- ``MotionGenerator``: ``make_latent(seeds, frames)`` draws the latent input of each sample from
  its own seeded generator on the CPU (so sample k with seed S+k is the same whatever the batch
  size or device), and ``forward(latent, labels, truncation)`` returns motion features
  ``[B, 3, T, V]`` (ST-GCN order, normalised to about [-1, 1] — see `motiongen.data`).
  ``frames_supported(frames)`` says whether it can make that many frames (and why not).
- ``MotionCritic``: ``forward(features [B, 3, T, V], labels [B]) -> scores [B]``.

Models never read files: a checkpoint stores ``config`` (a dataclass, as a dict) and the skeleton,
and `motiongen.models.create_model` rebuilds the pair from them.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Sequence, TypeVar

import torch
from torch import nn

from motiongen.errors import ConfigError

ConfigT = TypeVar("ConfigT")


class MotionGenerator(nn.Module):
    kind: ClassVar[str] = ""

    def make_latent(self, seeds: Sequence[int], frames: int) -> torch.Tensor:
        raise NotImplementedError

    def frames_supported(self, frames: int) -> str | None:
        """None when the generator can make ``frames`` frames, else the reason it cannot."""
        raise NotImplementedError

    def forward(self, latent: torch.Tensor, labels: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        raise NotImplementedError


class MotionCritic(nn.Module):
    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class ModelPair:
    kind: str
    config: Any  # the model's config dataclass
    generator: MotionGenerator
    critic: MotionCritic

    def config_dict(self) -> dict:
        return asdict(self.config)


def seeded_normal(seeds: Sequence[int], shape: tuple[int, ...]) -> torch.Tensor:
    """``[len(seeds), *shape]`` standard normals, row k from a CPU generator seeded with seeds[k]."""
    rows = []
    for seed in seeds:  # one small draw per sample: results must not depend on batch composition
        generator = torch.Generator().manual_seed(int(seed))
        rows.append(torch.randn(shape, generator=generator))
    return torch.stack(rows) if rows else torch.zeros((0, *shape))


def config_from_dict(cls: type[ConfigT], values: dict[str, Any], model: str) -> ConfigT:
    """A model's config dataclass from ``values``; an unknown field names the closest known one,
    and a value the dataclass refuses becomes a `ConfigError`."""
    known = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(known)}"
            raise ConfigError(f"unknown {model} config field {key!r}{hint}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"bad {model} config: {error}") from None
