"""Checks shared by the shipped generators' tests: an upright person in a BVH the CLI wrote, and
the recogniser reading each action as the one asked for."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from motiongen.formats import read_motion
from motiongen.skeletons import load_skeleton


def read_upright_cmu31_bvh(path, frames: int, fps: float):
    """The BVH at ``path``: ``frames`` frames at ``fps`` on cmu31, a person's height in metres,
    the head never down at the feet, above the hips nearly always. Returns the motion."""
    motion = read_motion(path)
    assert motion.frame_count == frames and motion.fps == pytest.approx(fps)
    assert motion.skeleton.joint_names == load_skeleton("cmu31").joint_names
    names = list(motion.skeleton.joint_names)
    y = motion.positions[..., 1]
    height = float(np.ptp(y[0]))
    assert 1.2 < height < 2.2, height  # a person, in metres
    head, hips = y[:, names.index("Head")], y[:, names.index("Hips")]
    lower_foot = np.minimum(y[:, names.index("LeftFoot")], y[:, names.index("RightFoot")])
    assert np.all(head > lower_foot + 0.25 * height)  # never lying down or upside down
    # Upright: a deep bend may bring the head level with the hips for a few frames, not for long.
    assert np.mean(head > hips) > 0.97
    return motion


def assert_read_as_asked(model: str, seeds: list[int], strong: tuple[str, ...]) -> None:
    """On ``seeds`` (not the seeds a snapshot was chosen on) the recogniser reads every action of
    the shipped ``model`` as itself more often than as any other (chance is 1 in 12), and each
    action in ``strong`` more than half of the time."""
    from motiongen.api.evaluate import GeneratorSource, read_as
    from motiongen.metrics.evaluation import load_recognizer
    from motiongen.training.checkpoint import load_checkpoint

    source = GeneratorSource.from_checkpoint(load_checkpoint(model))
    recognizer = load_recognizer(None)
    assert len(source.actions) == 12
    for action in source.actions:
        counts = Counter(read_as(source, recognizer, action, seeds))
        runner_up = max((n for name, n in counts.items() if name != action), default=0)
        assert counts[action] > runner_up, (action, counts)
        if action in strong:
            assert counts[action] > len(seeds) / 2, (action, counts)
