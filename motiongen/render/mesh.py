"""Skeleton meshes for 3D viewers: every bone a capsule, every joint a sphere, coloured by side.

One unit capsule and one unit icosphere are built once per process; every (frame, bone) capsule and
every (frame, joint) sphere is then placed by one batched transform, and face indices are offset
per instance by broadcasting, so a whole clip is a handful of numpy operations
(``benchmarks/bench_mesh.py``). A capsule is stretched along its axis by moving its top hemisphere,
never by scaling, so the end caps stay round and sit on the joints.

The mesh is in motiongen's internal frame — Y up, metres, right-handed — which is glTF's too, so
``.glb`` files open the right way up. trimesh is imported inside the functions that need it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motiongen.core.motion import Motion
from motiongen.core.skeleton import Skeleton
from motiongen.errors import ConfigError
from motiongen.formats._io import atomic_write
from motiongen.render.style import MISSING_RGB, SIDE_RGB, joint_sides

if TYPE_CHECKING:
    import trimesh

BONE_RADIUS_FRACTION = 0.015  # default bone radius, as a fraction of the skeleton's rest height
JOINT_RADIUS_SCALE = 1.4  # joint sphere radius / bone radius
MIN_BONE_LENGTH_M = 1e-6  # shorter bones (CMU's LHipJoint, Neck, …) are covered by their joint sphere
FILE_TYPES = ("glb", "ply", "obj")

_CAPSULE_COUNT = (8, 12)  # trimesh.creation.capsule: profile points (latitude), sections around the axis
_SPHERE_SUBDIVISIONS = 1  # icosphere: 42 vertices, 80 faces


# --- templates ------------------------------------------------------------------------------------

def _trimesh():
    try:
        import trimesh
    except ImportError:
        raise ConfigError("export-mesh needs trimesh: pip install trimesh") from None
    return trimesh


@functools.lru_cache(maxsize=1)
def _templates() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The unit capsule as ``(cap_points [Vc, 3], top [Vc], faces [Fc, 3])`` and the unit sphere as
    ``(vertices [Vs, 3], faces [Fs, 3])``.

    Capsule vertex v of a bone from ``start`` along ``vector`` lands at
    ``start + radius · R cap_points[v] + top[v] · vector``, with R taking +Z to the bone: every
    capsule vertex lies on one of the two unit hemispheres (the cylinder has no rings of its own),
    so ``cap_points`` are unit vectors and ``top`` (0 or 1) says which end the vertex follows."""
    trimesh = _trimesh()
    capsule = trimesh.creation.capsule(height=1.0, radius=1.0, count=list(_CAPSULE_COUNT))
    vertices = np.array(capsule.vertices, dtype=np.float64)
    # trimesh versions differ on where the capsule starts (centred, or one cap at the origin)
    vertices[:, 2] -= 0.5 * (vertices[:, 2].min() + vertices[:, 2].max())
    top = vertices[:, 2] > 0
    cap_points = vertices.copy()
    cap_points[:, 2] -= np.where(top, 0.5, -0.5)
    if not np.allclose(np.linalg.norm(cap_points, axis=1), 1.0):
        raise RuntimeError("trimesh.creation.capsule changed shape: vertices off its end hemispheres")
    sphere = trimesh.creation.icosphere(subdivisions=_SPHERE_SUBDIVISIONS, radius=1.0)
    arrays = (cap_points, top.astype(np.float64), np.array(capsule.faces, dtype=np.int64),
              np.array(sphere.vertices, dtype=np.float64), np.array(sphere.faces, dtype=np.int64))
    for array in arrays:
        array.setflags(write=False)
    return arrays


def _rotations_from_z(directions: np.ndarray) -> np.ndarray:
    """``[N, 3]`` unit vectors → ``[N, 3, 3]`` proper rotations taking +Z to each of them (columns:
    two perpendicular axes, then the direction). Branchless orthonormal basis of Duff et al. 2017,
    "Building an Orthonormal Basis, Revisited": stable for every direction, -Z included."""
    x, y, z = directions[:, 0], directions[:, 1], directions[:, 2]
    sign = np.copysign(1.0, z)
    a = -1.0 / (sign + z)
    b = x * y * a
    first = np.stack([1.0 + sign * x * x * a, sign * b, -sign * x], axis=-1)
    second = np.stack([b, sign + y * y * a, -y], axis=-1)
    return np.stack([first, second, directions], axis=-1)


def _instances(faces: np.ndarray, count: int, vertices_each: int, first_vertex: int) -> np.ndarray:
    """``count`` copies of a template's faces, each pointing at its own block of vertices."""
    offsets = first_vertex + vertices_each * np.arange(count, dtype=np.int64)
    return (faces[None] + offsets[:, None, None]).reshape(-1, 3)


# --- the mesh -------------------------------------------------------------------------------------

def default_bone_radius(skeleton: Skeleton) -> float:
    """1.5 % of the rest height (the widest rest extent for a skeleton lying flat)."""
    extent = skeleton.height_m() or float(np.ptp(skeleton.rest_positions(), axis=0).max())
    return BONE_RADIUS_FRACTION * (extent or 1.0)


def _frame_indices(motion: Motion, frames) -> np.ndarray:
    indices = np.asarray(frames).reshape(-1)
    if indices.size == 0:
        raise ConfigError("no frames to export")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ConfigError(f"frame numbers must be integers, got {indices.dtype}")
    bad = indices[(indices < 0) | (indices >= motion.frame_count)]
    if bad.size:
        raise ConfigError(f"motion has {motion.frame_count} frames; frame {int(bad[0])} is out of range")
    return indices.astype(np.int64)


