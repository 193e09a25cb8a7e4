"""Skeleton graphs and graph pyramids."""

import numpy as np
import pytest

from motiongen.nn.graph import graph_pyramid, skeleton_graph
from motiongen.skeletons import list_skeletons, load_skeleton


def _connected(adjacency: np.ndarray) -> bool:
    reached = np.zeros(len(adjacency), dtype=bool)
    reached[0] = True
    for _ in range(len(adjacency)):
        reached |= (adjacency[reached] > 0).any(0)
    return bool(reached.all())


@pytest.mark.parametrize("name", list_skeletons())
def test_pyramid_levels_are_connected_and_unpool_everything(name):
    skeleton = load_skeleton(name)
    levels = graph_pyramid(skeleton)
    assert levels[0].graph.joint_count == 1 and levels[-1].graph.joint_count == skeleton.joint_count
    for coarse, fine in zip(levels[:-1], levels[1:]):
        assert coarse.graph.joint_count < fine.graph.joint_count
        assert _connected(coarse.graph.adjacency)
        up = coarse.upsample
        assert up.shape == (fine.graph.joint_count, coarse.graph.joint_count)
        assert np.allclose(up.sum(1), 1.0)  # every finer vertex is a mean of coarse ones
        assert np.array_equal(up[coarse.select], np.eye(len(coarse.select)))  # kept vertices copy themselves
        assert coarse.select[coarse.graph.center] == fine.graph.center  # the centre survives


def test_ntu_pyramid_has_as_many_levels_as_kinetic_gan():
    assert [level.graph.joint_count for level in graph_pyramid(load_skeleton("ntu25"))] == [1, 4, 9, 25]


def test_partitions_follow_st_gcn_spatial_configuration():
    graph = skeleton_graph(load_skeleton("ntu25"))
    own, nearer, farther = graph.partitions
    assert np.allclose(np.diag(own) > 0, True)
    # SpineMid (1) is farther from the root (0) than SpineBase: 0 → 1 is centrifugal for joint 1's column
    assert nearer[0, 1] > 0 and farther[1, 0] > 0 and nearer[1, 0] == 0
    assert np.allclose((own + nearer + farther).sum(0), 1.0)  # column-normalised
