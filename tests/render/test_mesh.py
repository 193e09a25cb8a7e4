"""Skeleton meshes (`motiongen.render.mesh`): instance counts, capsule geometry, colours by side,
missing joints, spacing between frames, and the writer's refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trimesh")

from motiongen.core.motion import Motion  # noqa: E402
from motiongen.core.skeleton import Skeleton  # noqa: E402
from motiongen.errors import ConfigError, FormatError  # noqa: E402
from motiongen.formats import read_motion  # noqa: E402
from motiongen.render.mesh import export_mesh, skeleton_mesh  # noqa: E402
from motiongen.render.style import CENTRE, LEFT, MISSING_RGB, RIGHT, SIDE_RGB  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WALK = REPO / "examples" / "data" / "cmu_02_01_walk.bvh"
JOINT_SCALE = 1.4  # the spec: joint spheres are 1.4× the bone radius
RADIUS_FRACTION = 0.015  # the spec: default bone radius is 1.5 % of the rest height


# --- builders -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def walk() -> Motion:
    return read_motion(WALK)


def motion_of(positions, parents, names=None, mask=None) -> Motion:
    """A motion whose positions are given directly (``[T, J, 3]``); offsets from the first frame."""
    positions = np.asarray(positions, dtype=np.float64)
    parents = np.asarray(parents)
    names = names or tuple(f"joint{j}" for j in range(len(parents)))
    first = np.nan_to_num(positions[0])
    offsets = first - np.where(parents[:, None] >= 0, first[np.maximum(parents, 0)], 0.0)
    skeleton = Skeleton("synthetic", tuple(names), parents, offsets)
    return Motion(positions=positions, skeleton=skeleton, fps=30.0, mask=mask)


def rgb255(rgb) -> np.ndarray:
    return np.round(255 * np.asarray(rgb)).astype(np.uint8)


def template_sizes() -> tuple[int, int, int, int]:
    """(capsule vertices, capsule faces, sphere vertices, sphere faces), measured from meshes of a
    one-joint and a one-bone motion rather than read from the module."""
    one = skeleton_mesh(motion_of([[[0, 0, 0]]], [-1]), [0], radius_m=0.1)
    two = skeleton_mesh(motion_of([[[0, 0, 0], [0, 1, 0]]], [-1, 0]), [0], radius_m=0.1)
    sphere_v, sphere_f = len(one.vertices), len(one.faces)
    return len(two.vertices) - 2 * sphere_v, len(two.faces) - 2 * sphere_f, sphere_v, sphere_f


# --- counts ---------------------------------------------------------------------------------------

def test_counts_are_bones_with_length_times_capsule_plus_joints_times_sphere(walk):
    capsule_v, capsule_f, sphere_v, sphere_f = template_sizes()
    frames = [0, 171, 343]
    positions = walk.positions[frames].astype(np.float64)
    lengths = np.linalg.norm(positions[:, 1:] - positions[:, walk.skeleton.parents[1:]], axis=-1)
    bones = int((lengths > 1e-6).sum())
    assert (lengths <= 1e-6).sum(axis=1).min() >= 5  # CMU's zero-length bones are really there
    mesh = skeleton_mesh(walk, frames)
    joints = len(frames) * walk.joint_count
    assert len(mesh.vertices) == bones * capsule_v + joints * sphere_v
    assert len(mesh.faces) == bones * capsule_f + joints * sphere_f
    assert np.isfinite(mesh.vertices).all()
    assert mesh.visual.vertex_colors.dtype == np.uint8 and mesh.visual.vertex_colors.shape == (len(mesh.vertices), 4)
    assert mesh.is_winding_consistent


def test_surfaces_face_outwards():
    single = skeleton_mesh(motion_of([[[0, 0, 0]]], [-1]), [0], radius_m=0.1)
    bone = skeleton_mesh(motion_of([[[0, 0, 0], [0, 0, -1]]], [-1, 0]), [0], radius_m=0.1)
    assert single.volume > 0
    assert bone.volume - 2 * single.volume > 0.5 * np.pi * 0.1 ** 2  # the capsule adds its volume


# --- geometry -------------------------------------------------------------------------------------

@pytest.mark.parametrize("direction", [[0, 0, -1], [0, 0, 1], [0, -1, 0], [1, 0, 0], [0.3, -0.8, 0.52]])
def test_capsule_caps_sit_on_the_joints(direction):
    radius = 0.05
    start = np.array([0.2, 1.0, -0.3])
    motion = motion_of([[start, start + 0.5 * np.asarray(direction) / np.linalg.norm(direction)]], [-1, 0])
    start, end = motion.positions[0].astype(np.float64)  # as stored: float32
    length = np.linalg.norm(end - start)
    axis = (end - start) / length
    mesh = skeleton_mesh(motion, [0], radius_m=radius)
    vertices = np.asarray(mesh.vertices)
    nearest = np.minimum(np.linalg.norm(vertices - start, axis=1), np.linalg.norm(vertices - end, axis=1))
    on_capsule = np.isclose(nearest, radius, atol=1e-9)
    on_spheres = np.isclose(nearest, JOINT_SCALE * radius, atol=1e-9)
    assert (on_capsule | on_spheres).all()
    capsule = vertices[on_capsule]
    along = (capsule - start) @ axis
    np.testing.assert_allclose([along.min(), along.max()], [-radius, length + radius], atol=1e-9)
    np.testing.assert_allclose(capsule[along.argmin()], start - radius * axis, atol=1e-9)
    np.testing.assert_allclose(capsule[along.argmax()], end + radius * axis, atol=1e-9)
    across = capsule - start - np.clip(along, 0, length)[:, None] * axis
    assert np.linalg.norm(across, axis=1).max() == pytest.approx(radius, abs=1e-9)


def test_default_radius_is_a_fraction_of_the_height(walk):
    mesh = skeleton_mesh(walk, [0])
    joint_radius = JOINT_SCALE * RADIUS_FRACTION * walk.skeleton.height_m()
    joints = walk.positions[0].astype(np.float64)
    np.testing.assert_allclose(mesh.bounds, [joints.min(0) - joint_radius, joints.max(0) + joint_radius], atol=1e-9)


def test_spacing_moves_each_frame_along_x(walk):
    frames = [0, 30, 60]
    trail = skeleton_mesh(walk, frames, spacing_m=1.0)
    shifted = np.array([skeleton_mesh(walk, [f]).bounds + [[k, 0, 0], [k, 0, 0]] for k, f in enumerate(frames)])
    np.testing.assert_allclose(trail.bounds, [shifted[:, 0].min(0), shifted[:, 1].max(0)], atol=1e-9)
    in_place = skeleton_mesh(walk, [0, 0, 0], spacing_m=0.0)
    np.testing.assert_allclose(in_place.bounds, skeleton_mesh(walk, [0]).bounds, atol=1e-12)


# --- colours --------------------------------------------------------------------------------------

def capsule_vertex_ids(mesh, start, end, radius) -> np.ndarray:
    """Vertices of the faces whose centre lies inside the middle half of the bone start→end, which
    only that bone's capsule has (its cylinder has no vertices in between)."""
    centres = np.asarray(mesh.triangles_center)
    axis = end - start
    t = (centres - start) @ axis / (axis @ axis)
    off_axis = np.linalg.norm(centres - start - t[:, None] * axis, axis=1)
    faces = np.asarray(mesh.faces)[(t > 0.25) & (t < 0.75) & (off_axis < radius)]
    return np.unique(faces)


