#!/usr/bin/env bash
# Reader training on a GPU machine, same code as on CPU. A 5M-parameter model leaves the GPU
# mostly idle (batches are assembled in Python), so variants train side by side: with the
# segment and exact-match inputs at two sizes, and without them (the ablation). Each is
# evaluated on the held-out splits; the best on validation (span EM on positives) is sharded
# into OUT (files under 14 MiB) with every run's logs and evaluations in OUT/runs.tgz.
# Expects the data of `python -m engram_training.reader data` and a python3 with torch,
# numpy and tokenizers. Usage (from the repo root):
#   bash training/scripts/reader_gpu.sh DATA_DIR OUT_DIR [BUDGET_S] [DEVICE]
set -euo pipefail
data="$(realpath "${1:?data directory}")"
out="$(realpath -m "${2:?output directory}")"
cd "$(dirname "$0")/.."
budget="${3:-300}"
device="${4:-cuda}"
runs="$(mktemp -d)"
mkdir -p "$out"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")'

variant() {
  local name="$1"
  shift
  python3 -m engram_training.reader train --data "$data" --out "$runs/$name" --budget-s "$budget" --epochs 40 \
    --batch-size 128 --device "$device" "$@" >"$runs/$name.log" 2>&1 &&
    python3 -m engram_training.reader eval --data "$data" --run "$runs/$name" --device "$device" >/dev/null 2>>"$runs/$name.log" ||
    echo "variant $name failed: $(tail -n 3 "$runs/$name.log")"
}
variant features-d192 --lr 8e-4 &
variant plain-d192 --lr 8e-4 --no-features &
variant features-d256 --d-model 256 --layers 8 --heads 8 --lr 6e-4 &
wait

best="$(python3 - "$runs" <<'PY'
import json, sys
from pathlib import Path
runs = Path(sys.argv[1])
scores = {}
for ev in sorted(runs.glob("*/eval.json")):
    v = json.loads(ev.read_text())["validation"]
    t = json.loads((ev.parent / "train.json").read_text())
    scores[ev.parent.name] = (v["span_em_positives"] or 0, v["overall_em"])
    print(f"{ev.parent.name}: steps {t['steps']} loss {t['final_loss']} validation {v['span_em_positives']} / {v['overall_em']}", file=sys.stderr)
print(max(scores, key=scores.get) if scores else "")
PY
)"
[ -n "$best" ] || { echo "no variant finished"; exit 1; }
echo "best on validation: $best"
python3 -m engram_training.reader shard --run "$runs/$best" --out "$out"
cp "$runs/$best/train.json" "$runs/$best/eval.json" "$out/"
tar czf "$out/runs.tgz" -C "$runs" --exclude '*.pt' .
ls -la "$out"
