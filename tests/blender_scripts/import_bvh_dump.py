"""Import a BVH into a fresh Blender scene and dump what Blender made of it.

Runs INSIDE a Python that has the ``bpy`` module (Blender as a Python module, PyPI ``bpy``),
never inside the motiongen test process::

    python import_bvh_dump.py IN.bvh OUT.npz [--global-scale S] [--axis-forward -Z] [--axis-up Y]

The BVH is imported with Blender's own importer (``bpy.ops.import_anim.bvh``) the way a user
would for a motiongen file: Y-up file into Blender's Z-up world (``axis_forward='-Z', axis_up='Y'``),
native Euler orders, one Blender frame per BVH frame, scene fps and duration taken from the file.
Then every keyed frame is evaluated and each pose bone's world-space head is recorded.

OUT.npz (plain arrays, no pickles; load with ``np.load(OUT)``):

``heads``              float64 [F, B, 3]  world-space bone heads (``matrix_world @ pose_bone.head``), Blender Z up
``frames``             int64   [F]        the Blender frame number of each row of ``heads``
``bone_names``         str     [B]        pose bone names, in armature order
``parent_index``       int64   [B]        index of each bone's parent in ``bone_names`` (-1 for a root)
``rest_heads``         float64 [B, 3]     rest-pose (edit-bone) heads in world space
``scene_fps``          float64 []         ``render.fps / render.fps_base`` after the import
``render_fps``         int64   []         ``render.fps``
``render_fps_base``    float64 []         ``render.fps_base``
``scene_frame_start``  int64   []         scene range as the importer left it
``scene_frame_end``    int64   []
``action_frame_start`` float64 []         first/last keyframe of the imported action
``action_frame_end``   float64 []
``armature_matrix_world`` float64 [4, 4]
``blender_version``    str     []
"""

from __future__ import annotations

import argparse
import sys

import bpy
import numpy as np


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bvh")
    ap.add_argument("out")
    ap.add_argument("--global-scale", type=float, default=1.0)
    ap.add_argument("--axis-forward", default="-Z")
    ap.add_argument("--axis-up", default="Y")
    args = ap.parse_args(argv)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_anim.bvh(
        filepath=args.bvh,
        target="ARMATURE",
        axis_forward=args.axis_forward,
        axis_up=args.axis_up,
        global_scale=args.global_scale,
        rotate_mode="NATIVE",
        frame_start=1,
        use_fps_scale=False,
        update_scene_fps=True,
        update_scene_duration=True,
        use_cyclic=False,
    )
    if "FINISHED" not in result:
        print(f"import_bvh_dump: Blender's BVH importer returned {result}", file=sys.stderr)
        return 2

    scene = bpy.context.scene
    armatures = [ob for ob in scene.objects if ob.type == "ARMATURE"]
    if len(armatures) != 1:
        print(f"import_bvh_dump: expected one armature, found {len(armatures)}", file=sys.stderr)
        return 2
    arm = armatures[0]
    action = arm.animation_data.action if arm.animation_data else None
    if action is None:
        print("import_bvh_dump: the armature has no action", file=sys.stderr)
        return 2

    # Scene range as the importer left it (it only ever extends the default 1..250 range).
    scene_frame_start, scene_frame_end = scene.frame_start, scene.frame_end
    a_start, a_end = (float(v) for v in action.frame_range)

    pose_bones = arm.pose.bones
    n_bones = len(pose_bones)
    names = [pb.name for pb in pose_bones]
    index = {n: i for i, n in enumerate(names)}
    parent_index = np.array(
        [index[pb.parent.name] if pb.parent is not None else -1 for pb in pose_bones], dtype=np.int64
    )

    mw = np.array(arm.matrix_world, dtype=np.float64)  # [4, 4], rows
    rot, trans = mw[:3, :3], mw[:3, 3]

    rest = np.empty(n_bones * 3, dtype=np.float32)
    arm.data.bones.foreach_get("head_local", rest)
    rest_heads = rest.reshape(n_bones, 3).astype(np.float64) @ rot.T + trans

    frames = np.arange(int(round(a_start)), int(round(a_end)) + 1, dtype=np.int64)
    heads = np.empty((len(frames), n_bones, 3), dtype=np.float64)
    buf = np.empty(n_bones * 3, dtype=np.float32)
    for k, f in enumerate(frames):
        scene.frame_set(int(f))
        pose_bones.foreach_get("head", buf)  # armature space, float32 in Blender
        heads[k] = buf.reshape(n_bones, 3)
    heads = heads @ rot.T + trans

    np.savez(
        args.out,
        heads=heads,
        frames=frames,
        bone_names=np.array(names, dtype=np.str_),
        parent_index=parent_index,
        rest_heads=rest_heads,
        scene_fps=np.float64(scene.render.fps / scene.render.fps_base),
        render_fps=np.int64(scene.render.fps),
        render_fps_base=np.float64(scene.render.fps_base),
        scene_frame_start=np.int64(scene_frame_start),
        scene_frame_end=np.int64(scene_frame_end),
        action_frame_start=np.float64(a_start),
        action_frame_end=np.float64(a_end),
        armature_matrix_world=mw,
        blender_version=np.array(bpy.app.version_string, dtype=np.str_),
    )
    print(
        f"import_bvh_dump: {n_bones} bones, frames {frames[0] if len(frames) else '-'}"
        f"..{frames[-1] if len(frames) else '-'}, scene fps {scene.render.fps / scene.render.fps_base:.6f}"
    )
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--" in argv:  # also usable as: blender --background --python import_bvh_dump.py -- IN OUT
        argv = argv[argv.index("--") + 1 :]
    sys.exit(main(argv))
