"""Which side of the body each joint is on, and the colours every picture uses for it.

Left/right comes from the skeleton's symmetry pairs (the first of a pair is whichever side its
canonical name says), falling back to canonical names, so a BVH file's own hierarchy with
``Left*``/``Right*`` names is coloured too.
"""

from __future__ import annotations

import numpy as np

from motiongen.core.skeleton import Skeleton

CENTRE, LEFT, RIGHT = 0, 1, 2

# Colour per side as RGB in [0, 1]: the convention of most motion papers' figures, left blue and
# right red, the trunk a dark grey, and missing or imputed joints orange.
SIDE_RGB = np.array([
    [0.20, 0.20, 0.22],  # centre
    [0.12, 0.39, 0.80],  # left
    [0.84, 0.19, 0.15],  # right
])
MISSING_RGB = np.array([0.98, 0.55, 0.05])


def _side_of_name(name: str | None) -> int:
    if not name:
        return CENTRE
    lower = name.lower()
    # "LHip", "RThumb": a capital L/R followed by another capital
    if lower.startswith(("left", "l_")) or name[:1] == "L" and name[1:2].isupper():
        return LEFT
    if lower.startswith(("right", "r_")) or name[:1] == "R" and name[1:2].isupper():
        return RIGHT
    return CENTRE


def joint_sides(skeleton: Skeleton) -> np.ndarray:
    """``[J]`` int: CENTRE, LEFT or RIGHT for every joint. A bone takes its child joint's side, so
    hips and shoulders are drawn in the limb's colour."""
    sides = np.zeros(skeleton.joint_count, dtype=np.int64)
    for j in range(skeleton.joint_count):  # J ≤ ~60, once per picture
        canonical = skeleton.canonical[j] if skeleton.canonical else None
        side = _side_of_name(canonical)
        if side == CENTRE:
            side = _side_of_name(skeleton.joint_names[j])
        sides[j] = side
    for a, b in skeleton.symmetry:  # a pair whose names said nothing: the first is taken as left
        if sides[a] == CENTRE and sides[b] == CENTRE:
            sides[a], sides[b] = LEFT, RIGHT
    return sides

