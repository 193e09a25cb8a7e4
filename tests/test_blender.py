"""A BVH written by motiongen imports into real Blender and stands where motiongen says it does.

Blender here is the ``bpy`` module from PyPI (bpy 4.5.x, Python 3.11 only). It gets its own cached
virtual environment (see ``tests/_bpy_env.py``), built once by a session fixture; the tests skip
with the reason only where it cannot be built (no Python 3.11, no package index). Set
``MOTIONGEN_REQUIRE_BLENDER=1`` to turn that skip into a failure (CI where bpy must work).

Every check runs Blender in a subprocess: ``tests/blender_scripts/import_bvh_dump.py`` imports the
file with Blender's own importer (Y-up file into Blender's Z-up world: axis_forward='-Z',
axis_up='Y') and dumps every frame's world-space bone heads, which must equal motiongen's joint
positions mapped by the proper rotation (x, y, z) -> (x, -z, y), to 1e-3 of the skeleton height.

What Blender 4.5's importer does, as found and pinned here:
* frames: the file's T frames are keyed at Blender frames 1..T (frame_start=1; nothing at 0);
  its "update scene duration" sets frame_end = T + 1 and never shortens the default 1..250, so
  the scene range is only exact when set by hand (``examples/blender_import.py`` does);
* root position channels replace the root OFFSET (pose location = channels - OFFSET, added to a
  rest head at OFFSET). motiongen's reader does the same and its writer puts OFFSET 0 0 0, so any
  reading of the channels agrees;
* fps: scene fps = render.fps / render.fps_base with render.fps = round(1 / Frame Time).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motiongen.formats import bvh

pytestmark = [
    pytest.mark.blender,
    pytest.mark.filterwarnings("ignore:.*BVH has no units:UserWarning"),
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DUMP_SCRIPT = HERE / "blender_scripts" / "import_bvh_dump.py"
EXAMPLE = REPO / "examples" / "blender_import.py"
CMU = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu"
TOLERANCE = 1e-3  # of the skeleton height
BLENDER_TIMEOUT_S = 600


def _load_bpy_env():
    spec = importlib.util.spec_from_file_location("_motiongen_bpy_env", HERE / "_bpy_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bpy_python() -> Path:
    """Python of the cached bpy venv (built on first use; ~35 s from a local index)."""
    env = _load_bpy_env()
    try:
        return env.ensure_bpy_python(log=lambda msg: print(f"[bpy venv] {msg}", file=sys.stderr))
    except env.BpyUnavailable as exc:
        if os.environ.get("MOTIONGEN_REQUIRE_BLENDER") == "1":
            pytest.fail(f"MOTIONGEN_REQUIRE_BLENDER=1 but bpy is unavailable: {exc}")
        pytest.skip(f"Blender's bpy module cannot be installed here: {exc}")


def _cmu(relative: str) -> Path:
    path = CMU / relative
    if not path.is_file():
        pytest.skip(f"CMU data not present: {path} (the ../shared/data/cmu checkout is absent)")
    return path


def _run(cmd, *, stdin_bytes: bytes | None = None, cwd=None) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [str(c) for c in cmd], input=stdin_bytes, capture_output=True, timeout=BLENDER_TIMEOUT_S,
        cwd=cwd,
    )
    if out.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {out.returncode}\n"
            f"--- stdout ---\n{out.stdout.decode(errors='replace')[-3000:]}\n"
            f"--- stderr ---\n{out.stderr.decode(errors='replace')[-3000:]}"
        )
    return out


def blender_dump(bpy_python: Path, bvh_path: Path, out: Path) -> dict:
    """Import ``bvh_path`` into a fresh Blender scene; return the dumped arrays."""
    _run([bpy_python, DUMP_SCRIPT, bvh_path, out])
    with np.load(out, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def to_blender(points: np.ndarray) -> np.ndarray:
    """motiongen's Y-up frame -> Blender's Z-up world, as the importer's axis_forward='-Z',
    axis_up='Y' does: (x, y, z) -> (x, -z, y), a +90 degree rotation about X (det +1)."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def skeleton_height(motion) -> float:
    """Extent of the first frame along up (Y), in metres."""
    return float(np.ptp(motion.positions[0, :, 1].astype(np.float64)))


