"""Frame-to-frame changes as extra critic input channels, in units of their training spread.

A critic that sees only poses must find motion in differences between neighbouring frames, which in
normalised units are ~50× smaller than the poses; under the gradient penalty (which bounds its slope
on the input) it then barely tells a frozen clip from a moving one. Measured on CMU: a CSGN trained
without these channels made frozen poses after 500–1000 CPU steps (pose motion 0.00 m/s, real 0.36)
and a Kinetic-GAN jittered (joint acceleration 18 m/s², real 3.7), and neither was penalised.
`frame_change_spread` is the statistic (LARNet's `critic_motion_scale` divides by it too).

Caveat (measured): the gradient penalty bounds the critic's slope on its input, so amplifying part
of the input inside the critic makes using it costlier; the small CSGN critic went flat with these
channels (a Wasserstein gap of 0.00 for 600 steps), the wider Kinetic-GAN critic did not.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from motiongen.errors import ConfigError


def frame_change_spread(positions: np.ndarray, normalization) -> torch.Tensor:
    """Standard deviation ``[V, 3]`` of each normalised feature's frame-to-frame change over
    training windows ``positions [N, T, V, 3]`` (metres), in chunks (the windows may be many)."""
    from motiongen.data.features import to_features

    if normalization is None:
        raise ConfigError("frame-change scales are fitted with the data's normalisation")
    sums, squares, count = 0.0, 0.0, 0
    for start in range(0, len(positions), 1024):
        chunk = torch.as_tensor(normalization.normalize(to_features(np.asarray(positions[start:start + 1024],
                                                                                dtype=np.float64))))
        change = chunk[:, 1:] - chunk[:, :-1]  # [n, T-1, V, 3]
        sums = sums + change.sum(dim=(0, 1))
        squares = squares + change.square().sum(dim=(0, 1))
        count += change.shape[0] * change.shape[1]
    mean = sums / count
    return (squares / count - mean.square()).clamp_min(0).sqrt()


def frame_change_floor_problem(floor) -> str | None:
    """Why ``floor`` is not a usable ``critic_frame_change_floor`` (a fraction in (0, 1]), or None."""
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0.0 < floor <= 1.0:
        return f"critic_frame_change_floor must be a fraction of the median spread in (0, 1], got {floor!r}"
    return None


class FrameChanges(nn.Module):
    """``features [B, 3, T, V]`` → ``[B, 6, T, V]``: the features, then each frame's change to the
    next (zero after the last) divided by its training spread (`fit`, a saved buffer; ones until
    fitted)."""

    def __init__(self, joints: int, floor: float = 0.5):
        super().__init__()
        self.floor = float(floor)  # a coordinate's spread counts as at least this × the median (fit)
        self.register_buffer("scale", torch.ones(3, 1, joints))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.cat([features, self.changes(features)], 1)

    def changes(self, features: torch.Tensor) -> torch.Tensor:
        """The scaled changes alone, ``[B, 3, T, V]``."""
        change = torch.cat([features[:, :, 1:] - features[:, :, :-1], torch.zeros_like(features[:, :, :1])], 2)
        return change * self.scale.to(features.dtype)

    def fit(self, positions: np.ndarray, normalization) -> None:
        spread = frame_change_spread(positions, normalization)  # [V, 3]
        # A coordinate that barely changes (a joint fixed to its parent) is not blown up ×10⁴: its
        # spread counts as at least `floor` × the typical one (half by default; the Kinetic-GAN
        # run that read 61% per action had 0.01, a rerun at 0.01 did not: RESULTS, seventh session).
        # Where most coordinates never change (a dataset that moves few joints), the median is 0
        # (or rounding error) and would blow the changes up: the typical spread is then that of the
        # coordinates that move, and with none moving the changes stay unscaled.
        moving = spread[spread > 1e-3 * float(spread.max())]
        if moving.numel() == 0:
            self.scale.fill_(1.0)
            return
        typical = float(spread.median()) if 2 * moving.numel() > spread.numel() else float(moving.median())
        spread = spread.clamp_min(self.floor * typical)
        self.scale.copy_((1.0 / spread).T[:, None, :].float())
