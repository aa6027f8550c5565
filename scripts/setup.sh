#!/usr/bin/env bash
# Installs what Engram needs on a fresh machine: npm packages (CPU onnxruntime),
# and the Python training environment in training/.venv.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
npm ci --no-audit --no-fund
