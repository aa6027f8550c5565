#!/usr/bin/env bash
# Installs what Engram needs on a fresh machine: npm packages (CPU onnxruntime),
# and the Python training environment in training/.venv.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
npm ci --no-audit --no-fund
# Training environment (torch 2.13.0 is the CPU build that lies on disk here).
if [ ! -x training/.venv/bin/python ]; then python3 -m venv training/.venv; fi
training/.venv/bin/pip install -q --disable-pip-version-check -r training/requirements.txt
