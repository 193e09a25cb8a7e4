"""A generator term against jitter that needs no critic to notice it.

The Kinetic-GAN's clips carry 1.75 times the data's second differences and 4–8 times its power
above 4 Hz (twenty-third session). Neither the Wasserstein critic nor its auxiliary classifier
spent much on that: under the gradient penalty a critic has little slope to spare for changes
that are small in norm (RESULTS: frame-change channels, jittered windows as negatives). This term
goes round the critic. With ``smoothness_weight`` w > 0 (config; ours, off by default) the
generator phase adds

    w · mean_{c,v} relu(s_cv)²,   s_cv = mean_{b: c_b = c} [log E(G(z_b, c))_v − L(c)_v],

over the actions c in the batch, E(x)_v the mean over a window's frames of joint v's squared
second difference in metres (summed over the three coordinates), L(c)_v the mean of log E over
the training windows of action c. It is a hinge on each action's excess in the batch: a clip
may be sharper than its action's typical one, the action's clips together no sharper than the
data's. Per action, not over the whole batch: the first run pooled them, and at step 500 its
smooth actions (basketball, jumping: s ≈ −2.5) paid for its sharp ones (swordplay +1.8).

A second difference weighs frequency f by 16 sin⁴(π f / fps), so the term bites on fast motion
and hardly on the slow motion that makes an action.

Keep the weight small (RESULTS, twenty-fourth session). d log E / dx grows as 1 / √E, so the
joints left above their target late are the quiet ones, and they pull hardest. Gradient norm on
the clips, relative to the critic's and classifier's together:

| state of the Kinetic-GAN | plain hinge, w = 1 | squared, w = 1 |
| --- | ---: | ---: |
| no term yet (s ≈ 2.2) | 3.4 | 21 |
| after 1000 steps of the plain hinge at w = 2 (s ≈ −0.6) | 12 | 38 |

That run read 9% of its clips as asked where the run without the term read 49%. Squared, the
pull grows about half as much as the clips smooth, and it is strongest where the excess is
largest.

Why logarithms: on CMU the actions' sharpness spans 400× (basketball signal's windows against
jumping's), and a few motion-capture glitches (one walking frame 10⁴ times its action's median)
set a mean of E alone; the mean of log E is the geometric mean, which one glitchy window moves by
a few hundredths, and s_v is the same relative excess for a quiet joint as for a busy one.

Rotation about the up axis (an augmentation) keeps x² + z² per joint, hence the sum over the
coordinates in metres; mirroring swaps left and right, hence each joint's target is the larger of
its own and its mirror's.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from motiongen.errors import ConfigError

# Added to E before the logarithm (m² per frame⁴: a tenth of a millimetre per frame²), so a joint
# held dead still has a finite log and no pull towards −∞.
ENERGY_FLOOR = 1e-8
# `load_state`'s may_lack/may_drop names: a fine-tune switching the term on or off refits or drops them.
SMOOTHNESS_BUFFERS = ("smoothness_target", "smoothness_scale")


def smoothness_weight_problem(weight) -> str | None:
    """Why ``weight`` is not a usable ``smoothness_weight``, or None."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        return f"smoothness_weight must be a number ≥ 0 (0 = off), got {weight!r}"
    return None


def second_difference_energy(change_in_metres: torch.Tensor) -> torch.Tensor:
    """``[B, 3, T, V]`` features in metres (or any offset of them) → ``[B, V]``: the mean over the
    T − 2 inner frames of each joint's squared second difference, summed over the coordinates."""
    second = change_in_metres[:, :, 2:] - 2 * change_in_metres[:, :, 1:-1] + change_in_metres[:, :, :-2]
    return second.square().sum(1).mean(1)


def log_sharpness(change_in_metres: torch.Tensor) -> torch.Tensor:
    """``[B, 3, T, V]`` → ``[B, V]``: log(E + `ENERGY_FLOOR`) (module docstring)."""
    return torch.log(second_difference_energy(change_in_metres) + ENERGY_FLOOR)


