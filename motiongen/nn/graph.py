"""Skeleton graphs for graph convolutions, and graph pyramids for up/down-sampling joints.

- `Graph`: adjacency of a joint set plus the three ST-GCN spatial partitions (Yan et al.,
  AAAI 2018, "spatial configuration"): the joint itself, neighbours nearer the centre (root),
  neighbours farther from it — each column-normalised, ``[3, V, V]``.
- `graph_pyramid`: coarsened graphs from the full skeleton down to one vertex, by CSGN's rule
  (Yan et al., ICCV 2019, §3.3): keep a small set of vertices such that every removed vertex has a
  kept neighbour, connect kept vertices whose regions touch, repeat until one vertex is left. Each level carries the matrices to go between it and the finer one: ``upsample [V_fine,
  V_coarse]`` (a kept vertex copies itself, a removed vertex is the mean of its kept neighbours,
  as Kinetic-GAN's unpooling) and ``select`` (the kept vertices' fine indices, for critics).
Everything here is numpy and computed once per skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motiongen.core.skeleton import Skeleton


MERGE_AT = 3  # a coarsening that leaves this few vertices merges them into one instead


@dataclass(frozen=True, eq=False)
class Graph:
    joint_count: int
    adjacency: np.ndarray  # [V, V] 0/1, no self loops
    partitions: np.ndarray  # [3, V, V] float32: self, centripetal, centrifugal (column-normalised)
    center: int

    @property
    def edges(self) -> np.ndarray:
        return np.argwhere(np.triu(self.adjacency) > 0)


def _hops(adjacency: np.ndarray, source: int) -> np.ndarray:
    """Hop distance of every vertex from ``source`` (breadth first over a ≤ 60-vertex graph)."""
    distance = np.full(len(adjacency), np.inf)
    distance[source] = 0
    frontier = np.zeros(len(adjacency), dtype=bool)
    frontier[source] = True
    step = 0
    while frontier.any():
        step += 1
        reached = (adjacency[frontier].sum(0) > 0) & ~np.isfinite(distance)
        distance[reached] = step
        frontier = reached
    return distance


def make_graph(adjacency: np.ndarray, center: int = 0) -> Graph:
    adjacency = (np.asarray(adjacency) > 0).astype(np.float32)
    np.fill_diagonal(adjacency, 0.0)
    adjacency = np.maximum(adjacency, adjacency.T)
    count = len(adjacency)
    distance = _hops(adjacency, center)
    distance[~np.isfinite(distance)] = 0  # a disconnected vertex only talks to itself
    with_self = adjacency + np.eye(count, dtype=np.float32)
    # ST-GCN spatial configuration: column j aggregates into vertex j from its neighbours i.
    nearer = (distance[:, None] < distance[None, :]) & (adjacency > 0)
    farther = (distance[:, None] > distance[None, :]) & (adjacency > 0)
    parts = np.stack([np.eye(count), nearer, farther]).astype(np.float32)
    degree = with_self.sum(0)
    parts = parts / np.maximum(degree, 1.0)[None, None, :]
    return Graph(joint_count=count, adjacency=adjacency, partitions=parts, center=center)


def skeleton_graph(skeleton: Skeleton) -> Graph:
    """The bone graph of a skeleton, centred on its root."""
    adjacency = np.zeros((skeleton.joint_count, skeleton.joint_count), dtype=np.float32)
    children = np.arange(1, skeleton.joint_count)
    adjacency[children, skeleton.parents[1:]] = 1.0
    return make_graph(adjacency, center=0)


@dataclass(frozen=True, eq=False)
class PyramidLevel:
    graph: Graph
    select: np.ndarray  # [V_this] indices of this level's vertices in the finer level (None for the finest)
    upsample: np.ndarray  # [V_finer, V_this] float32: finer = upsample @ this


def _coarsen(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """Kept vertices (a small dominating set, greedy, centre first) and the coarse adjacency.

    Each kept vertex stands for a region: itself and the removed vertices next to it. Two kept
    vertices are joined when their regions touch in the finer graph, so the coarse graph stays
    connected (joining only kept vertices two hops apart leaves chains of removed vertices, e.g.
    a whole arm, with no coarse edge across them)."""
    count = graph.joint_count
    adjacency = graph.adjacency > 0
    kept = np.zeros(count, dtype=bool)
    covered = np.zeros(count, dtype=bool)
    kept[graph.center] = True
    covered[graph.center] = True
    covered |= adjacency[graph.center]
    while not covered.all():
        gain = ((adjacency | np.eye(count, dtype=bool)) & ~covered[None, :]).sum(1)
        gain[kept] = -1
        best = int(np.argmax(gain))
        kept[best] = True
        covered[best] = True
        covered |= adjacency[best]
    keep = np.flatnonzero(kept)
    region = adjacency[:, keep].astype(np.int64)  # [V_fine, V_coarse]: removed vertex → kept neighbours
    region[keep, np.arange(len(keep))] = 1
    region[keep] = np.eye(len(keep), dtype=np.int64)  # a kept vertex belongs to itself only
    touching = region.T @ (adjacency.astype(np.int64) + np.eye(count, dtype=np.int64)) @ region > 0
    coarse = touching.astype(np.float32)
    np.fill_diagonal(coarse, 0.0)
    return keep, coarse


def graph_pyramid(skeleton: Skeleton) -> list[PyramidLevel]:
    """Levels from one vertex (index 0) to the full skeleton (last)."""
    full = skeleton_graph(skeleton)
    levels: list[tuple[Graph, np.ndarray | None]] = [(full, None)]
    graph = full
    while graph.joint_count > 1:
        keep, coarse = _coarsen(graph)
        if len(keep) <= MERGE_AT or len(keep) == graph.joint_count:
            # Two or three vertices left (or no way to shrink): one more level would be a block of
            # the network spent on almost nothing, so merge into the centre (the NTU pyramid
            # becomes 25 → 9 → 4 → 1, as long as Kinetic-GAN's 25 → 11 → 5 → 1).
            keep, coarse = np.asarray([graph.center]), np.zeros((1, 1), dtype=np.float32)
        center = int(np.flatnonzero(keep == graph.center)[0]) if graph.center in keep else 0
        levels.append((make_graph(coarse, center), keep))
        graph = levels[-1][0]
    result: list[PyramidLevel] = []
    for index in range(len(levels) - 1, -1, -1):
        graph, keep = levels[index]
        if index == 0:
            upsample = np.eye(graph.joint_count, dtype=np.float32)
        else:
            finer = levels[index - 1][0]
            upsample = np.zeros((finer.joint_count, graph.joint_count), dtype=np.float32)
            upsample[keep, np.arange(len(keep))] = 1.0
            removed = np.setdiff1d(np.arange(finer.joint_count), keep)
            neighbours = finer.adjacency[np.ix_(removed, keep)]
            if len(keep) == 1:
                neighbours = np.ones_like(neighbours)  # the merge: every vertex copies the one left
            upsample[removed] = neighbours / np.maximum(neighbours.sum(1, keepdims=True), 1.0)
        result.append(PyramidLevel(graph=graph, select=keep, upsample=upsample))
    return result