def facing_yaw(positions: np.ndarray, names, up_axis: int) -> np.ndarray:
    """Unwrapped heading (radians) of the hips' forward direction, about the up axis."""
    names = list(names)
    across = positions[:, names.index("LeftUpLeg")] - positions[:, names.index("RightUpLeg")]
    up = np.zeros(3)
    up[up_axis] = 1.0
    forward = np.cross(across, up)  # left x up = forward for a right-handed frame
    horizontal = [a for a in range(3) if a != up_axis]
    return np.unwrap(np.arctan2(forward[:, horizontal[0]], forward[:, horizontal[1]]))


def check_blender_matches(motion, dump: dict) -> float:
    """Assert Blender's import of ``motion`` (written by bvh.write) matches it; return the max
    position error as a fraction of the skeleton height."""
    names = list(motion.skeleton.joint_names)
    frames = motion.frame_count

    assert list(dump["bone_names"]) == names

    # Frame range: Blender keys the T frames at 1..T and we dumped exactly those.
    assert dump["action_frame_start"] == 1.0
    assert dump["action_frame_end"] == float(frames)
    assert list(dump["frames"]) == list(range(1, frames + 1))
    assert dump["heads"].shape == (frames, len(names), 3)
    # The importer's own scene range: starts at 1 and reaches at least the last keyed frame.
    assert dump["scene_frame_start"] == 1
    assert dump["scene_frame_end"] >= frames

    # Frame rate: Frame Time = 1/fps (10 decimals) -> render.fps / fps_base.
    assert int(dump["render_fps"]) == round(motion.fps)
    assert float(dump["scene_fps"]) == pytest.approx(motion.fps, rel=1e-6)

    # The importer applied the axis conversion to the armature's rest pose: identity object.
    np.testing.assert_allclose(dump["armature_matrix_world"], np.eye(4), atol=1e-6)

    # Positions, every frame, every joint.
    height = skeleton_height(motion)
    assert height > 0.1
    expected = to_blender(motion.positions)
    error = np.linalg.norm(dump["heads"] - expected, axis=-1)
    worst = np.unravel_index(np.argmax(error), error.shape)
    rel = float(error.max() / height)
    assert rel <= TOLERANCE, (
        f"Blender bone head differs from motiongen by {error.max():.6f} m "
        f"({rel:.2e} of height {height:.3f} m) at frame {worst[0] + 1}, joint {names[worst[1]]}"
    )

    # Upright: Blender Z is up -- the head is above both feet in every frame.
    z = dump["heads"][..., 2]
    head = z[:, names.index("Head")]
    for foot in ("LeftFoot", "RightFoot"):
        assert np.all(head > z[:, names.index(foot)] + 0.5 * height), f"Head not above {foot}"
    return rel


# --- real CMU clips ---------------------------------------------------------------------------

def test_cmu_walk_imports_upright_with_matching_positions(bpy_python, tmp_path):
    source = bvh.read(_cmu("walking/02_01.bvh"))
    motion = source[1:61]  # 60 frames after the converter-added T-pose of frame 0
    path = tmp_path / "walk.bvh"
    bvh.write(motion, path)

    dump = blender_dump(bpy_python, path, tmp_path / "walk.npz")
    rel = check_blender_matches(motion, dump)
    print(f"walk: max |blender - motiongen| = {rel:.2e} of the skeleton height")


def test_the_readme_walk_imports_upright_for_1024_frames(bpy_python, tmp_path):
    """The README's first command on the shipped default generator: Blender's importer makes an
    armature that matches the file in all 1024 frames and stands upright in each."""
    from _cli import assert_ok, run

    path = tmp_path / "walk.bvh"
    assert_ok(run("sample", "--action", "walking", "--frames", "1024", "-o", path))
    motion = bvh.read(path)
    assert motion.frame_count == 1024
    dump = blender_dump(bpy_python, path, tmp_path / "walk.npz")
    rel = check_blender_matches(motion, dump)
    print(f"default walk: max |blender - motiongen| = {rel:.2e} of the skeleton height")


def test_cmu_pirouette_keeps_facing(bpy_python, tmp_path):
    """A clip whose root turns through two full pirouettes (> 700 degrees of heading)."""
    motion = bvh.read(_cmu("dancing/05_11.bvh"))[100:340]
    names = motion.skeleton.joint_names
    yaw = facing_yaw(motion.positions.astype(np.float64), names, up_axis=1)
    assert np.degrees(np.ptp(yaw)) > 360.0

    path = tmp_path / "pirouette.bvh"
    bvh.write(motion, path)
    dump = blender_dump(bpy_python, path, tmp_path / "pirouette.npz")
    rel = check_blender_matches(motion, dump)
    print(f"pirouette: max |blender - motiongen| = {rel:.2e} of the skeleton height")

    # The heading survives the axis change: about Blender's Z, facing rotates the same way
    # (a proper rotation keeps handedness; a bare Y/Z swap would mirror it).
    blender_yaw = facing_yaw(dump["heads"], names, up_axis=2)
    np.testing.assert_allclose(
        np.diff(blender_yaw), np.diff(facing_yaw(to_blender(motion.positions), names, up_axis=2)),
        atol=1e-3,
    )
    assert np.degrees(np.ptp(blender_yaw)) > 360.0