def fit_smoothness_target(positions, labels, normalization, num_classes: int,
                          mirror: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """From training windows ``positions [N, T, V, 3]`` (metres) with action ``labels [N]``: the
    target L ``[K, V]`` (mean log sharpness per action, the larger of each joint's and its
    ``mirror``'s) and the scale ``[3, 1, V]`` that turns normalised features into metres."""
    from motiongen.data.features import to_features

    if normalization is None or labels is None:
        raise ConfigError("the smoothness target is fitted with the data's labels and normalisation")
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    joints = positions.shape[2]
    sums = torch.zeros(num_classes, joints, dtype=torch.float64)
    for start in range(0, len(positions), 1024):  # the windows may be many
        features = torch.as_tensor(to_features(np.asarray(positions[start:start + 1024], dtype=np.float64)))
        sums.index_add_(0, labels[start:start + 1024], log_sharpness(features.permute(0, 3, 1, 2)))
    counts = torch.bincount(labels, minlength=num_classes).double()[:, None]
    overall = sums.sum(0) / counts.sum()
    target = torch.where(counts > 0, sums / counts.clamp_min(1), overall)  # an action without windows: all
    target = torch.maximum(target, target[:, torch.as_tensor(mirror, dtype=torch.long)])
    scale = torch.tensor(np.array(normalization.half_range, dtype=np.float32).T[:, None, :])
    return target.float(), scale


def sharpness_excess(fake: torch.Tensor, labels: torch.Tensor, target: torch.Tensor,
                     scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(s ``[K, V]``, present ``[K]``): s (module docstring) for every action, from generated
    features ``fake [B, 3, T, V]`` (normalised) of actions ``labels [B]``, fp32, and which actions
    the batch holds (s is 0 for the others). Masks, not boolean indexing: no shape that depends on
    the data, so no device sync on a GPU."""
    excess = log_sharpness(fake.float() * scale) - target[labels]  # [B, V]
    sums = excess.new_zeros(target.shape).index_add(0, labels, excess)
    counts = torch.bincount(labels, minlength=target.shape[0])
    return sums / counts.clamp_min(1)[:, None], counts > 0


def smoothness_hinge(excess: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean relu(s)², mean s) over the present actions and all joints of `sharpness_excess`'s output."""
    weight = present.to(excess.dtype)[:, None] / (present.sum() * excess.shape[1])
    return (torch.relu(excess).square() * weight).sum(), (excess * weight).sum()


class GeneratorSmoothnessMixin:
    """For `nn.Module` generators: `_init_smoothness` in ``__init__``, `_fit_smoothness` in
    ``fit_data``; `training.losses.WganGpLoss` calls `smoothness_terms` in the generator phase."""

    smoothness_target: torch.Tensor | None
    smoothness_scale: torch.Tensor | None
    refitted_buffers = SMOOTHNESS_BUFFERS  # `training.loop`: a fine-tune that switches the term on refits them

    def _init_smoothness(self, mirror: np.ndarray, num_classes: int, weight: float) -> None:
        """``mirror``: the skeleton's `mirror_index` (its length is the joint count)."""
        joints = len(mirror)
        self.smoothness_mirror = np.asarray(mirror)
        if weight > 0:  # saved buffers, fitted by `_fit_smoothness`
            self.register_buffer("smoothness_target", torch.zeros(num_classes, joints))
            self.register_buffer("smoothness_scale", torch.ones(3, 1, joints))
        else:
            self.smoothness_target = self.smoothness_scale = None

    def _fit_smoothness(self, positions, labels, normalization) -> None:
        if self.smoothness_target is None:
            return
        target, scale = fit_smoothness_target(positions, labels, normalization, self.smoothness_target.shape[0],
                                              self.smoothness_mirror)
        self.smoothness_target.copy_(target)
        self.smoothness_scale.copy_(scale)

    def smoothness_terms(self, fake: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the hinge to train on, the mean excess to log) for generated ``fake [B, 3, T, V]``."""
        hinge, mean = smoothness_hinge(*sharpness_excess(fake, labels, self.smoothness_target, self.smoothness_scale))
        return hinge, mean.detach()
