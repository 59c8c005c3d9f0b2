#!/usr/bin/env bash
# On the GPU machine, over a bundle from scripts/device-bundle.sh: avflow's
# plans on the real models at each model's batch sizes (f32 with TF32 off,
# fp16, and the node-by-node interpreter), then in the same session the
# peers (PyTorch eager and CUDA graph through onnx2torch, for VAD silero's own
# TorchScript model; ONNX Runtime CPU),
# then a CUPTI kernel trace of the fp16 plans at each model's best batch.
# Writes engine_avflow.txt, engine_peers.txt and ktrace.txt to $OUT.
#   env: PRESETS="ocr_rec:1,8,32,64,256 ..." REPS=30 NO_PEERS=1 NO_TRACE=1
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b="$root/.bundle"
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
export PYTHONUNBUFFERED=1
if ls "$b"/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$b"/whl/*.whl &&
    export PYTHONPATH=/tmp/site
fi
presets=${PRESETS:-"ocr_rec:1,8,32,64,256 ocr_cls:1,8,64,256 ocr_det:1,8,32 vad:1,16,64,256"}
reps=${REPS:-30}
: >"$out/engine_avflow.txt"
for spec in $presets; do
  p=${spec%%:*} bs=${spec#*:}
  timeout 150 "$b/bench/bench_engine" --models "$b/models" --preset "$p" --batches "$bs" --fp16 \
    --warmup 10 --reps "$reps" 2>&1 | tee -a "$out/engine_avflow.txt"
done
if [ -z "${NO_PEERS:-}" ]; then
  : >"$out/engine_peers.txt"
  for spec in $presets; do
    p=${spec%%:*} bs=${spec#*:}
    timeout 200 python3 "$root/bench/engine/peers.py" --models "$b/models" --preset "$p" \
      --batches "$bs" --reps "$reps" --ort-reps 3 2>&1 | tee -a "$out/engine_peers.txt"
  done
fi
if [ -z "${NO_TRACE:-}" ] && [ -f "$b/lib/libavf_kernel_trace.so" ]; then
  : >"$out/ktrace.txt"
  for spec in ocr_rec:256 ocr_cls:256 ocr_det:32; do
    p=${spec%%:*} bs=${spec#*:}
    echo "== $p batch $bs fp16 plan" >>"$out/ktrace.txt"
    AVF_KTRACE_OUT="$out/ktrace_one.txt" LD_PRELOAD="$b/lib/libavf_kernel_trace.so" \
      timeout 120 "$b/bench/bench_engine" --models "$b/models" --preset "$p" --batches "$bs" \
      --fp16 --mode graph16 --warmup 3 --reps 10 >/dev/null 2>&1
    head -25 "$out/ktrace_one.txt" >>"$out/ktrace.txt" 2>/dev/null
    rm -f "$out/ktrace_one.txt"
  done
fi
