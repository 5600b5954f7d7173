#!/usr/bin/env bash
# GPU stages vs CPU at real size (random weights): writes bench/results/gpu.json in under 9 minutes.
# Needs a Python with torch (CUDA build), transformers, sentence-transformers, tokenizers,
# sentencepiece and xcurate's own dependencies; nothing is downloaded.
#   bash bench/gpu.sh                 # PYTHON=/path/to/python to choose the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"

"$PYTHON" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA device: run this on a GPU machine")
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
if ! "$PYTHON" -c "import xcurate" 2>/dev/null; then  # a fresh checkout: install it offline, no dependencies
  "$PYTHON" -m pip install -q --no-deps --no-index --no-build-isolation -e .
fi
# Budget: ~1 min building models, then per device: encoder 40 s, documents (semantic_dedup, encoder classifier) 20 s, MT 40 s.
timeout 540 "$PYTHON" -m bench.gpu_bench --size real --devices cuda,cpu --budget-s 40 --name gpu