# --- a synthetic clip: needs no data; root turns a full circle; mixed Euler orders ------------

SYNTHETIC_FPS = 30000.0 / 1001.0  # 29.97: a non-integer rate -> render.fps 30, fps_base 1.001
SYNTHETIC_FRAMES = 90

# (name, parent, offset in metres, channel order) -- Y up, facing +Z, the character's left is +X.
_SYNTHETIC_JOINTS = [
    ("Hips", None, (0.0, 0.0, 0.0), "YXZ"),
    ("Spine", "Hips", (0.0, 0.12, 0.0), "ZXY"),
    ("Neck", "Spine", (0.0, 0.42, 0.02), "XYZ"),
    ("Head", "Neck", (0.0, 0.12, 0.0), "ZYX"),
    ("LeftArm", "Spine", (0.18, 0.36, 0.0), "ZYX"),
    ("LeftForeArm", "LeftArm", (0.28, 0.0, 0.0), "XZY"),
    ("RightArm", "Spine", (-0.18, 0.36, 0.0), "ZYX"),
    ("RightForeArm", "RightArm", (-0.28, 0.0, 0.0), "YZX"),
    ("LeftUpLeg", "Hips", (0.1, -0.05, 0.0), "XYZ"),
    ("LeftLeg", "LeftUpLeg", (0.0, -0.44, 0.0), "XYZ"),
    ("LeftFoot", "LeftLeg", (0.0, -0.42, 0.0), "XZY"),
    ("RightUpLeg", "Hips", (-0.1, -0.05, 0.0), "XYZ"),
    ("RightLeg", "RightUpLeg", (0.0, -0.44, 0.0), "XYZ"),
    ("RightFoot", "RightLeg", (0.0, -0.42, 0.0), "ZXY"),
]
_END_SITES = {
    "Head": (0.0, 0.18, 0.02), "LeftForeArm": (0.25, 0.0, 0.0), "RightForeArm": (-0.25, 0.0, 0.0),
    "LeftFoot": (0.0, -0.05, 0.14), "RightFoot": (0.0, -0.05, 0.14),
}


