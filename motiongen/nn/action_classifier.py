"""The critics' auxiliary action classifier (AC-GAN, Odena et al. 2017; with WGAN-GP as in
Gulrajani et al. 2017), an addition to every paper here, off by default.

A class-conditional critic only asks whether a clip is a real clip *of its label*; on the CPU runs
that left most actions drawn as one of a few (LARNet, RESULTS "Stage 4"). The classifier sees no
label: the critic phase trains it with cross-entropy on real windows, and the generator phase adds
the weighted cross-entropy of its fakes read as their action. With ``rejects_fakes`` it has one
more output, "generated" (the K + 1 classifier of Salimans et al. 2016), trained on the fakes in the
critic phase: trained on real windows alone it memorised them and read the fakes as their action
while a frozen recogniser did not (RESULTS, "Stage 5"). The extra logit has its own head, so a
fine-tune from a checkpoint with a K-way classifier keeps it and starts only that column.

With ``fakes_among_actions`` the generator's term reads its fakes among the K actions only. Over
all K + 1 outputs a fake's "generated" probability stays near 1 (the graph GANs' critics at 95–100%
fake recall), so the term's gradient is almost all "look less generated" and the part that says
*which* action is near 0; among the actions it is a K-way AC-GAN's class signal, while the critic
phase still trains "generated". Measured (RESULTS, "Fourth CPU session", 1000 fine-tuning steps of
one CSGN with and without it): much closer to the real data (FID 168 → 112, Wasserstein gap 1.3 →
0.1), but the recogniser read fewer clips as their action (46% → 39% per action) while this
classifier read 94–100% of them so: it can be satisfied by patterns only it accepts. Off by default.

With ``motion_only`` it sees no posture: the root's horizontal velocity (a feature that is already
motion) and every feature's frame-to-frame change in units of its training spread (`FrameChanges`,
fitted by `_fit_action_classifier`). The default classifier reads poses too, and posture alone
satisfied it: on real windows frozen at their first pose the Kinetic-GAN critic's classifier read
58% as their action (basketball 57%) where a frozen recogniser read 24% (basketball 0%), and the
generator drew basketball as a posture with a quarter of the real dribble and a sixth of the
travel (RESULTS, nineteenth session). A classifier without posture can only be satisfied by motion.
Measured on that Kinetic-GAN (twentieth session), it wants ``fakes_among_actions``: over K + 1
outputs the fine-tune collapsed; among the actions it reached 67% per action, basketball drawn,
but lost kicking, whose raised leg is posture. Off by default.

With ``rejects_stills`` the classifier keeps posture but the critic phase also shows it each real
window frozen at one of its frames (a random one per window; the root's horizontal velocity at
rest, its height kept) and teaches it to read that still as no action in particular: uniform over
the K actions, a KL term that is 0 there. Posture alone then no longer satisfies it, while a raised
leg that moves (kicking) still counts, which the motion-only classifier cannot ask for. Measured
(twenty-first session, fine-tuning the motion-only Kinetic-GAN back to poses with it): its
probability of a frozen window's own action fell to 11% (uniform 8%, before 55%), kicking came back
for the recogniser, held-out FID 163 → 107, but basketball was read as climbing again. Off by
default.

With ``rejects_held_limbs`` the critic phase also shows it each real window with the limb pair that
moves most in it (the legs or the arms, `limb_masks`) held at one random frame of its own, the rest
of the body and the root as they were, and teaches that as no action too. A still only removes all
motion at once; the Kinetic-GAN's and the shipped CSGN's "kicking" kept the feet near the floor
in a kicker's stance (twenty-first session: foot lift 0.04 and 0.06 m, real 0.22) and was still
read as kicking. Held legs take that route away: the classifier can only read kicking from legs
that move, walking from legs that stride, punching from arms that punch. Measured (twenty-second
session, 2000 steps fine-tuning the stills run): its probability of a held window's own action
fell 43% → 9%, per action 71% → 78%, and the kicking clips that swing a leg out 31% → 42% (real 59%;
the kicks stay low). Off by default.

With ``rejects_jitter`` the critic phase also shows it each real window made jittery (`nn.jitter`:
white noise in units of each feature's frame-change spread, or the window's own high frequencies
amplified, by the critic's ``jitter_kind``) and teaches that as no action too. Stills and held limbs only take motion away; the Kinetic-GAN's clips have motion added (their
power above 4 Hz 4–8 times the data's). The classifier sees frame differences unscaled (~50×
smaller than the poses), and read jittered real windows as their action at 97% probability
(twenty-third session): the generator, taught that a still is no action, was free to add jitter.
Measured there, it learnt white noise at once and the generator hardly changed (its jitter is of
the body's own, coherent kind); sharpened windows it learnt slowly. Off by default.

`ActionClassifierMixin` gives a critic module the layers (``action_classifier``, ``action_head``,
``fake_head`` — names the LARNet checkpoints already use), `classify` and `fresh_parameters`;
`classifier_critic_loss` / `classifier_generator_loss` are the two phases' terms, shared by
`training.losses.WganGpLoss` and `LarnetLoss`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from motiongen.errors import ConfigError
from motiongen.nn.frame_changes import FrameChanges
from motiongen.nn.jitter import add_jitter, jitter_scale
from motiongen.nn.sequence import conv1d, flatten_joints, frame_differences, leaky

ROOT_VELOCITY_CHANNELS = 2  # the root's x and z features: horizontal velocity (`data.features`)
# Critic parts a fine-tune may start afresh, add or leave out (`fresh_parameters`; the checkpoint
# loader drops a file's entries of these parts that the new critic does not have).
FRESH_PARTS = ("action_classifier.", "action_head.", "fake_head.", "class_projection.", "classifier_changes.",
               "classifier_still_root", "classifier_jitter_scale", "critic_jitter_scale")
# The limb pairs a held-limb window freezes, each by the canonical joints its two chains start at.
LIMB_PAIRS = (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"))


def limb_masks(skeleton) -> np.ndarray:
    """``[len(LIMB_PAIRS), V]`` 0/1: row g marks every joint below (and including) the canonical
    joints of pair g — the legs, then the arms. A skeleton without those canonical names is a
    ConfigError: it cannot say which joints a held limb is."""
    canonical = skeleton.canonical_index()
    children = skeleton.children()
    masks = np.zeros((len(LIMB_PAIRS), skeleton.joint_count), dtype=np.float32)
    for group, pair in enumerate(LIMB_PAIRS):
        missing = [name for name in pair if name not in canonical]
        if missing:
            raise ConfigError(f"classifier_rejects_held_limbs needs the canonical joints {', '.join(pair)}; "
                              f"skeleton {skeleton.name!r} has no {', '.join(missing)}")
        chain = [canonical[name] for name in pair]
        while chain:  # a tree walk over ≤ V joints, once per build
            joint = chain.pop()
            masks[group, joint] = 1.0
            chain.extend(children[joint])
    return masks


def classifier_option_problems(weight: float, rejects_fakes: bool, fakes_among_actions: bool = False,
                               motion_only: bool = False, rejects_stills: bool = False,
                               rejects_held_limbs: bool = False, rejects_jitter: bool = False) -> list[str]:
    """What is wrong with a config's ``action_classifier_weight`` / ``classifier_rejects_fakes`` /
    ``classify_fakes_among_actions`` / ``classifier_motion_only`` / ``classifier_rejects_stills`` /
    ``classifier_rejects_held_limbs`` / ``classifier_rejects_jitter``."""
    problems = []
    for name, value in (("classifier_motion_only", motion_only), ("classifier_rejects_stills", rejects_stills),
                        ("classifier_rejects_held_limbs", rejects_held_limbs),
                        ("classifier_rejects_jitter", rejects_jitter)):
        if not isinstance(value, bool):
            problems.append(f"{name} must be true or false, got {value!r}")
        elif value and not (math.isfinite(float(weight)) and float(weight) > 0):
            problems.append(f"{name} needs the auxiliary classifier: set action_classifier_weight > 0")
    if not (math.isfinite(float(weight)) and float(weight) >= 0):
        problems.append(f"action_classifier_weight must be a number ≥ 0, got {weight}")
    elif rejects_fakes and not float(weight) > 0:
        problems.append("classifier_rejects_fakes needs the auxiliary classifier: set action_classifier_weight > 0")
    if not isinstance(fakes_among_actions, bool):
        problems.append(f"classify_fakes_among_actions must be true or false, got {fakes_among_actions!r}")
    elif fakes_among_actions and not rejects_fakes:
        problems.append("classify_fakes_among_actions needs the K + 1 classifier: set classifier_rejects_fakes=true")
    return problems


class ActionClassifierMixin:
    """For `nn.Module` critics: call `_init_action_classifier` in ``__init__`` (after
    ``super().__init__()``); ``action_classifier`` is None when the weight is 0."""

    action_classifier: nn.Module | None
    action_head: nn.Module | None
    fake_head: nn.Module | None
    fakes_among_actions: bool  # the generator's term over the K actions only (`classifier_generator_loss`)
    classifier_changes: FrameChanges | None  # the scaled changes a motion-only classifier sees
    classifier_still_root: torch.Tensor | None  # normalised root x, z velocity at rest (``rejects_stills``)
    classifier_limbs: torch.Tensor | None  # `limb_masks` of the skeleton (``rejects_held_limbs``)
    classifier_jitter_scale: torch.Tensor | None  # `nn.jitter.jitter_scale` (``rejects_jitter``)

    def _init_action_classifier(self, joints: int, width: int, num_classes: int, weight: float,
                                rejects_fakes: bool, fakes_among_actions: bool = False,
                                motion_only: bool = False, rejects_stills: bool = False,
                                held_limbs: np.ndarray | None = None, rejects_jitter: bool = False) -> None:
        """``held_limbs``: `limb_masks` of the skeleton when the config rejects held limbs, else None."""
        self.action_classifier = self.action_head = self.fake_head = self.classifier_changes = None
        self.fakes_among_actions = bool(fakes_among_actions)
        if rejects_stills and float(weight) > 0:  # a saved buffer, refitted by `_fit_action_classifier`
            self.register_buffer("classifier_still_root", torch.zeros(ROOT_VELOCITY_CHANNELS))
        else:
            self.classifier_still_root = None
        if held_limbs is not None and float(weight) > 0:  # from the skeleton: not saved, nothing to load
            self.register_buffer("classifier_limbs", torch.as_tensor(held_limbs, dtype=torch.float32),
                                 persistent=False)
        else:
            self.classifier_limbs = None
        if rejects_jitter and float(weight) > 0:  # a saved buffer, fitted by `_fit_action_classifier`
            self.register_buffer("classifier_jitter_scale", torch.zeros(3, 1, joints))
        else:
            self.classifier_jitter_scale = None
        if not float(weight) > 0:
            return
        # Poses and frame differences of all joints as channels (motion only: the root's velocity
        # and every scaled change), three halvings of time, mean over time: any length, and a
        # window of the model's own representation (no label input).
        if motion_only:
            self.classifier_changes = FrameChanges(joints)
        inputs = 3 * joints + ROOT_VELOCITY_CHANNELS if motion_only else 6 * joints
        self.action_classifier = nn.Sequential(conv1d(inputs, width), leaky(), conv1d(width, width, 4, 2), leaky(),
                                               conv1d(width, width, 4, 2), leaky(), conv1d(width, width, 4, 2), leaky())
        self.action_head = nn.Linear(width, num_classes)
        self.fake_head = nn.Linear(width, 1) if rejects_fakes else None

    @property
    def rejects_fakes(self) -> bool:
        return self.fake_head is not None

    @property
    def rejects_stills(self) -> bool:
        return self.classifier_still_root is not None

    @property
    def rejects_held_limbs(self) -> bool:
        return self.classifier_limbs is not None

    @property
    def rejects_jitter(self) -> bool:
        return self.classifier_jitter_scale is not None

    @property
    def fresh_parameters(self) -> tuple[str, ...]:
        """Parameters that a fine-tune from a checkpoint without them starts untrained: the
        auxiliary classifier, which learns the actions again within a few hundred critic steps, and
        the class projection (`nn.class_projection`), which starts at zero — the critic as it was."""
        return tuple(name for name in self.state_dict() if name.startswith(FRESH_PARTS))

    def _fit_action_classifier(self, positions, normalization) -> None:
        """A motion-only classifier's change scales from the training windows, the normalised
        root velocity of a still and the jitter's spreads (for `fit_data`)."""
        if self.classifier_changes is not None:
            self.classifier_changes.fit(positions, normalization)
        if self.classifier_jitter_scale is not None:
            self.classifier_jitter_scale.copy_(jitter_scale(positions, normalization))
        if self.classifier_still_root is not None and normalization is not None:
            at_rest = normalization.normalize(np.zeros((1, np.shape(positions)[2], 3)))  # features of a root at rest
            self.classifier_still_root.copy_(torch.as_tensor(at_rest[0, 0, 0::2]))

    def stills(self, features: torch.Tensor) -> torch.Tensor:
        """Each window of ``features [B, 3, T, V]`` frozen at one random frame of its own, the
        root's horizontal velocity at rest (`classifier_still_root`), its height kept."""
        batch, _, frames, _ = features.shape
        chosen = torch.randint(frames, (batch,), device=features.device)
        poses = features[torch.arange(batch, device=features.device), :, chosen]  # [B, 3, V]
        still = poses[:, :, None].expand(-1, -1, frames, -1).clone()
        still[:, 0::2, :, 0] = self.classifier_still_root.to(features.dtype)[None, :, None]
        return still

    def held_limbs(self, features: torch.Tensor) -> torch.Tensor:
        """`hold_busiest_limbs` of ``features [B, 3, T, V]`` with this skeleton's limb pairs, each
        window held at one random frame of its own."""
        chosen = torch.randint(features.shape[2], (features.shape[0],), device=features.device)
        return hold_busiest_limbs(features, self.classifier_limbs, chosen)

    def jittered(self, features: torch.Tensor) -> torch.Tensor:
        """`nn.jitter.add_jitter` of ``features [B, 3, T, V]`` with this critic's spreads and
        ``jitter_kind`` (set by `nn.jitter.CriticJitterMixin`)."""
        return add_jitter(features, self.classifier_jitter_scale, self.jitter_kind)

    def doubtful_windows(self, real: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """The windows made from ``real`` that the critic phase teaches as no action, each with its
        name in the log, in the order `classifier_critic_loss` expects them: stills, held limbs,
        jitter (each when its option is on)."""
        makers = (("still", self.rejects_stills, self.stills), ("held", self.rejects_held_limbs, self.held_limbs),
                  ("jitter", self.rejects_jitter, self.jittered))
        return [(name, make(real)) for name, on, make in makers if on]

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Action logits ``[B, classes]`` of feature sequences ``[B, 3, T, V]`` (any length); with
        ``rejects_fakes`` one more column last, the logit of "generated"."""
        if self.action_classifier is None:
            raise ConfigError("this critic has no action classifier (action_classifier_weight is 0)")
        if self.classifier_changes is None:
            flat = flatten_joints(features)
            seen = torch.cat([flat, frame_differences(flat)], 1)
        else:  # the root's horizontal velocity (features x, z of joint 0), then the changes
            seen = torch.cat([features[:, 0::2, :, 0], flatten_joints(self.classifier_changes.changes(features))], 1)
        pooled = self.action_classifier(seen).mean(-1)
        if self.fake_head is None:
            return self.action_head(pooled)
        return torch.cat([self.action_head(pooled), self.fake_head(pooled)], 1)


def hold_busiest_limbs(features: torch.Tensor, limbs: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Each window of ``features [B, 3, T, V]`` with the limb pair of ``limbs`` (`limb_masks`,
    ``[G, V]``) that moves most in it — mean squared frame change per joint, in the features' own
    units — held at its frame ``chosen [B]``; the root and the other joints unchanged."""
    limbs = limbs.to(features.dtype)
    motion = (features[:, :, 1:] - features[:, :, :-1]).square().sum((1, 2))  # [B, V]
    moving = (motion @ limbs.T / limbs.sum(1)).argmax(1)  # [B]: the pair that moves most
    poses = features[torch.arange(features.shape[0], device=features.device), :, chosen]  # [B, 3, V]
    held = limbs[moving][:, None, None, :]  # [B, 1, 1, V]
    return features * (1 - held) + poses[:, :, None] * held


def classifier_critic_loss(logits: torch.Tensor, labels: torch.Tensor,
                           doubtful_rows: tuple[tuple[str, int], ...] | list = ()) -> tuple[torch.Tensor, dict]:
    """The critic phase's term: CE of the real windows' logits (the first ``len(labels)`` rows)
    against their actions, plus, when more rows follow (the fakes, K + 1 classifier), CE against
    the last class, "generated". Last come the rows of `ActionClassifierMixin.doubtful_windows`,
    ``doubtful_rows`` naming each part and its row count in order; each adds its KL from uniform
    over the K actions, logged as ``classifier_<name>_doubt``. Returns the loss and the values to
    log."""
    logits = logits.float()
    doubted = {}
    for name, rows in reversed(list(doubtful_rows)):  # taken from the end, last first
        if rows:
            logits, doubted[name] = logits[:-rows], logits[-rows:]
    real_logits = logits[:len(labels)]
    loss = nn.functional.cross_entropy(real_logits, labels)
    values = {"classifier_accuracy": (real_logits.argmax(1) == labels).float().mean()}
    action_count = logits.shape[1] - int(logits.shape[0] > len(labels))  # a K + 1 "generated" column left out
    for name, rows_logits in doubted.items():
        actions = rows_logits[:, :action_count]
        doubt = -actions.log_softmax(1).mean(1).mean() - math.log(action_count)
        loss = loss + doubt
        values[f"classifier_{name}_doubt"] = doubt.detach()
        values[f"classifier_{name}_reads"] = (actions.argmax(1) == labels).float().mean()
    if logits.shape[0] > len(labels):
        fake_logits = logits[len(labels):]
        generated = torch.full((fake_logits.shape[0],), fake_logits.shape[1] - 1, dtype=labels.dtype,
                               device=labels.device)
        loss = loss + nn.functional.cross_entropy(fake_logits, generated)
        values["classifier_fake_recall"] = (fake_logits.argmax(1) == generated).float().mean()
    values["classifier_loss"] = loss.detach()
    return loss, values


def classifier_generator_loss(critic: ActionClassifierMixin, fakes: torch.Tensor, labels: torch.Tensor,
                              autocast) -> torch.Tensor:
    """The generator phase's term: CE of the fakes ``[N·B, 3, T, V]`` read as their actions
    (``labels`` repeated N times), over all K (+ 1) outputs, or the K actions alone with the
    critic's ``fakes_among_actions``. The critic is called bare: its parameters are not trained
    in this phase."""
    with autocast():
        logits = critic.classify(fakes).float()
    if critic.rejects_fakes and critic.fakes_among_actions:
        logits = logits[:, :-1]
    return nn.functional.cross_entropy(logits, labels.repeat(fakes.shape[0] // labels.shape[0]))