def skeleton_mesh(motion: Motion, frames: list[int] | np.ndarray, radius_m: float | None = None,
                  spacing_m: float = 0.0) -> trimesh.Trimesh:
    """The skeleton in ``frames`` as one ``trimesh.Trimesh``: a capsule per bone of radius
    ``radius_m`` (default `default_bone_radius`), a sphere of ``JOINT_RADIUS_SCALE × radius_m`` per
    joint, RGBA uint8 vertex colours from `style.SIDE_RGB` (a bone takes its child's side).

    The k-th frame of ``frames`` is moved ``k · spacing_m`` metres along +X (0: frames stay where
    they are, a chronophotograph trail). A joint missing in a frame (``~motion.observed()``) has a
    `style.MISSING_RGB` sphere; one without a position (NaN) has none, and neither have the bones
    touching it. A bone with a missing but estimated end is drawn in `MISSING_RGB`. Bones shorter
    than ``MIN_BONE_LENGTH_M`` are left to their joint's sphere.

    Vertex order: every capsule in (frame, bone) order, then every sphere in (frame, joint) order;
    vertices are never merged (``process=False``)."""
    trimesh = _trimesh()
    indices = _frame_indices(motion, frames)
    radius = default_bone_radius(motion.skeleton) if radius_m is None else float(radius_m)
    if not (np.isfinite(radius) and radius > 0):
        raise ConfigError(f"--radius must be a positive number of metres, got {radius_m}")
    if not np.isfinite(spacing_m):
        raise ConfigError(f"--spacing must be a finite number of metres, got {spacing_m}")
    cap_points, top, capsule_faces, sphere_points, sphere_faces = _templates()

    positions = motion.positions[indices].astype(np.float64)  # [F, J, 3]
    positions[..., 0] += spacing_m * np.arange(len(indices))[:, None]
    located = np.isfinite(positions).all(-1)  # [F, J]
    observed = motion.observed()[indices]  # [F, J]
    missing_colour = len(SIDE_RGB)
    rgb = np.vstack([SIDE_RGB, MISSING_RGB])
    palette = np.hstack([np.round(255 * rgb), np.full((len(rgb), 1), 255)]).astype(np.uint8)
    sides = joint_sides(motion.skeleton)

    # Bones: joint j > 0 and its parent.
    children = np.arange(1, motion.joint_count)
    parents = motion.skeleton.parents[children]
    starts, ends = positions[:, parents], positions[:, children]  # [F, B, 3]
    vectors = ends - starts
    lengths = np.linalg.norm(vectors, axis=-1)
    drawn = located[:, parents] & located[:, children] & (lengths > MIN_BONE_LENGTH_M)
    frame_of, bone_of = np.nonzero(drawn)
    bone_vectors = vectors[frame_of, bone_of]  # [N, 3]
    rotations = _rotations_from_z(bone_vectors / lengths[frame_of, bone_of][:, None])
    capsule_vertices = (starts[frame_of, bone_of][:, None]
                        + radius * np.einsum("nij,vj->nvi", rotations, cap_points)
                        + top[None, :, None] * bone_vectors[:, None])  # [N, Vc, 3]
    bone_seen = observed[frame_of, parents[bone_of]] & observed[frame_of, children[bone_of]]
    capsule_colours = np.where(bone_seen, sides[children[bone_of]], missing_colour)

    # Joints: every one with a position.
    frame_at, joint_at = np.nonzero(located)
    sphere_vertices = (positions[frame_at, joint_at][:, None]
                       + JOINT_RADIUS_SCALE * radius * sphere_points[None])  # [M, Vs, 3]
    sphere_colours = np.where(observed[frame_at, joint_at], sides[joint_at], missing_colour)

    capsule_count, sphere_count = len(frame_of), len(frame_at)
    vertices = np.concatenate([capsule_vertices.reshape(-1, 3), sphere_vertices.reshape(-1, 3)])
    faces = np.concatenate([
        _instances(capsule_faces, capsule_count, len(cap_points), 0),
        _instances(sphere_faces, sphere_count, len(sphere_points), capsule_count * len(cap_points)),
    ])
    colours = palette[np.concatenate([np.repeat(capsule_colours, len(cap_points)),
                                      np.repeat(sphere_colours, len(sphere_points))])]
    return trimesh.Trimesh(vertices=vertices, faces=faces, vertex_colors=colours, process=False)


# --- writing --------------------------------------------------------------------------------------

def mesh_file_type(path: str | Path) -> str:
    """``glb``, ``ply`` or ``obj`` from the suffix of ``path``; anything else is a `ConfigError`."""
    suffix = Path(path).suffix.lower()
    if suffix.lstrip(".") not in FILE_TYPES:
        shown = repr(suffix) if suffix else "no suffix"
        raise ConfigError(f"{path}: cannot write a mesh with {shown}; use "
                          + ", ".join("." + t for t in FILE_TYPES[:-1]) + f" or .{FILE_TYPES[-1]}")
    return suffix.lstrip(".")


def export_mesh(mesh: trimesh.Trimesh, path: str | Path, file_type: str | None = None) -> None:
    """Write ``mesh`` to ``path`` atomically (a failure leaves nothing behind). ``file_type``
    (glb, ply or obj) defaults to the one `mesh_file_type` reads from the suffix."""
    file_type = mesh_file_type(path) if file_type is None else file_type.lower().lstrip(".")
    if file_type not in FILE_TYPES:
        raise ConfigError(f"mesh file type {file_type!r} is not one of {', '.join(FILE_TYPES)}")
    data = mesh.export(file_type=file_type)
    with atomic_write(path, binary=True) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
