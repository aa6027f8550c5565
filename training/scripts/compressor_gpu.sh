#!/usr/bin/env bash
# The learned compressor on a GPU machine, same code as on CPU: variants side by side on the one GPU,
# each trained on DATA (`compressor data`, e.g. --labels lines) with line pooling. The shipped compressor's
# weights (read back from its ONNX) are the start of the `init-*` variants. Runs come back (weights,
# train.json, logs; no optimizer state) as OUT/runs.tgz.part-* (files under 15 MiB):
#   cat OUT/runs.tgz.part-* | tar xzf - -C DIR
# then `compressor eval` each here: evaluating on the device's CPU, four at a time, took longer than the
# training (the first run lost its results to the call's time limit that way).
# Usage (from the repo root): bash training/scripts/compressor_gpu.sh DATA OUT [BUDGET_S] [DEVICE]
set -euo pipefail
data="$(realpath "${1:?compressor data directory}")"
out="$(realpath -m "${2:?output directory}")"
budget="${3:-270}"
device="${4:-cuda}"
cd "$(dirname "$0")/.."
runs="$(mktemp -d)"
mkdir -p "$out"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
python3 -c 'import torch, onnx, onnxruntime, tokenizers; print("torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")'
python3 -m engram_training.compressor from-onnx --model ../models/engram-compressor-0.2.1 --out "$runs/base" >/dev/null

variant() {  # NAME ARGS...: train into runs/NAME
  local name="$1"
  shift
  python3 -m engram_training.compressor train --data "$data" --out "$runs/$name" --budget-s "$budget" --epochs 400 \
    --device "$device" --line-pool "$@" >"$runs/$name.log" 2>&1 || echo "$name failed: $(tail -n 3 "$runs/$name.log")"
}
variant init-kw30 --init "$runs/base" --keep-weight 30 --batch-size 64 --keep-windows 256 --lr 1e-3 &
variant init-kw100 --init "$runs/base" --keep-weight 100 --batch-size 64 --keep-windows 256 --lr 1e-3 &
variant kw30 --keep-weight 30 --batch-size 64 --keep-windows 256 --lr 2e-3 &
variant kw10-b128 --keep-weight 10 --batch-size 128 --keep-windows 256 --lr 2e-3 &
wait

for f in "$runs"/*.log; do echo "== $(basename "$f")"; { grep -v '^step ' "$f" || true; } | tail -n 6; grep '^step ' "$f" | tail -n 1 || true; done
rm -f "$runs/base/model.pt"
tar czf - -C "$runs" --exclude 'ckpt.pt' . | split -b 15m - "$out/runs.tgz.part-"
ls -la "$out"
