#!/usr/bin/env bash
# A tour of motiongen, top to bottom: look at a real motion-capture file, convert it for Blender,
# draw it, turn it into a mesh, train a small generator and sample from it, hide a limb and fill it
# in with HG-VAE, and hand a sample straight to Blender through a pipe.
#
#   bash examples/tour.sh                 # writes everything into ./tour-output
#   TOUR_OUT=/tmp/tour bash examples/tour.sh
#
# Settings (environment):
#   TOUR_OUT       output folder (default: tour-output in the current folder)
#   TOUR_STEPS     training steps of the small models (default 300, a few minutes on a laptop CPU)
#   TOUR_SIZE      pixels of one picture panel (default 320)
#   PYTHON         the Python that has motiongen installed (default: python)
#   TOUR_BLENDER   how to run a Blender script: "blender --background --python" (the default when
#                  `blender` is on PATH) or a Python that has the `bpy` module; empty skips step 8
#
# CI runs this script with a few training steps and small pictures (tests/test_examples.py), so it
# never rots.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${TOUR_OUT:-tour-output}"
STEPS="${TOUR_STEPS:-300}"
SIZE="${TOUR_SIZE:-320}"
WALK="$HERE/data/cmu_02_01_walk.bvh"   # CMU subject 02, trial 01 (see data/README.md)
mkdir -p "$OUT"
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "1. What is in a file: skeleton, frames, frame rate, missing joints"
motiongen info "$WALK"

say "2. Convert: the CMU walk (31 joints, 120 fps) onto the SMPL 22-joint skeleton at 30 fps"
# retargeted through canonical joint names, rotations solved by inverse kinematics, metres, Y up
motiongen convert "$WALK" -o "$OUT/walk_smpl22.bvh" --skeleton smpl22 --fps 30
motiongen convert "$WALK" -o "$OUT/walk_ntu25.npz" --skeleton ntu25 --fps 30   # Kinect layout, positions

say "3. Render: the original and both conversions side by side, and a contact sheet"
motiongen render "$WALK" "$OUT/walk_smpl22.bvh" "$OUT/walk_ntu25.npz" -o "$OUT/walk.gif" --size "$SIZE"
motiongen render "$OUT/walk_smpl22.bvh" -o "$OUT/walk_sheet.png" --sheet 6 --size "$SIZE"

say "4. A mesh for any 3D viewer: a strip of poses, every 15th frame, 0.6 m apart"
motiongen export-mesh "$OUT/walk_smpl22.bvh" -o "$OUT/walk_strip.glb" --every 15 --spacing 0.6

say "5. Train a small CSGN on the walk ($STEPS steps on the CPU; a stand-in until a default model ships)"
# A manifest names each file's action; frame 0 of a CMU file is a T-pose added by the converter.
printf 'file,action,tpose_frame0\n%s,walking,yes\n' "$WALK" > "$OUT/manifest.csv"
rm -rf "$OUT/run"
motiongen train csgn --data "$OUT/manifest.csv" --frames 32 --fps 30 --stride 4 --batch-size 8 \
    --steps "$STEPS" --channels 64,32,32,16,16 --model-option latent_channels=32 \
    --model-option critic_channels='[16,32,32,64,64]' --render-every "$STEPS" --device cpu --out "$OUT/run" --quiet
ls "$OUT/run/samples"                  # what the generator drew at the end of training

say "6. Sample: 256 frames of walking (any length from a CSGN), BVH for Blender and a picture"
motiongen sample --model "$OUT/run/last.safetensors" --action walking --frames 256 --count 2 --seed 7 \
    -o "$OUT/sample.bvh" --render "$OUT/sample.gif"

say "7. Hide the left leg for a second, fill it in with HG-VAE, and look at before and after"
"${PYTHON:-python}" - "$OUT/walk_smpl22.bvh" "$OUT/walk_hidden_leg.npz" <<'PY'
import sys
import numpy as np
from motiongen.formats import read_motion, write_motion

motion = read_motion(sys.argv[1])
leg = [motion.skeleton.canonical_index()[name] for name in ("left_hip", "left_knee", "left_ankle", "left_toe")
       if name in motion.skeleton.canonical_index()]
positions = motion.positions.copy()
positions[30:60, leg] = np.nan          # NaN = missing: what `motiongen impute` fills
write_motion(motion.replace(positions=positions, rotations=None, root_translation=None), sys.argv[2])
print(f"hid {len(leg)} joints in frames 30-59 of {motion.frame_count}")
PY
motiongen info "$OUT/walk_hidden_leg.npz"
# An HG-VAE learns what bodies do from windows of motion (here: the SMPL-22 walk itself, a stand-in
# for a real training set); impute then descends its negative log posterior over the missing values.
printf 'file,action\n%s,walking\n' "$(cd "$OUT" && pwd)/walk_smpl22.bvh" > "$OUT/manifest_smpl.csv"
rm -rf "$OUT/hgvae"
motiongen train hgvae --data "$OUT/manifest_smpl.csv" --frames 32 --stride 2 --batch-size 8 --steps "$STEPS" \
    --lr-g 1e-3 --model-option hidden=64 --model-option latent_dims='[16,16,16,32]' \
    --model-option kl_warmup_steps="$STEPS" --device cpu --out "$OUT/hgvae" --quiet
motiongen impute "$OUT/walk_hidden_leg.npz" --model "$OUT/hgvae/last.safetensors" --steps 20
motiongen render "$OUT/walk_smpl22.bvh" "$OUT/walk_hidden_leg.npz" "$OUT/walk_hidden_leg.imputed.npz" \
    -o "$OUT/hidden_leg.gif" --start 20 --end 70 --size "$SIZE"          # imputed joints in orange
motiongen render "$OUT/walk_smpl22.bvh" "$OUT/walk_hidden_leg.npz" "$OUT/walk_hidden_leg.imputed.npz" \
    -o "$OUT/hidden_leg.png" --frame 45 --size "$SIZE"

say "8. Straight into Blender: sample to stdout, import with the right frame rate and range"
if [[ -z "${TOUR_BLENDER+set}" ]] && command -v blender >/dev/null; then
    TOUR_BLENDER="blender --background --python"
fi
if [[ -n "${TOUR_BLENDER:-}" ]]; then
    motiongen sample --model "$OUT/run/last.safetensors" --action walking --frames 240 -o - --quiet \
        | $TOUR_BLENDER "$HERE/blender_import.py" -- - --name walk --save "$OUT/walk.blend"
else
    echo "no Blender here (set TOUR_BLENDER or put blender on PATH); skipped" >&2
fi

say "Done: pictures, BVH, mesh and .blend files are in $OUT"
ls "$OUT"
