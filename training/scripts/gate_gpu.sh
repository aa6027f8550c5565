#!/usr/bin/env bash
# Gate training and evaluation on a GPU machine (same code as on CPU). Expects the
# tokenised data from `python -m engram_training.gate data` in training/.data/gate and a
# python3 with torch, numpy, tokenizers and safetensors. Usage (from the repo root):
#   bash training/scripts/gate_gpu.sh RUN_DIR [BUDGET_S] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
run="${1:?run directory}"
budget="${2:-300}"
epochs="${3:-6}"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))'
python3 -m engram_training.gate train --data .data/gate --out "$run" --budget-s "$budget" \
  --epochs "$epochs" --batch-size 128 --lr 1e-3 --device cuda
python3 -m engram_training.gate eval --data .data/gate --run "$run" --device cuda
