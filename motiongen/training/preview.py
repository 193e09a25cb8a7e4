"""Pictures of what the generator makes, written during training (``samples/step-XXXXXXX.png``).

One row per action (at most `MAX_ROWS`, evenly spread over the action list), one fixed seed per
row so successive pictures show the same latent improving. Drawn from the EMA generator under
`torch.random.fork_rng`, so rendering never changes the run's random streams (resume stays exact).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

MAX_ROWS = 6
MOMENTS = 6
CELL_PX = (140, 140)


@torch.no_grad()
def render_preview(generator, dataset, path: Path, step: int) -> Path | None:
    """Write the picture; returns its path, or None (with a warning) when it could not be drawn,
    since a picture is never worth stopping a training run for."""
    from motiongen.inference.sampling import generate_features, motions_from_features
    from motiongen.render.pictures import RenderOptions, render_motions

    if not hasattr(generator, "make_latent"):  # not a generator of new motion (HG-VAE): nothing to draw
        return None

    actions = list(dataset.actions)
    rows = np.unique(np.linspace(0, len(actions) - 1, min(MAX_ROWS, len(actions))).round().astype(int))
    device = next(generator.parameters()).device
    motions, titles = [], []
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            for label in rows:  # one small batch per action row
                features = generate_features(generator, int(label), int(dataset.frames), [int(label)], 1.0, device)
                motions += motions_from_features(features, dataset.normalization, dataset.skeleton, dataset.fps)
                titles.append(f"{actions[label]} · step {step}")
        path.parent.mkdir(parents=True, exist_ok=True)
        render_motions(motions, titles, path, RenderOptions(sheet_frames=MOMENTS, size_px=CELL_PX))
    except Exception as error:  # noqa: BLE001 - reported, and training goes on
        warnings.warn(f"could not draw the sample picture at step {step}: {error}")
        return None
    return path
