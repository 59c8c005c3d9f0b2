#!/usr/bin/env bash
# On the GPU machine, over .bundle-vad/ from bench/apps/bundle-vad.sh: the VAD
# tests (CPU and cuda:0 instances), then bench_vad on cuda:0 in f32 and f16
# against ONNX Runtime (bench/apps/peers_vad.py) and on the CPU, for the same
# clip, one after the other in one session.
#   bench/apps/run-device-vad.sh [BUNDLE_DIR] [CLIP]
# Writes vad_*.txt to $OUT (or ./gpu-out). BATCHES (default 1,16,64,256) and
# REPEATS (default 5) tune the benchmark. Exit non-zero when a test fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$(cd "${1:-$root/.bundle-vad}" && pwd)
clip=${2:-$b/speech/vad_mix.wav}
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
batches=${BATCHES:-1,16,64,256}
repeats=${REPEATS:-5}
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(cat "$b/COMMIT")"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "host: $(nproc) cores"
  missing=$(ldd "$b/tests/test_vad" "$b/bench/bench_vad" | grep 'not found' | sort -u)
  [ -z "$missing" ] || { echo "missing libraries: $missing"; }
} 2>&1 | tee "$out/vad_env.txt"
rc=0
for t in test_vad_segments test_vad; do
  "$b/tests/$t" "$b/models/silero_vad.onnx" "$b/speech" >"$out/vad_$t.txt" 2>&1
  r=$?
  echo "$t: exit $r"; grep -E '^\[  (PASSED|FAILED|SKIPPED) |^(cuda|fp16)' "$out/vad_$t.txt"
  [ $r -eq 0 ] || { rc=1; tail -n 40 "$out/vad_$t.txt"; }
done
{
  # avflow f32 and f16 on cuda:0, then ONNX Runtime (CPU, and CUDA if present)
  # on the same clip and batches, with the ratios
  python3 "$root/bench/apps/peers_vad.py" --bench "$b/bench/bench_vad" \
    --model "$b/models/silero_vad.onnx" --clip "$clip" --device cuda:0 --fp16 \
    --batches "$batches" --repeats "$repeats"
  # avflow on this machine's CPU, batch 1 and 16 (larger batches take minutes)
  "$b/bench/bench_vad" --model "$b/models/silero_vad.onnx" --clip "$clip" --device cpu \
    --batches 1,16 --repeats 3 --warmup 1
} 2>&1 | tee "$out/vad_bench.txt"
exit $rc
