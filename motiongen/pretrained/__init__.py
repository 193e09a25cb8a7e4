"""Models trained by the project and shipped inside the package (safetensors + a model card each).

A shipped model is named where a checkpoint path is expected: ``--recognizer recognizer-cmu31``.
`resolve` turns a name into its file; anything else is taken as a path. Each file's header stores
the SHA-256 of its weights, checked on load, and its card (``NAME.md`` beside it) says what it was
trained on, how, and what it scores. Generators and imputers are shipped as inference-only files
(`motiongen.training.checkpoint.export_for_inference`, written by ``tools/ship_model.py``), or, for
a GAN that ``train --init-from NAME`` should continue, with the critic it trained against
(``--with-critic``).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIPPED = {
    # name: (file, what it is for)
    "recognizer-cmu31": ("recognizer-cmu31.safetensors",
                         "ST-GCN action recogniser on the CMU subset (cmu31, 30 fps, 64-frame windows) for evaluate"),
    "larnet-cmu31": ("larnet-cmu31.safetensors",
                     "LARNet generator of the CMU subset's actions (cmu31, 30 fps, any length) for sample"),
    "csgn-cmu31": ("csgn-cmu31.safetensors",
                   "CSGN generator of the CMU subset's actions (cmu31, 15 fps, any length) for sample"),
    "kinetic-gan-cmu31": ("kinetic-gan-cmu31.safetensors",
                          "Kinetic-GAN generator of the CMU subset's actions (cmu31, 15 fps, 32 frames) for sample"),
    "hgvae-cmu31": ("hgvae-cmu31.safetensors",
                    "HG-VAE of CMU motion (cmu31, 30 fps, 50-frame windows, any length) for impute"),
}
DEFAULT_RECOGNIZER = "recognizer-cmu31"
DEFAULT_GENERATOR = "larnet-cmu31"  # `motiongen sample` without --model
DEFAULT_IMPUTER = "hgvae-cmu31"  # `motiongen impute` without --model


def list_shipped() -> list[str]:
    return sorted(SHIPPED)


def is_shipped(name: str | Path) -> bool:
    return isinstance(name, str) and name in SHIPPED


def shipped_path(name: str) -> Path:
    return HERE / SHIPPED[name][0]


def card_path(name: str) -> Path:
    return HERE / f"{name}.md"


def resolve(model: str | Path) -> Path:
    """A shipped model's file for its name; any other value as a path (an existing file or run
    folder wins over a shipped name, so a local folder called like one is still found)."""
    path = Path(model)
    if not path.exists() and is_shipped(str(model)):
        return shipped_path(str(model))
    return path
