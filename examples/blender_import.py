"""Import a motiongen BVH into Blender with the right axes, frame rate and frame range.

Run it with Blender::

    blender --background --python examples/blender_import.py -- walk.bvh --save walk.blend
    motiongen sample --action walking --frames 240 -o - \\
        | blender --background --python examples/blender_import.py -- - --save walk.blend

or with the ``bpy`` module from PyPI (``pip install "bpy>=4.5,<4.6"``, Python 3.11)::

    python examples/blender_import.py -- walk.bvh --save walk.blend

Arguments (after ``--``):

``BVH``              the file to import, or ``-`` to read the BVH text from standard input
``--save PATH``      save the result as a .blend file
``--fps-from-file``  set the scene to exactly 1 / Frame Time. Without it the rate is snapped to
                     the standard rate it stands for when it is that close (a written
                     ``Frame Time: 0.008333`` is 120.0048 fps -> 120 fps; 0.033367 -> 29.97 fps
                     as 30 / 1.001), so Blender shows a plain 120 rather than a custom 120.005
``--frame-start N``  the Blender frame of the clip's first frame (default 1; Blender's importer
                     accepts nothing below 1)
``--scale S``        multiply lengths (motiongen writes metres: 1.0; a raw CMU BVH: 0.056444)
``--name NAME``      name of the armature and its action (default: the file name, or "motion")
``--keep-scene``     import into the current scene; by default a session without an open .blend
                     starts from an empty scene (no default cube, camera or light)

What it does, and why:

* motiongen files are Y up, metres, the character facing +Z. Blender is Z up, its front view
  looking along +Y. ``axis_forward='-Z', axis_up='Y'`` maps a file point (x, y, z) to Blender
  (x, -z, y): a proper rotation (+90 degrees about X), so the clip stands upright, faces the
  front view, and is not mirrored.
* One Blender frame per BVH frame (``use_fps_scale=False``) and the scene fps set from the file:
  no resampling, every frame of the clip is a keyframe. Non-integer rates go through
  ``render.fps_base`` (scene fps = ``render.fps / render.fps_base``).
* Blender's importer keys the clip at frames ``frame_start .. frame_start + Frames - 1``. Its
  own "update scene duration" option would leave the scene ending one frame after the clip and
  never shortens the default 1..250 range, so this script sets the range itself.
* Root position channels are absolute: Blender (and motiongen) read them as replacing the root's
  OFFSET, which motiongen writes as 0 0 0.

Prints one line, e.g.
``blender_import: walk: 31 bones, 240 frames (1..240), 120 fps (render.fps=120, fps_base=1), saved walk.blend``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import bpy

#: Rates a Blender user expects to see as presets; an NTSC rate is N * 1000 / 1001.
_STANDARD_RATES = (8, 10, 12, 15, 16, 20, 24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 144, 200, 240,
                   250, 300, 360, 480, 500, 960, 1000)
_SNAP_REL_TOL = 2e-4  # a Frame Time written with 6 decimals is off by at most ~1e-4 relative at 240 fps


def _script_args(argv: list[str]) -> list[str]:
    """Arguments meant for this script: those after ``--`` (Blender's convention)."""
    if "--" in argv:
        return argv[argv.index("--") + 1:]
    # `python examples/blender_import.py walk.bvh` without the separator also works.
    return argv[1:] if argv and argv[0].endswith(".py") else []


def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="blender --background --python examples/blender_import.py --",
        description="Import a motiongen BVH into Blender (Z up, scene fps and range from the file).",
    )
    ap.add_argument("bvh", help="BVH file, or - for standard input")
    ap.add_argument("--save", metavar="PATH", help="save the scene as a .blend file")
    ap.add_argument("--fps-from-file", action="store_true",
                    help="use exactly 1 / Frame Time; do not snap to a standard rate")
    ap.add_argument("--frame-start", type=int, default=1, metavar="N")
    ap.add_argument("--scale", type=float, default=1.0, metavar="S")
    ap.add_argument("--name", help="name of the armature and action")
    ap.add_argument("--keep-scene", action="store_true",
                    help="import into the current scene instead of an empty one")
    return ap.parse_args(argv)


def read_motion_header(path: str) -> tuple[int, float]:
    """(Frames, Frame Time) from a BVH file's MOTION header, reading only up to it."""
    frames = frame_time = None
    with open(path, "r", encoding="utf-8", errors="replace", newline=None) as fh:
        in_motion = False
        for line in fh:
            words = line.split()
            if not words:
                continue
            key = words[0].lower()
            if key == "motion":
                in_motion = True
            elif in_motion and key == "frames:" and len(words) == 2:
                frames = int(words[1])
            elif in_motion and key == "frame" and len(words) == 3 and words[1].lower() == "time:":
                frame_time = float(words[2])
                break
    if frames is None or frame_time is None:
        raise ValueError(f"{path}: no 'Frames:' / 'Frame Time:' lines after MOTION; not a BVH file?")
    if not frame_time > 0.0:
        raise ValueError(f"{path}: Frame Time must be positive, got {frame_time}")
    return frames, frame_time


