"""The shipped CSGN (`csgn-cmu31`, issue 3): found by name, one checkpoint samples 1024 frames of an
upright person to BVH, the recogniser that never saw its samples reads every action as the one
asked for more often than as any other, and it carries the critic it trained against, for
`train --init-from`."""

from __future__ import annotations

import pytest

from _cli import assert_ok, run
from _shipped import assert_read_as_asked, read_upright_cmu31_bvh

pytestmark = pytest.mark.filterwarnings("ignore:.*BVH has no units:UserWarning")

SHIPPED_CSGN = "csgn-cmu31"


def test_the_shipped_csgn_writes_1024_upright_frames_by_name(tmp_path):
    out = tmp_path / "kick.bvh"
    result = run("sample", "--model", SHIPPED_CSGN, "--action", "kicking", "--frames", "1024", "-o", out)
    assert_ok(result)
    # The card: 0.45% of frames over 48 clips of 1024 have the head at the hips (deep bends).
    motion = read_upright_cmu31_bvh(out, frames=1024, fps=15.0)
    y = motion.positions[..., 1]
    stature = y[:, list(motion.skeleton.joint_names).index("Head")] - y.min(axis=1)
    assert stature[-64:].mean() == pytest.approx(stature[:64].mean(), rel=0.15)  # no folding along the way


def test_the_recogniser_reads_every_action_of_the_shipped_csgn_as_asked_most_often():
    """The card's "12 of 12" on 16 fresh seeds per action, and the three it reports highest
    (walking 98%, kicking 97%, climbing 89%) more than half of the time."""
    assert_read_as_asked(SHIPPED_CSGN, list(range(20_000, 20_016)), strong=("climbing", "kicking", "walking"))


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