@pytest.mark.parametrize("child, side", [("LeftLeg", LEFT), ("RightLeg", RIGHT), ("Spine", CENTRE),
                                         ("LeftForeArm", LEFT)])
def test_capsules_take_their_side_colour(walk, child, side):
    mesh = skeleton_mesh(walk, [0])
    j = walk.skeleton.index(child)
    start = walk.positions[0, walk.skeleton.parents[j]].astype(np.float64)
    end = walk.positions[0, j].astype(np.float64)
    ids = capsule_vertex_ids(mesh, start, end, RADIUS_FRACTION * walk.skeleton.height_m())
    assert len(ids) > 10
    colours = np.asarray(mesh.visual.vertex_colors)[ids]
    assert (colours[:, :3] == rgb255(SIDE_RGB[side])).all()
    assert (colours[:, 3] == 255).all()


def test_a_bone_takes_its_child_joints_side():
    pelvis_to_hips = [[[0, 1, 0], [0.1, 0.95, 0], [-0.1, 0.95, 0]]]
    motion = motion_of(pelvis_to_hips, [-1, 0, 0], names=("Pelvis", "LeftHip", "RightHip"))
    mesh = skeleton_mesh(motion, [0], radius_m=0.005)
    for j, side in ((1, LEFT), (2, RIGHT)):
        ids = capsule_vertex_ids(mesh, motion.positions[0, 0].astype(float), motion.positions[0, j].astype(float), 0.005)
        assert len(ids) > 10
        assert (np.asarray(mesh.visual.vertex_colors)[ids, :3] == rgb255(SIDE_RGB[side])).all()