def scene_rate(frame_time: float, exact: bool) -> tuple[int, float]:
    """(render.fps, render.fps_base) for a clip of the given frame time.

    Blender's scene rate is ``fps / fps_base`` with an integer ``fps``. Unless ``exact``, a rate
    within 2e-4 of a standard one (integer presets, and NTSC ``N * 1000 / 1001``) snaps to it.
    """
    rate = 1.0 / frame_time
    if not exact:
        for n in _STANDARD_RATES:
            if abs(rate - n) <= _SNAP_REL_TOL * n:
                return n, 1.0
            ntsc = n * 1000.0 / 1001.0
            if abs(rate - ntsc) <= _SNAP_REL_TOL * ntsc:
                return n, 1.001
        if abs(rate - round(rate)) <= _SNAP_REL_TOL * rate:
            return int(round(rate)), 1.0
    fps = max(1, int(round(rate)))
    return fps, fps / rate


def import_bvh(path: str, *, name: str | None = None, frame_start: int = 1, scale: float = 1.0,
               exact_fps: bool = False) -> dict:
    """Import ``path`` into the current scene; set the scene's rate and range to the clip's."""
    n_frames, frame_time = read_motion_header(path)
    scene = bpy.context.scene
    before = set(scene.objects)
    result = bpy.ops.import_anim.bvh(
        filepath=path,
        target="ARMATURE",
        axis_forward="-Z",   # the file's -Z (behind the character) goes to Blender +Y
        axis_up="Y",         # the file's +Y goes to Blender +Z
        global_scale=scale,
        rotate_mode="NATIVE",  # keep each joint's Euler order from the file
        frame_start=frame_start,
        use_fps_scale=False,   # one Blender frame per BVH frame
        update_scene_fps=False,       # set below, with snapping
        update_scene_duration=False,  # set below, exactly
        use_cyclic=False,
    )
    if "FINISHED" not in result:
        raise RuntimeError(f"Blender's BVH importer failed on {path}: {result}")
    new = [ob for ob in scene.objects if ob not in before and ob.type == "ARMATURE"]
    if len(new) != 1:
        raise RuntimeError(f"expected the importer to add one armature, it added {len(new)}")
    arm = new[0]
    action = arm.animation_data.action
    if name:
        arm.name = name
        arm.data.name = name
        action.name = name
    keyed = int(round(action.frame_range[1] - action.frame_range[0])) + 1 if n_frames else 0
    if n_frames and keyed != n_frames:
        raise RuntimeError(f"file says {n_frames} frames but Blender keyed {keyed}")

    fps, fps_base = scene_rate(frame_time, exact_fps)
    scene.render.fps = fps
    scene.render.fps_base = fps_base
    scene.frame_start = frame_start
    scene.frame_end = frame_start + max(n_frames, 1) - 1
    scene.frame_set(frame_start)
    return {
        "name": arm.name,
        "bones": len(arm.data.bones),
        "frames": n_frames,
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "fps": fps / fps_base,
        "render_fps": fps,
        "fps_base": fps_base,
        "file_fps": 1.0 / frame_time,
    }


def main(argv: list[str]) -> int:
    args = _parse_args(_script_args(argv))
    if args.frame_start < 1:  # Blender's BVH importer clamps the first keyed frame to 1
        print("blender_import: --frame-start must be 1 or more", file=sys.stderr)
        return 2
    if not args.keep_scene and not bpy.data.filepath:
        bpy.ops.wm.read_factory_settings(use_empty=True)

    tmp = None
    try:
        if args.bvh == "-":
            data = sys.stdin.buffer.read()
            if not data.strip():
                print("blender_import: nothing on standard input", file=sys.stderr)
                return 2
            fd, tmp = tempfile.mkstemp(suffix=".bvh", prefix="motiongen-stdin-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            path, name = tmp, args.name or "motion"
        else:
            if not os.path.isfile(args.bvh):
                print(f"blender_import: no such file: {args.bvh}", file=sys.stderr)
                return 2
            path, name = os.path.abspath(args.bvh), args.name
        info = import_bvh(path, name=name, frame_start=args.frame_start, scale=args.scale,
                          exact_fps=args.fps_from_file)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"blender_import: {exc}", file=sys.stderr)
        return 1
    finally:
        if tmp is not None:
            os.unlink(tmp)

    saved = ""
    if args.save:
        out = os.path.abspath(args.save)
        bpy.ops.wm.save_as_mainfile(filepath=out)
        saved = f", saved {args.save}"
    print(
        f"blender_import: {info['name']}: {info['bones']} bones, {info['frames']} frames "
        f"({info['frame_start']}..{info['frame_end']}), {info['fps']:.6g} fps "
        f"(render.fps={info['render_fps']}, fps_base={info['fps_base']:.9g}){saved}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    if code:
        sys.exit(code)
