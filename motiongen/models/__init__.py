"""Model registry: ``register_model``, ``create_model``, ``list_models``, ``is_model``.

Registration is explicit below (no import side effects elsewhere); the CLI builds its choices and
its "did you mean" from ``list_models()``.
"""

from __future__ import annotations

import difflib
import warnings
from typing import Callable

from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.models.base import ModelPair

_BUILDERS: dict[str, Callable[..., ModelPair]] = {}


def register_model(name: str, builder: Callable[..., ModelPair]) -> None:
    if name in _BUILDERS:
        warnings.warn(f"model {name!r} registered twice; the later one wins")
    _BUILDERS[name] = builder


def list_models() -> list[str]:
    return sorted(_BUILDERS)


def is_model(name: str) -> bool:
    return name in _BUILDERS


def create_model(name: str, skeleton: Skeleton, num_classes: int, **config) -> ModelPair:
    """Build a model pair from its name, the training skeleton, the class count and config fields."""
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, list_models(), n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(list_models())}"
        raise ConfigError(f"unknown model {name!r}{hint}")
    return _BUILDERS[name](skeleton=skeleton, num_classes=num_classes, **config)


def _register_builtin() -> None:
    from motiongen.models import csgn, hgvae, kinetic_gan, larnet, recognizer

    register_model("kinetic-gan", kinetic_gan.build)
    register_model("csgn", csgn.build)
    register_model("hgvae", hgvae.build)
    register_model("larnet", larnet.build)
    register_model("recognizer", recognizer.build)


_register_builtin()
