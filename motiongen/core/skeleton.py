"""`Skeleton`: the kinematic tree, rest pose and conventions of one skeleton layout (DESIGN §3–§4).

The tree is one integer ``parents`` array (root = -1, parents before children). Rest offsets are
in metres in motiongen's internal frame (right-handed, Y up, the character facing +Z, so its left
side is +X). ``up``/``forward``/``metres_per_unit`` describe the *dataset's own files*, so readers
know how to bring them into the internal frame; they never change the offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np

from motiongen.errors import SkeletonError


@dataclass(frozen=True)
class DerivedRule:
    """A canonical joint made as an affine combination of other canonical joints."""

    canonical: str
    sources: tuple[str, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    parents: np.ndarray  # int64 [J], root = -1
    offsets: np.ndarray  # float64 [J, 3] metres, internal frame
    canonical: tuple[str | None, ...] = ()
    symmetry: tuple[tuple[int, int], ...] = ()
    end_sites: np.ndarray | None = None  # float64 [J, 3], NaN where a joint has no End Site
    derived: tuple[DerivedRule, ...] = ()
    fps: float = 30.0
    up: str = "+y"
    forward: str = "+z"
    units: str = "m"
    metres_per_unit: float = 1.0
    description: str = ""
    source: str = ""
    actions: str | None = None
    dataset_index: np.ndarray | None = None  # int [J], 0-based position of each joint in the dataset's own order
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        joint_count = len(self.joint_names)
        parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        offsets = np.asarray(self.offsets, dtype=np.float64).reshape(-1, 3) if joint_count else np.zeros((0, 3))
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "offsets", offsets)
        if not self.canonical:
            object.__setattr__(self, "canonical", (None,) * joint_count)
        if self.end_sites is None:
            object.__setattr__(self, "end_sites", np.full((joint_count, 3), np.nan))
        else:
            object.__setattr__(self, "end_sites", np.asarray(self.end_sites, dtype=np.float64).reshape(-1, 3))
        self._validate()
        parents.setflags(write=False)
        offsets.setflags(write=False)
        self.end_sites.setflags(write=False)

    # --- checks ---------------------------------------------------------------------------
    def _validate(self) -> None:
        joint_count = len(self.joint_names)
        if joint_count == 0:
            raise SkeletonError(f"skeleton {self.name!r} has no joints")
        if len(set(self.joint_names)) != joint_count:
            seen: set[str] = set()
            dupes = [n for n in self.joint_names if n in seen or seen.add(n)]
            raise SkeletonError(f"skeleton {self.name!r}: duplicate joint names {dupes}")
        if self.parents.shape != (joint_count,) or self.offsets.shape != (joint_count, 3):
            raise SkeletonError(f"skeleton {self.name!r}: parents/offsets do not match {joint_count} joints")
        if len(self.canonical) != joint_count:
            raise SkeletonError(f"skeleton {self.name!r}: canonical names do not match the joints")
        if self.parents[0] != -1 or np.any(self.parents[1:] < 0):
            raise SkeletonError(f"skeleton {self.name!r}: exactly one root, and it must come first")
        # Parents before children is the contract every FK/IK loop relies on.
        bad = np.nonzero(self.parents[1:] >= np.arange(1, joint_count))[0]
        if bad.size:
            j = int(bad[0]) + 1
            raise SkeletonError(
                f"skeleton {self.name!r}: joint {self.joint_names[j]!r} comes before its parent"
            )
        if not np.all(np.isfinite(self.offsets)):
            raise SkeletonError(f"skeleton {self.name!r}: offsets must be finite numbers")
        names = [c for c in self.canonical if c]
        if len(set(names)) != len(names):
            raise SkeletonError(f"skeleton {self.name!r}: a canonical name is used twice")

    # --- derived structure ----------------------------------------------------------------
    @property
    def joint_count(self) -> int:
        return len(self.joint_names)

    def index(self, joint: str) -> int:
        try:
            return self.joint_names.index(joint)
        except ValueError:
            raise SkeletonError(f"skeleton {self.name!r} has no joint {joint!r}") from None

    def canonical_index(self) -> dict[str, int]:
        """Canonical name → joint index, for the joints that have one."""
        return {c: j for j, c in enumerate(self.canonical) if c}

    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in self.joint_names]
        for j, p in enumerate(self.parents[1:], start=1):
            kids[int(p)].append(j)
        return kids

    def depth(self) -> np.ndarray:
        """Tree depth of every joint (root 0), ``[J]``."""
        depth = np.zeros(self.joint_count, dtype=np.int64)
        for j in range(1, self.joint_count):  # J ≤ ~60, once per skeleton
            depth[j] = depth[self.parents[j]] + 1
        return depth

    def depth_levels(self) -> list[np.ndarray]:
        """Joint indices grouped by depth, shallowest first: FK runs one batched step per level."""
        depth = self.depth()
        return [np.nonzero(depth == d)[0] for d in range(int(depth.max()) + 1)]

    def rest_positions(self) -> np.ndarray:
        """World positions ``[J, 3]`` of the rest pose (root at its offset)."""
        positions = np.zeros((self.joint_count, 3))
        positions[0] = self.offsets[0]
        for level in self.depth_levels()[1:]:
            positions[level] = positions[self.parents[level]] + self.offsets[level]
        return positions

    def height_m(self) -> float:
        """Rest-pose extent along Y (the internal up axis), metres."""
        rest = self.rest_positions()
        return float(rest[:, 1].max() - rest[:, 1].min())

    def bone_lengths(self) -> np.ndarray:
        """``[J]`` length of the offset from each joint's parent (0 for the root)."""
        lengths = np.linalg.norm(self.offsets, axis=-1)
        lengths[0] = 0.0
        return lengths

    def mirror_index(self) -> np.ndarray:
        """``[J]`` permutation swapping left and right joints (identity for central joints)."""
        perm = np.arange(self.joint_count)
        for a, b in self.symmetry:
            perm[a], perm[b] = b, a
        return perm

    def with_offsets(self, offsets: np.ndarray, name: str | None = None) -> "Skeleton":
        """The same tree with other rest offsets (e.g. bone lengths fitted to data)."""
        return replace(self, offsets=np.asarray(offsets, dtype=np.float64), name=name or self.name)

    def subset(self, joints: Iterable[int], name: str) -> "Skeleton":
        """A skeleton of a subset of joints; a kept joint's parent is its nearest kept ancestor and
        its offset the sum of the offsets in between."""
        keep = sorted(int(j) for j in joints)
        if not keep or keep[0] != 0:
            raise SkeletonError(f"a subset of {self.name!r} must keep the root")
        new_index = {old: new for new, old in enumerate(keep)}
        rest = self.rest_positions()
        parents, offsets = [-1], [self.offsets[0]]
        for old in keep[1:]:
            ancestor = int(self.parents[old])
            while ancestor not in new_index:
                ancestor = int(self.parents[ancestor])
            parents.append(new_index[ancestor])
            offsets.append(rest[old] - rest[ancestor])
        symmetry = tuple(
            (new_index[a], new_index[b]) for a, b in self.symmetry if a in new_index and b in new_index
        )
        return replace(
            self,
            name=name,
            joint_names=tuple(self.joint_names[j] for j in keep),
            parents=np.asarray(parents),
            offsets=np.asarray(offsets),
            canonical=tuple(self.canonical[j] for j in keep),
            symmetry=symmetry,
            end_sites=self.end_sites[keep],
            dataset_index=None,
        )

    def same_layout(self, other: "Skeleton") -> bool:
        """True when two skeletons have the same joints in the same tree (offsets may differ)."""
        return self.joint_names == other.joint_names and np.array_equal(self.parents, other.parents)

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, {self.joint_count} joints)"
