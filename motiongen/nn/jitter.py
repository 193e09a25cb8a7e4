"""Jittery real windows: negative examples of the jitter a generator adds.

Stills and held limbs (`nn.action_classifier`) take motion away from real windows; the Kinetic-GAN's
clips have motion added. Measured on `/work/runs24/kghl` step 2000 (twenty-third session, in
normalised features, per-feature frame-change spreads): their second differences are 1.18 spreads
RMS where the data's are 0.68, and their power above 4 Hz (15 fps) is 4–8 times the data's. A
jittered window (`add_jitter`, config ``jitter_kind``) is a real one plus white noise, every
feature's in units of its frame-to-frame spread over the training windows (`frame_change_spread`),
or a real one "sharpened": its own high frequencies amplified. Taught as no action to the critic's
classifier (``classifier_rejects_jitter``) or shown to the Wasserstein critic as fakes
(``critic_jitter_share``: negative data augmentation, Sinha et al., ICLR 2021), only motion as
smooth as the data's should read as an action, or as real.
"""

from __future__ import annotations

import torch

from motiongen.nn.frame_changes import frame_change_spread

# White noise of amplitude a adds √6·a spreads RMS to the second differences: the measured excess
# above is that of a ≈ 0.4. At 0.2 the data's rise to 0.80 spreads, at 0.6 to 1.62.
JITTER_AMPLITUDE = (0.2, 0.6)
# White noise is independent from feature to feature; the Kinetic-GAN's excess high-frequency
# motion is not: 68% of its second differences' energy lies in 10 principal components (real 75%,
# real + white noise 34%; twenty-third session), and a classifier taught white noise as no action
# went on reading the generator's clips as their action. "sharpened" windows amplify the window's
# own high frequencies instead, by a gain g: at 15 fps the amplitude at 6.5 Hz grows 1 + 0.96 g
# (power ×2.2–8.5 for g in 0.5–2), at 4.2 Hz 1 + 0.6 g — the generator's excess there was ×5–8 and ×3.5–4.
SHARPEN_GAIN = (0.5, 2.0)
JITTER_KINDS = ("white", "sharpened")


def jitter_scale(positions, normalization) -> torch.Tensor:
    """The spreads ``[3, 1, V]`` that `add_jitter` scales its noise by, from training windows
    ``positions [N, T, V, 3]`` (metres): a critic keeps them as a saved buffer, fitted in ``fit_data``."""
    return frame_change_spread(positions, normalization).T[:, None, :].float()


def add_jitter(features: torch.Tensor, scale: torch.Tensor, kind: str = "white") -> torch.Tensor:
    """``features [B, 3, T, V]`` made jittery, with a strength drawn per window (global RNG, saved
    with a run's resume state). ``kind`` "white": plus white noise, ``scale`` (`jitter_scale`)
    times an amplitude from `JITTER_AMPLITUDE`; "sharpened": plus the window's own high
    frequencies (`high_frequencies`) times a gain from `SHARPEN_GAIN` (``scale`` unused)."""
    low, high = JITTER_AMPLITUDE if kind == "white" else SHARPEN_GAIN
    strength = torch.rand(features.shape[0], 1, 1, 1, device=features.device, dtype=features.dtype)
    strength = low + (high - low) * strength
    if kind == "white":
        return features + strength * scale.to(features.dtype) * torch.randn_like(features)
    return features + strength * high_frequencies(features)


def high_frequencies(features: torch.Tensor) -> torch.Tensor:
    """``features [B, C, T, V]`` minus their [1, 2, 1] / 4 moving average over time (the ends
    repeated): a high-pass whose gain is sin²(π f / fps), 1 at the Nyquist rate, ½ at half of it."""
    padded = torch.cat([features[:, :, :1], features, features[:, :, -1:]], 2)
    return features - (padded[:, :, :-2] + 2 * features + padded[:, :, 2:]) / 4


def jitter_option_problems(share, kind, classifier_rejects_jitter) -> list[str]:
    """What is wrong with a config's ``critic_jitter_share`` (a fraction in [0, 1)) and
    ``jitter_kind``; a kind other than the default with neither jitter option on would silently
    change nothing, so it is refused too."""
    problems = []
    share_ok = not isinstance(share, bool) and isinstance(share, (int, float)) and 0.0 <= share < 1.0
    if not share_ok:
        problems.append(f"critic_jitter_share must be a fraction in [0, 1) of the critic's fakes, got {share!r}")
    if kind not in JITTER_KINDS:
        problems.append(f"jitter_kind must be one of {', '.join(JITTER_KINDS)}, got {kind!r}")
    elif kind != JITTER_KINDS[0] and not (classifier_rejects_jitter is True or (share_ok and share > 0)):
        problems.append(f"jitter_kind={kind} needs classifier_rejects_jitter=true or critic_jitter_share > 0")
    return problems


class CriticJitterMixin:
    """For `nn.Module` critics: call `_init_critic_jitter` in ``__init__`` and `_fit_critic_jitter`
    in ``fit_data``. With ``critic_jitter_share`` s > 0 the critic phase scores jittered real windows
    (`jitter_negatives`) in place of the first s·B fakes (`training.losses.WganGpLoss`): the fake
    side becomes NDA's mixture of generated and negative windows, at no extra cost per step, and the
    gradient penalty's lines run from those real windows to their jittered copies too."""

    critic_jitter_scale: torch.Tensor | None
    critic_jitter_share: float
    jitter_kind: str  # what a jittered window is, here and for the classifier (`add_jitter`)

    def _init_critic_jitter(self, joints: int, share: float, kind: str = "white") -> None:
        self.critic_jitter_share = float(share)
        self.jitter_kind = kind
        if self.critic_jitter_share > 0:  # a saved buffer, fitted by `_fit_critic_jitter`
            self.register_buffer("critic_jitter_scale", torch.zeros(3, 1, joints))
        else:
            self.critic_jitter_scale = None

    def _fit_critic_jitter(self, positions, normalization) -> None:
        if self.critic_jitter_scale is not None:
            self.critic_jitter_scale.copy_(jitter_scale(positions, normalization))

    def jitter_negatives(self, real: torch.Tensor) -> torch.Tensor:
        """`add_jitter` of real windows ``[B, 3, T, V]`` with the critic's spreads."""
        return add_jitter(real, self.critic_jitter_scale, self.jitter_kind)

    def jitter_negative_rows(self, batch: int) -> int:
        """How many of a critic phase's ``batch`` fakes are replaced: at least one when on, and
        never all (the logged gap is the generated fakes')."""
        if self.critic_jitter_share <= 0:
            return 0
        return min(batch - 1, max(1, round(self.critic_jitter_share * batch)))  # one generated fake at least
