#!/usr/bin/env bash
# Runs ON a lent GPU machine (the `device` tool), from the repository root, with .device/
# carried (fetch it here first: scripts/device_fetch.sh). Each device command is capped at
# 10 minutes and the machine goes back after 30 s idle, so long work runs detached (setsid)
# and later commands wait on it. docs/model.md "Training on a lent GPU" has the sequence.
#
#   bash scripts/device_train.sh setup                 # wheels + EGL, print versions, render test
#   bash scripts/device_train.sh data [TRAIN_SAMPLES]  # generate datasets/gpu (detached)
#   bash scripts/device_train.sh train [CONFIG]        # train when data is done (detached)
#   bash scripts/device_train.sh wait SECONDS          # follow the logs until done or timeout
#   bash scripts/device_train.sh collect               # best checkpoint + logs -> $OUT
set -euo pipefail
cd "$(dirname "$0")/.."

SITE=/tmp/spatial_ros_site
LOGS=/tmp/spatial_ros_logs
DATA=datasets/gpu
CONFIG_DEFAULT=config/train/tiny_gpu.yaml
mkdir -p "$LOGS"
export PYTHONPATH="$SITE:$PWD" MUJOCO_GL=egl PYOPENGL_PLATFORM=egl PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
PY=${PYTHON:-python3}
CLI=("$PY" -m spatial_ros.cli.main)

running() { [ -f "$LOGS/$1.pid" ] && kill -0 "$(cat "$LOGS/$1.pid")" 2>/dev/null; }

detach() {  # name, command...: survives the device command that started it
  local name=$1; shift
  setsid nohup "$@" >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$LOGS/$name.pid"
  echo "[device] $name started (pid $(cat "$LOGS/$name.pid")), log $LOGS/$name.log"
}

case "${1:-}" in
  setup)
    [ -d .device/whl ] || { echo "no .device/whl: run scripts/device_fetch.sh here and carry .device"; exit 2; }
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$SITE" .device/whl/*.whl
    for f in .device/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    "$PY" - <<'PY'
import mujoco, numpy, torch, transformers
print(f"python ok: torch {torch.__version__} cuda {torch.cuda.is_available()}, "
      f"transformers {transformers.__version__}, mujoco {mujoco.__version__}, numpy {numpy.__version__}")
from spatial_ros.data.sim_scene import SimSceneConfig, render_scene
s = render_scene(0, SimSceneConfig())
print(f"render ok: rgb {s.rgb.shape}, mean {s.rgb.mean():.1f}, depth valid {(s.depth_mm > 0).mean():.2f}")
PY
    ;;
  data)
    n=${2:-36000}
    val=${VAL_SAMPLES:-600}
    workers=$(nproc)
    # val first (small), then train; the same seeds as datasets/v1's splits, more of them
    detach data bash -c "${CLI[*]} data generate --out $DATA --split val --n $val \
      --workers $workers --no-progress && ${CLI[*]} data generate --out $DATA --split train \
      --n $n --workers $workers --no-progress && touch $LOGS/data.done"
    ;;
  train)
    config=${2:-$CONFIG_DEFAULT}
    [ -f "$LOGS/data.done" ] || { echo "data not done yet (see $LOGS/data.log)"; exit 3; }
    detach train bash -c "${CLI[*]} train --config $config --data $DATA && touch $LOGS/train.done"
    ;;
  wait)
    deadline=$(( $(date +%s) + ${2:-540} ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
      if ! running data && ! running train; then break; fi
      sleep 15
    done
    for name in data train; do
      [ -f "$LOGS/$name.log" ] || continue
      echo "== $name: $(running "$name" && echo running || echo stopped)" \
        "$( [ -f "$LOGS/$name.done" ] && echo done)"
      tr '\r' '\n' < "$LOGS/$name.log" | grep -v '^\s*$' | grep -v "falling back" | tail -n 8
    done
    ;;
  collect)
    out=${OUT:?OUT is set by the device tool}
    run=$(grep '^out_dir:' "${2:-$CONFIG_DEFAULT}" | awk '{print $2}')
    best=$run/best
    [ -d "$best" ] || best=$run/last
    # a whole checkpoint directory, flat (at most 8 files come back)
    cp "$best"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json} "$out/"
    cp "$run/log.jsonl" "$out/" 2>/dev/null || true
    cp "$run/summary.json" "$out/" 2>/dev/null || true
    cp "$LOGS/train.log" "$out/train.log" 2>/dev/null || true
    ls -la "$out"
    ;;
  *)
    sed -n 2,12p "$0"; exit 2 ;;
esac
