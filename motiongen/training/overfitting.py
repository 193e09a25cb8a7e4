"""Has a GAN's critic memorised its training windows? The WGAN-GP critic's gap,
E[D(real)] − E[D(G(z))], read on the windows it trained on and on windows of held-out subjects
it never saw, each against generated clips of the same actions.

Karras et al. ("Training Generative Adversarial Networks with Limited Data", NeurIPS 2020, §2)
show a discriminator overfitting a small dataset as its outputs on training and on validation
images drifting apart. Here the same reading tells apart two reasons a logged gap can grow: the
critic learning the training windows by heart (the gap grows on them and not on unseen ones) or
not (both gaps move together). On the 1031 windows of ``../shared/data/cmu`` it is the latter
(RESULTS, eleventh session).

The real windows are scored as training saw them by default: half mirrored (a run trained with
``--keep-handedness`` or another ``--mirror-probability`` saw others) and turned about the up axis by draws
of a fixed seed, the same for every checkpoint, and in the checkpoint's own normalisation. Only
the actions the held-out subjects have are compared, each action weighing the same in both gaps
(the critic is class-conditional, and the two sets mix their actions differently). The fakes come
from the raw generator, the one the critic was trained against (sampling uses the EMA one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motiongen.data.augment import augment_features
from motiongen.data.features import Normalization, to_channels_first, to_features
from motiongen.errors import ConfigError
from motiongen.inference.sampling import generate_features
from motiongen.training.checkpoint import load_checkpoint

SCORE_BATCH = 64


@dataclass(frozen=True)
class CriticReading:
    step: int
    train_gap: float  # E[D(training windows)] − E[D(G(z))], a mean over actions
    heldout_gap: float  # the same on the held-out subjects' windows
    real_train: float  # E[D] of the training windows
    real_heldout: float  # E[D] of the held-out windows

    @property
    def memorised(self) -> float:
        """How much more the critic prefers the windows it trained on than unseen ones of the
        same actions (0 for a critic that generalises)."""
        return self.train_gap - self.heldout_gap


@dataclass(frozen=True)
class WindowSet:
    """Real windows as positions ``[N, T, V, 3]`` in metres and their action names."""

    positions: np.ndarray
    actions: list[str]


def comparable_sets(train: WindowSet, heldout: WindowSet) -> tuple[WindowSet, WindowSet]:
    """Both sets restricted to the actions they share (so the two gaps mix the same classes)."""
    shared = sorted(set(train.actions) & set(heldout.actions))
    if not shared:
        raise ConfigError("the held-out subjects share no action with the training windows")

    def keep(windows: WindowSet) -> WindowSet:
        mask = np.isin(np.array(windows.actions), shared)
        return WindowSet(windows.positions[mask], [a for a, m in zip(windows.actions, mask) if m])

    return keep(train), keep(heldout)


def _scores(critic, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The critic's scores of ``features [N, 3, T, V]``, in batches (a minibatch-stddev layer
    sees batches of one kind only, as in training)."""
    return torch.cat([critic(features[s:s + SCORE_BATCH], labels[s:s + SCORE_BATCH]).float().reshape(-1)
                      for s in range(0, len(features), SCORE_BATCH)])


def _real_features(windows: WindowSet, normalization: Normalization, checkpoint, seed: int) -> torch.Tensor:
    features = torch.as_tensor(to_channels_first(normalization.normalize(to_features(windows.positions)))
                               .astype(np.float32))
    generator = torch.Generator().manual_seed(seed)  # the same mirrors and turns for every checkpoint
    return augment_features(features, normalization, checkpoint.skeleton, generator)


def _fake_features(checkpoint, actions: list[str], seed: int) -> torch.Tensor:
    """One generated clip per entry of ``actions`` (seed ``seed + k`` for the k-th), raw generator."""
    names = np.array(actions)
    fakes = torch.empty((len(actions), 3, checkpoint.frames, checkpoint.skeleton.joint_count))
    for name in dict.fromkeys(actions):  # one batched generation per action
        chosen = np.flatnonzero(names == name)
        fakes[chosen] = torch.as_tensor(generate_features(checkpoint.pair.generator, checkpoint.actions.index(name),
                                                          checkpoint.frames, [seed + int(k) for k in chosen]))
    return fakes


@torch.no_grad()
def read_critic(path: str | Path, train: WindowSet, heldout: WindowSet, fakes_per_action: int = 64,
                seed: int = 0) -> CriticReading:
    """The critic of checkpoint ``path`` on ``train`` and ``heldout`` windows (which should already
    be `comparable_sets`) and on ``fakes_per_action`` clips of each of their actions from the raw
    generator. Every term is a mean over actions of the action's mean score, so a set's mix of
    actions does not weigh in; one set of fakes serves both gaps, so their difference,
    `CriticReading.memorised`, is the critic's preference for the windows it trained on alone."""
    checkpoint = load_checkpoint(path, ema=False)
    if checkpoint.pair.critic is None:
        raise ConfigError(f"{checkpoint.path}: the file holds no critic (an inference-only export or a model "
                          "without one)")
    if checkpoint.normalization is None:
        raise ConfigError(f"{checkpoint.path}: checkpoint has no normalisation statistics")
    normalization = Normalization.of(checkpoint.normalization)
    actions = sorted(set(train.actions) | set(heldout.actions))
    missing = [a for a in actions if a not in checkpoint.actions]
    if missing:
        raise ConfigError(f"{checkpoint.path}: the model was not trained on {', '.join(missing)}")
    torch.manual_seed(seed)  # noise injection, if the generator has any

    def per_action_means(scores: torch.Tensor, names: list[str]) -> np.ndarray:
        names = np.array(names)
        return np.array([float(scores[torch.as_tensor(names == a)].mean()) for a in actions])

    def real_means(windows: WindowSet) -> np.ndarray:
        labels = torch.as_tensor([checkpoint.actions.index(a) for a in windows.actions])
        scores = _scores(checkpoint.pair.critic, _real_features(windows, normalization, checkpoint, seed), labels)
        return per_action_means(scores, windows.actions)

    fake_names = [a for a in actions for _ in range(fakes_per_action)]
    fake_labels = torch.as_tensor([checkpoint.actions.index(a) for a in fake_names])
    fake = per_action_means(_scores(checkpoint.pair.critic, _fake_features(checkpoint, fake_names, seed), fake_labels),
                            fake_names)
    real_train, real_heldout = real_means(train), real_means(heldout)
    return CriticReading(step=checkpoint.step, train_gap=float((real_train - fake).mean()),
                         heldout_gap=float((real_heldout - fake).mean()), real_train=float(real_train.mean()),
                         real_heldout=float(real_heldout.mean()))
