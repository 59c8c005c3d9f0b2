#!/usr/bin/env bash
# On the GPU machine, over a bundle from scripts/device-bundle.sh: avflow's
# executor and its peers on the real models, one after the other in one
# session. Writes engine_*.txt/json to $OUT (or ./gpu-out).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b="$root/.bundle"
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
if ls "$b"/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$b"/whl/*.whl &&
    export PYTHONPATH=/tmp/site
fi
batches=${BATCHES:-1,8,32}
"$b/bench/bench_engine" --models "$b/models" --batches "$batches" --json "$out/engine_avflow.json" \
  2>&1 | tee "$out/engine_avflow.txt"
python3 "$root/bench/engine/peers.py" --models "$b/models" --batches "$batches" \
  --json "$out/engine_peers.json" 2>&1 | tee "$out/engine_peers.txt"
