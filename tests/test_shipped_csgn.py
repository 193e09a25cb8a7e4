"""The shipped CSGN (`csgn-cmu31`, issue 3): found by name, one checkpoint samples 1024 frames of an
upright person to BVH, the recogniser that never saw its samples reads every action as the one
asked for more often than as any other, and it carries the critic it trained against, for
`train --init-from`."""

from __future__ import annotations

import numpy as np
import pytest

from _cli import assert_ok, run
from motiongen.formats import read_motion
from motiongen.skeletons import load_skeleton

pytestmark = pytest.mark.filterwarnings("ignore:.*BVH has no units:UserWarning")

SHIPPED_CSGN = "csgn-cmu31"


def test_the_shipped_csgn_writes_1024_upright_frames_by_name(tmp_path):
    out = tmp_path / "kick.bvh"
    result = run("sample", "--model", SHIPPED_CSGN, "--action", "kicking", "--frames", "1024", "-o", out)
    assert_ok(result)
    motion = read_motion(out)
    assert motion.frame_count == 1024 and motion.fps == pytest.approx(15.0)
    assert motion.skeleton.joint_names == load_skeleton("cmu31").joint_names
    names = list(motion.skeleton.joint_names)
    y = motion.positions[..., 1]
    height = float(np.ptp(y[0]))
    assert 1.2 < height < 2.2, height  # a person, in metres
    head, hips = y[:, names.index("Head")], y[:, names.index("Hips")]
    lower_foot = np.minimum(y[:, names.index("LeftFoot")], y[:, names.index("RightFoot")])
    assert np.all(head > lower_foot + 0.25 * height)  # never lying down or upside down
    # Upright: a deep bend may bring the head level with the hips for a few frames (the card: 0.45%
    # of frames over 48 clips of 1024), not for long.
    assert np.mean(head > hips) > 0.97
    stature = head - y.min(axis=1)
    assert stature[-64:].mean() == pytest.approx(stature[:64].mean(), rel=0.15)  # no folding along the way


def test_the_recogniser_reads_every_action_of_the_shipped_csgn_as_asked_most_often():
    """The card's "12 of 12": on 16 fresh seeds per action (not the seeds the snapshot was chosen
    on), every action is read as itself more often than as any other action (chance is 1 in 12),
    and the three the card reports highest (walking 98%, kicking 97%, climbing 89%) more than
    half of the time."""
    from collections import Counter

    from motiongen.api.evaluate import GeneratorSource, read_as
    from motiongen.metrics.evaluation import load_recognizer
    from motiongen.training.checkpoint import load_checkpoint

    source = GeneratorSource.from_checkpoint(load_checkpoint(SHIPPED_CSGN))
    recognizer = load_recognizer(None)
    seeds = list(range(20_000, 20_016))
    assert len(source.actions) == 12
    for action in source.actions:
        counts = Counter(read_as(source, recognizer, action, seeds))
        runner_up = max((n for name, n in counts.items() if name != action), default=0)
        assert counts[action] > runner_up, (action, counts)
        if action in ("climbing", "kicking", "walking"):
            assert counts[action] > len(seeds) / 2, (action, counts)


def test_recognised_returns_the_features_its_readings_come_from():
    """`recognised` (per_action_recognition's spread) gives each sample's recogniser features
    beside its reading: the recogniser's own classifier on those features gives the readings."""
    import torch

    from motiongen.api.evaluate import GeneratorSource, recognised
    from motiongen.metrics.evaluation import load_recognizer
    from motiongen.training.checkpoint import load_checkpoint

    recognizer = load_recognizer(None)
    source = GeneratorSource.from_checkpoint(load_checkpoint(SHIPPED_CSGN))
    features, read = recognised(source, recognizer, "waving", list(range(20_000, 20_006)))
    assert features.shape == (6, recognizer.model.feature_dim)
    assert len({tuple(row) for row in features.round(6)}) == 6  # one row per seed
    with torch.no_grad():
        logits = recognizer.model.classifier(torch.as_tensor(features, dtype=torch.float32))
    assert [recognizer.actions[k] for k in logits.argmax(1)] == read


def test_the_shipped_csgn_carries_the_critic_it_trained_against():
    """Shipped with `--with-critic`: sampling takes the moving average, a fine-tune the raw
    generator and this critic (an inference-only file would give it an untrained critic)."""
    import torch

    from motiongen.training.checkpoint import load_checkpoint

    average, raw = load_checkpoint(SHIPPED_CSGN), load_checkpoint(SHIPPED_CSGN, ema=False)
    assert average.meta["fine_tunable"] is True and "inference_only" not in average.meta
    assert raw.pair.critic is not None
    pairs = zip(average.pair.generator.parameters(), raw.pair.generator.parameters())
    differs = [not torch.equal(a, b) for a, b in pairs]
    assert any(differs)  # two generators: the average samples, the raw one trains on
    critic = sum(p.numel() for p in raw.pair.critic.parameters())
    assert critic == 327_438, critic  # the card's coarsening critic with its classifier and projection
