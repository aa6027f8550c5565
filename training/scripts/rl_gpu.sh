#!/usr/bin/env bash
# RL on a GPU machine, same code as on CPU, from the shipped models (their weights read back from
# their ONNX, so no training run has to travel). Side by side on the one GPU:
#   reader     the extractive reader alone (reader_rl train), then `reader eval` of it and of the base;
#   positives  the same with the answer on windows that hold it weighed over "not here";
#   joint      the reader with the learned compressor choosing what it reads (--joint-compressor);
#   generative the Qwen2 decoder, supervised (only when GEN_DATA is given; its data is optional).
# Everything but checkpoints comes back as OUT/runs.tgz.part-* (files under 15 MiB):
#   cat OUT/runs.tgz.part-* | tar xzf - -C DIR
# Usage (from the repo root): [RL_ARGS=...] bash training/scripts/rl_gpu.sh READER_DATA OUT [BUDGET_S] [DEVICE] [GEN_DATA]
set -euo pipefail
data="$(realpath "${1:?reader data directory}")"
out="$(realpath -m "${2:?output directory}")"
budget="${3:-270}"
device="${4:-cuda}"
gen="${5:+$(realpath "$5")}"
cd "$(dirname "$0")/.."
runs="$(mktemp -d)"
mkdir -p "$out"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
python3 -c 'import torch, onnx, onnxruntime, tokenizers; print("torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")'
python3 -m engram_training.reader from-onnx --model ../models/reader-0.2.0 --out "$runs/base" >/dev/null
python3 -m engram_training.compressor from-onnx --model ../models/engram-compressor-0.2.1 --out "$runs/compressor" >/dev/null

evaluate() {  # NAME: reader eval of runs/NAME, its log appended to runs/NAME.log
  python3 -m engram_training.reader eval --data "$data" --run "$runs/$1" --device "$device" >/dev/null 2>>"$runs/$1.log"
}
rl() {  # NAME ARGS...: RL from the base into runs/NAME, then its evaluation
  local name="$1"
  shift
  { python3 -m engram_training.reader_rl train --data "$data" --init "$runs/base" --out "$runs/$name" \
      --budget-s "$budget" --steps 1000000 --device "$device" "$@" >"$runs/$name.log" 2>&1 && evaluate "$name"; } ||
    echo "$name failed: $(tail -n 3 "$runs/$name.log")"
}
# RL_ARGS (e.g. "--kl-coef 0.1 --lr 1e-5") goes to every variant. The first H100 run (defaults: KL 0.01,
# lr 3e-5) drifted far from the base (KL 7 at the end) and the joint compressor learned to keep nothing;
# `positives` weighs the answer on windows that hold it over "not here" and makes kept lines cheaper.
read -r -a extra <<<"${RL_ARGS:-}"
rl reader --windows 16 "${extra[@]}" &
rl positives --windows 16 --w-not-here 0.3 --w-token-cost 0.05 "${extra[@]}" &
rl joint --joint-compressor "$runs/compressor" --group 4 --windows 8 --eval-rows 64 --w-read-cost 0.05 --compressor-lr 3e-5 "${extra[@]}" &
{ evaluate base || echo "base eval failed: $(tail -n 3 "$runs/base.log")"; } &
if [ -n "$gen" ]; then
  { python3 -m engram_training.generative train --data "$gen" --out "$runs/generative" --device "$device" \
      --budget-s "$budget" --hidden 256 --layers 4 --intermediate 768 --batch-tokens 32768 --lr 0.002 \
      >"$runs/generative.log" 2>&1 &&
    python3 -m engram_training.generative eval --run "$runs/generative" --reader-data "$data" \
      >>"$runs/generative.log" 2>&1; } || echo "generative failed: $(tail -n 3 "$runs/generative.log")" &
fi
wait

for f in "$runs"/*.log; do echo "== $(basename "$f")"; { grep -v '^step ' "$f" || true; } | tail -n 4; done
# The base comes back from the shipped ONNX; the joint run's reader read compressed windows, so only its
# compressor and figures come back; checkpoints hold optimizer state.
rm -f "$runs/base/model.pt" "$runs/joint/model.pt" "$runs/compressor/model.pt"
tar czf - -C "$runs" --exclude 'ckpt.pt' . | split -b 15m - "$out/runs.tgz.part-"
ls -la "$out"