def synthetic_turning_bvh() -> str:
    """BVH text (metres, Y up) of a figure walking a 1 m circle while its root yaws 360 degrees,
    every joint moving on its own Euler order (exercises motiongen's reader too)."""
    names = [j[0] for j in _SYNTHETIC_JOINTS]
    children = {n: [c for c, p, _, _ in _SYNTHETIC_JOINTS if p == n] for n in names}
    spec = {j[0]: j for j in _SYNTHETIC_JOINTS}
    lines = ["HIERARCHY"]

    def emit(name, depth):
        _, parent, offset, order = spec[name]
        pad = "\t" * depth
        rot = " ".join(f"{axis}rotation" for axis in order)
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if parent is None:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot}")
        for child in children[name]:
            emit(child, depth + 1)
        if name in _END_SITES:
            end = _END_SITES[name]
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{",
                      f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    emit("Hips", 0)
    t = np.arange(SYNTHETIC_FRAMES) / SYNTHETIC_FRAMES
    phase = 2.0 * math.pi * t
    lines += ["MOTION", f"Frames: {SYNTHETIC_FRAMES}", f"Frame Time: {1.0 / SYNTHETIC_FPS:.10f}"]
    rng = np.random.default_rng(7)
    amp = {n: rng.uniform(5.0, 35.0, size=3) for n in names}
    freq = {n: rng.integers(1, 4, size=3) for n in names}
    for k in range(SYNTHETIC_FRAMES):
        row = []
        for name, parent, _, order in _SYNTHETIC_JOINTS:
            angles = {a: float(amp[name][i] * math.sin(freq[name][i] * phase[k] + i))
                      for i, a in enumerate("XYZ")}
            if parent is None:
                # Walks a circle of radius 1 m, facing along the path: rotating +Z by the yaw
                # phi about Y gives (sin phi, 0, cos phi), the velocity of (-cos phi, _, sin phi).
                angles["Y"] = math.degrees(phase[k])
                angles["X"] *= 0.3
                angles["Z"] *= 0.3
                row += [-math.cos(phase[k]), 0.95 + 0.03 * math.sin(4 * phase[k]), math.sin(phase[k])]
            if name in ("LeftLeg", "RightLeg"):
                angles["X"] = abs(angles["X"])  # knees bend one way
            row += [angles[a] for a in order]
        lines.append(" ".join(f"{v:.6f}" for v in row))
    return "\n".join(lines) + "\n"


def test_synthetic_full_turn_non_integer_fps(bpy_python, tmp_path):
    source_path = tmp_path / "synthetic_source.bvh"
    source_path.write_text(synthetic_turning_bvh())
    motion = bvh.read(source_path)
    assert motion.frame_count == SYNTHETIC_FRAMES
    assert motion.fps == pytest.approx(SYNTHETIC_FPS, rel=1e-8)
    yaw = facing_yaw(motion.positions.astype(np.float64), motion.skeleton.joint_names, up_axis=1)
    assert np.degrees(np.ptp(yaw)) > 300.0

    path = tmp_path / "synthetic.bvh"
    bvh.write(motion, path)
    dump = blender_dump(bpy_python, path, tmp_path / "synthetic.npz")
    rel = check_blender_matches(motion, dump)
    print(f"synthetic: max |blender - motiongen| = {rel:.2e} of the skeleton height")
    assert int(dump["render_fps"]) == 30
    assert float(dump["render_fps_base"]) == pytest.approx(1.001, rel=1e-6)


def test_root_position_channels_replace_the_offset(bpy_python, tmp_path):
    """Pins the convention both sides rely on: Blender reads root position channels as the
    root's absolute position, not as a displacement added to the root OFFSET."""
    text = synthetic_turning_bvh()
    moved = text.replace("ROOT Hips\n{\n\tOFFSET 0.000000 0.000000 0.000000",
                         "ROOT Hips\n{\n\tOFFSET 0.300000 -0.200000 0.500000", 1)
    assert moved != text
    plain, shifted = tmp_path / "plain.bvh", tmp_path / "shifted.bvh"
    plain.write_text(text)
    shifted.write_text(moved)
    a = blender_dump(bpy_python, plain, tmp_path / "plain.npz")
    b = blender_dump(bpy_python, shifted, tmp_path / "shifted.npz")
    np.testing.assert_allclose(b["heads"], a["heads"], atol=1e-5)  # animation unchanged
    np.testing.assert_allclose(b["rest_heads"][0] - a["rest_heads"][0],
                               to_blender([0.3, -0.2, 0.5]), atol=1e-6)  # only the rest pose moved
    # motiongen's reader agrees.
    np.testing.assert_allclose(bvh.read(shifted).positions, bvh.read(plain).positions, atol=1e-5)


# --- the example script -----------------------------------------------------------------------

_SUMMARY = re.compile(
    r"blender_import: (?P<name>.+): (?P<bones>\d+) bones, (?P<frames>\d+) frames "
    r"\((?P<start>\d+)\.\.(?P<end>\d+)\), (?P<fps>[\d.]+) fps "
    r"\(render\.fps=(?P<render_fps>\d+), fps_base=(?P<base>[\d.]+)\)(?:, saved (?P<saved>.+))?$",
    re.M,
)

_INSPECT_BLEND = r"""
import json, sys
import bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
arms = [ob for ob in scene.objects if ob.type == "ARMATURE"]
arm = arms[0]
scene.frame_set(scene.frame_end)
mw = arm.matrix_world
print("BLEND " + json.dumps(dict(
    armatures=len(arms), name=arm.name, bones=[b.name for b in arm.pose.bones],
    frame_start=scene.frame_start, frame_end=scene.frame_end,
    fps=scene.render.fps, fps_base=scene.render.fps_base,
    action_range=list(arm.animation_data.action.frame_range),
    last_heads=[list(mw @ pb.head) for pb in arm.pose.bones],
)))
"""


def _inspect_blend(bpy_python: Path, blend: Path) -> dict:
    import json

    out = _run([bpy_python, "-c", _INSPECT_BLEND, blend])
    line = [ln for ln in out.stdout.decode().splitlines() if ln.startswith("BLEND ")][-1]
    return json.loads(line[len("BLEND "):])


def _summary(out: subprocess.CompletedProcess) -> re.Match:
    text = out.stdout.decode(errors="replace")
    match = _SUMMARY.search(text)
    assert match, f"no summary line in the example's output:\n{text[-2000:]}"
    return match


@pytest.mark.parametrize("via_stdin", [False, True], ids=["file", "stdin"])
def test_example_script_sets_rate_and_range(bpy_python, tmp_path, via_stdin):
    source = tmp_path / "synthetic_source.bvh"
    source.write_text(synthetic_turning_bvh())
    motion = bvh.read(source)
    path = tmp_path / "turn.bvh"
    bvh.write(motion, path)
    blend = tmp_path / "turn.blend"

    if via_stdin:  # as in: motiongen sample ... -o - | blender ... -- - --save out.blend
        out = _run([bpy_python, EXAMPLE, "--", "-", "--save", blend], stdin_bytes=path.read_bytes())
    else:
        out = _run([bpy_python, EXAMPLE, "--", path, "--save", blend])
    summary = _summary(out)
    assert int(summary["bones"]) == len(motion.skeleton.joint_names)
    assert int(summary["frames"]) == motion.frame_count
    assert (int(summary["start"]), int(summary["end"])) == (1, motion.frame_count)
    assert int(summary["render_fps"]) == 30
    assert float(summary["base"]) == pytest.approx(1.001, abs=1e-9)  # snapped to 29.97 exactly
    assert summary["name"] == ("motion" if via_stdin else "turn")
    assert blend.is_file()

    state = _inspect_blend(bpy_python, blend)
    assert state["armatures"] == 1
    assert state["bones"] == list(motion.skeleton.joint_names)
    assert (state["frame_start"], state["frame_end"]) == (1, motion.frame_count)
    assert state["action_range"] == [1.0, float(motion.frame_count)]
    assert state["fps"] / state["fps_base"] == pytest.approx(motion.fps, rel=1e-4)
    last = to_blender(motion.positions[-1])
    error = np.abs(np.asarray(state["last_heads"]) - last).max()
    assert error <= TOLERANCE * skeleton_height(motion)


def test_example_script_fps_from_file_is_exact(bpy_python, tmp_path):
    motion = bvh.read(_cmu("walking/02_01.bvh"))[1:25]  # CMU Frame Time .0083333 -> 120.00048 fps
    path = tmp_path / "walk.bvh"
    bvh.write(motion, path)

    snapped = _summary(_run([bpy_python, EXAMPLE, "--", path]))
    assert (int(snapped["render_fps"]), float(snapped["base"])) == (120, 1.0)
    assert (int(snapped["start"]), int(snapped["end"])) == (1, 24)

    blend = tmp_path / "walk.blend"
    exact = _summary(_run([bpy_python, EXAMPLE, "--", path, "--fps-from-file", "--save", blend]))
    state = _inspect_blend(bpy_python, blend)
    assert state["fps"] == 120
    assert state["fps"] / state["fps_base"] == pytest.approx(motion.fps, rel=1e-7)
    assert float(exact["fps"]) == pytest.approx(motion.fps, rel=1e-5)
    assert (state["frame_start"], state["frame_end"]) == (1, 24)


def test_sampled_1024_frame_clip_imports_upright(bpy_python, tmp_path):
    """`motiongen sample --frames 1024 -o x.bvh` from a CSGN checkpoint (trained a few steps on
    real clips): Blender gets 1024 frames, the skeleton stands upright along Blender's +Z."""
    sys.path.insert(0, str(HERE / "training"))
    from _tiny import cmu_subset

    from motiongen.api.sample import sample
    from motiongen.api.train import train_from_options

    _cmu("walking/02_01.bvh")
    data = cmu_subset(tmp_path / "data")
    config = {"channels": [16, 16, 8, 8, 8], "latent_channels": 8, "class_channels": 4,
              "critic_channels": [8, 8, 16, 16, 16]}
    train_from_options("csgn", data, out=tmp_path / "run", frames=32, fps=30, batch_size=4, steps=4,
                       n_critic=2, model_config=config, seed=0)
    out = tmp_path / "walk.bvh"
    sample(tmp_path / "run", "walking", frames=1024, output=str(out), device="cpu")
    motion = bvh.read(out)
    assert motion.frame_count == 1024
    dump = blender_dump(bpy_python, out, tmp_path / "dump.npz")
    assert check_blender_matches(motion, dump) < TOLERANCE
    names = list(motion.skeleton.joint_names)
    heads = dump["heads"]
    assert np.mean(heads[:, names.index("Head"), 2] > heads[:, names.index("LeftFoot"), 2]) > 0.9