# --- missing joints -------------------------------------------------------------------------------

CHAIN = [[0.0, 1.0, 0.0], [0.0, 0.5, 0.1], [0.0, 0.0, 0.0]]


def test_a_nan_joint_has_no_sphere_and_no_bones():
    capsule_v, _, sphere_v, _ = template_sizes()
    positions = np.array([CHAIN, CHAIN])
    positions[1, 1] = np.nan
    motion = motion_of(positions, [-1, 0, 1])
    assert len(skeleton_mesh(motion, [0]).vertices) == 2 * capsule_v + 3 * sphere_v
    gap = skeleton_mesh(motion, [1], radius_m=0.02)
    assert len(gap.vertices) == 2 * sphere_v
    assert np.isfinite(gap.vertices).all()
    centres = np.asarray(gap.vertices).reshape(2, sphere_v, 3).mean(1)  # the two remaining spheres
    np.testing.assert_allclose(sorted(centres[:, 1]), [0.0, 1.0], atol=1e-9)
    assert not (np.asarray(gap.visual.vertex_colors)[:, :3] == rgb255(MISSING_RGB)).all(1).any()


def test_a_masked_joint_with_a_position_is_drawn_in_the_missing_colour():
    capsule_v, _, sphere_v, _ = template_sizes()
    mask = np.ones((1, 3), dtype=bool)
    mask[0, 2] = False  # an estimate: the position is there but the joint was not observed
    mesh = skeleton_mesh(motion_of([CHAIN], [-1, 0, 1], mask=mask), [0])
    missing = (np.asarray(mesh.visual.vertex_colors)[:, :3] == rgb255(MISSING_RGB)).all(1)
    assert missing.sum() == sphere_v + capsule_v  # its sphere and the bone into it
    assert np.asarray(mesh.vertices)[missing][:, 1].min() < 0  # around the joint at y = 0


def test_a_frame_with_nothing_to_draw_gives_an_empty_mesh():
    motion = motion_of(np.full((1, 3, 3), np.nan), [-1, 0, 1])
    assert len(skeleton_mesh(motion, [0], radius_m=0.01).vertices) == 0


# --- refusals and writing -------------------------------------------------------------------------

@pytest.mark.parametrize("frames, radius, spacing", [([], None, 0.0), ([344], None, 0.0), ([-1], None, 0.0),
                                                     ([0], 0.0, 0.0), ([0], -0.1, 0.0), ([0], None, np.inf)])
def test_bad_requests_are_config_errors(walk, frames, radius, spacing):
    with pytest.raises(ConfigError):
        skeleton_mesh(walk, frames, radius_m=radius, spacing_m=spacing)


@pytest.mark.parametrize("suffix", [".glb", ".ply", ".obj"])
def test_export_writes_the_suffix_type(walk, tmp_path, suffix):
    import trimesh

    path = tmp_path / f"walk{suffix}"
    export_mesh(skeleton_mesh(walk, [0]), path)
    back = trimesh.load(path, force="mesh")
    np.testing.assert_allclose(back.bounds, skeleton_mesh(walk, [0]).bounds, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_export_refuses_other_suffixes_and_leaves_nothing(walk, tmp_path):
    mesh = skeleton_mesh(walk, [0])
    with pytest.raises(ConfigError, match=r"'\.stl'.*\.glb, \.ply or \.obj"):
        export_mesh(mesh, tmp_path / "walk.stl")
    with pytest.raises(FormatError, match="does not exist"):
        export_mesh(mesh, tmp_path / "no" / "walk.glb")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing(tmp_path):
    class Unwritable:
        def export(self, file_type):
            return object()  # not bytes: the write into the temporary file fails

    with pytest.raises(TypeError):
        export_mesh(Unwritable(), tmp_path / "walk.glb")
    assert list(tmp_path.iterdir()) == []


def test_without_trimesh_the_error_says_how_to_install(walk, monkeypatch):
    monkeypatch.setitem(sys.modules, "trimesh", None)  # makes `import trimesh` raise ImportError
    with pytest.raises(ConfigError, match="pip install trimesh"):
        skeleton_mesh(walk, [0])
