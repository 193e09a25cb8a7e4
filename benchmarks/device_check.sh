#!/usr/bin/env bash
# Issue 3's GPU work as prepared commands, for a session that is lent a GPU (15 minutes of device
# time in all, a machine's start included; one command at most 10 minutes):
#   tests   the CUDA tests (tests/training/test_cuda.py: every model in fp32 and bf16, compiled,
#           GPU samples against the CPU's, resume)
#   bench   bench_gan.py in fp32, bf16 and bf16 compiled, against the issue's H200 targets
#   train   the CMU Kinetic-GAN recipe on the GPU for what is left of the budget, then every
#           snapshot scored per action (the shipped recogniser) on the machine's CPUs
# Everything comes back in $OUT (at most 8 files):
#   report.txt       environment, test results, benchmarks, training speed, per-action scores
#   log.jsonl, config.json, last.safetensors, last.resume.pt   the run (resumable here, on the CPU)
#   best-1.safetensors, best-2.safetensors                      the two snapshots read as asked most
#
# Here, once (the CMU BVH is 115 MB, over what travels, and ../shared stays behind):
#   python tools/pack_training_data.py ../shared/data/cmu .device/cmu15 --fps 15
# Then the device tool's run with carry [".device"] and timeout_s 600, for example
#   bash benchmarks/device_check.sh 420 tests,bench     (about 7 minutes)
#   bash benchmarks/device_check.sh 300 train           (at once after it, on the still-warm machine)
# The first argument is the command's budget in seconds: training gets what the other parts leave,
# less 100 s for scoring and copying. Rehearse on a CPU with DEVICE=cpu SNAPSHOT_EVERY=10.
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-560}
PARTS=",${2:-tests,bench,train},"
START=$SECONDS
OUT=${OUT:-device-out}
mkdir -p "$OUT"
REPORT="$OUT/report.txt"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MOTIONGEN_CACHE=/tmp/motiongen-cache
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-500}
RUN=${RUN:-/tmp/kg-device-run}
DATA=.device/cmu15

section() { echo; echo "=== $1 (t = $((SECONDS - START)) s)"; } >>"$REPORT"
wanted() { [[ "$PARTS" == *",$1,"* ]]; }

: >"$REPORT"
section "environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$REPORT" 2>&1
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')" >>"$REPORT" 2>&1

if wanted tests; then
  section "CUDA tests (tests/training/test_cuda.py)"
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/training/test_cuda.py >>"$REPORT" 2>&1
fi

if wanted bench; then
  for options in "--precision fp32" "--precision bf16" "--precision bf16 --compile"; do
    section "bench_gan.py --device $DEVICE $options"
    # shellcheck disable=SC2086  # the options are separate words
    timeout 200 "$PYTHON" benchmarks/bench_gan.py --device "$DEVICE" $options \
      $([ "$DEVICE" = cpu ] && echo --quick) >>"$REPORT" 2>&1 || echo "(stopped: exit $?)" >>"$REPORT"
  done
fi

if wanted train; then
  TRAIN_S=$((BUDGET - (SECONDS - START) - 100))
  section "training the CMU Kinetic-GAN recipe for $TRAIN_S s (SIGTERM writes the last checkpoint)"
  if [ ! -f "$DATA/manifest.csv" ]; then
    echo "no packed data at $DATA: run tools/pack_training_data.py here and carry .device" >>"$REPORT"
  elif [ "$TRAIN_S" -lt 60 ]; then
    echo "skipped: only $TRAIN_S s left" >>"$REPORT"
  else
    # Stage 1 of the shipped kinetic-gan-cmu31 (its card; RESULTS' twenty-fourth and twenty-fifth
    # CPU sessions), fp32, so the GPU's steps/s compare with the CPU's 1.5.
    timeout --signal=TERM --kill-after=40 "$TRAIN_S" "$PYTHON" -m motiongen train kinetic-gan --data "$DATA" \
      --frames 32 --fps 15 --holdout-subjects 08,13,16 --channels 256,256,128,128,64,32 \
      --model-option latent_dim=128 --model-option w_dim=256 --model-option 'critic_channels=[32,64,64,128,128,128]' \
      --model-option action_classifier_weight=1 --model-option classifier_rejects_fakes=true \
      --model-option classify_fakes_among_actions=true --model-option critic_frame_changes=true \
      --model-option critic_augment=shift --model-option classifier_rejects_stills=true \
      --model-option classifier_rejects_held_limbs=true \
      --keep-handedness wash_window,punching --balance-actions 1 --batch-size 32 --n-critic 2 \
      --ema-halflife-steps 200 --steps 200000 --snapshot-every "$SNAPSHOT_EVERY" --keep-snapshots \
      --device "$DEVICE" -o "$RUN" >"$RUN.out" 2>&1
    echo "exit $?" >>"$REPORT"
    tr '\r' '\n' <"$RUN.out" | grep -v "━" | tail -n 4 >>"$REPORT"
    tail -n 1 "$RUN/log.jsonl" >>"$REPORT" 2>/dev/null
  fi
  section "per action, seeds 1000… (48 clips per action), every snapshot, 8 at a time on the CPUs"
  find "$RUN" -name 'step-*.safetensors' 2>/dev/null | sort | xargs -r -P 8 -I{} sh -c \
    'OMP_NUM_THREADS=1 "$0" benchmarks/per_action_recognition.py "$1" --samples 48 --first-seed 1000 >"$1.txt" 2>&1' \
    "$PYTHON" {}
  for text in "$RUN"/step-*.safetensors.txt; do
    [ -f "$text" ] && echo "$(basename "$text" .safetensors.txt) $(grep 'mean over actions' "$text")"
  done | sort -k5,5nr >"$RUN/scores.txt"
  cat "$RUN/scores.txt" >>"$REPORT"
  rank=1
  for snapshot in $(awk '{print $1}' "$RUN/scores.txt" | head -n 2); do
    cp "$RUN/$snapshot.safetensors" "$OUT/best-$rank.safetensors"
    { echo "--- best-$rank = $snapshot"; cat "$RUN/$snapshot.safetensors.txt"; } >>"$REPORT"
    rank=$((rank + 1))
  done
  cp "$RUN/log.jsonl" "$RUN/config.json" "$RUN/last.safetensors" "$RUN/last.resume.pt" "$OUT/" 2>/dev/null
fi
section "done"
cat "$REPORT"
