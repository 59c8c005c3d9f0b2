#!/usr/bin/env bash
# On the GPU machine, over .bundle/ (scripts/device-bundle.sh): the serving
# targets in one session.
#  1. OCR rec offline: bench_engine at batch B (f32 plan, TF32 off) = the
#     engine's offline throughput at the batch the server uses.
#  2. OCR rec through HTTP: `avflow serve` (KServe v2, max_batch_size B,
#     2 instances) driven by `avflow bench` with C concurrent clients
#     (binary tensors, one 1x3x48x320 line per request).
#  3. VAD through HTTP: POST /v1/audio/vad of a speech clip, C clients, vs
#     the VAD pipeline offline at batch B (bench_vad) on the same clip.
#  4. The Python baseline (bench/serve/baseline_server.py: aiohttp, one
#     PyTorch instance, a thread pool, batch 1) on the same rec model, C
#     clients, raw f32 bodies.
# Writes serve_summary.txt (+ the JSON of each bench, the server log) to $OUT.
#   env: B=64 C=256 DURATION=15
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
avflow="$b/bin/avflow"
B=${B:-64} C=${C:-256} dur=${DURATION:-12}
sum="$out/serve_summary.txt"
tmp=$(mktemp -d)
trap 'kill $srv $base 2>/dev/null; rm -rf "$tmp"' EXIT
srv="" base=""
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ) commit: $(cat "$b/COMMIT")"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  echo "host: $(nproc) cores; batch $B, $C clients, $dur s per run"
} | tee "$sum"

echo "== 1. rec offline (bench_engine, f32 plan, batch $B)" | tee -a "$sum"
timeout 60 "$b/bench/bench_engine" --models "$b/models" --preset ocr_rec --batches "$B" --mode graph \
  --warmup 10 --reps 30 2>&1 | tee -a "$sum"

mkdir -p "$tmp/repo/rec/1"
ln -s "$b/models/ppocr_v4_rec.onnx" "$tmp/repo/rec/1/model.onnx"
echo "{\"max_batch_size\": $B, \"max_queue_delay_us\": 2000, \"instance_count\": 2, \"queue_capacity\": 8192}" \
  > "$tmp/repo/rec/config.json"
"$avflow" serve --model-repository "$tmp/repo" --port 18500 --device cuda:0 --threads 16 \
  --apps "$b/models" --app-batch "$B" --app-workers 2 > "$tmp/serve.out" 2> "$out/serve_server.log" &
srv=$!
for _ in $(seq 1 300); do grep -q "listening" "$tmp/serve.out" && break; sleep 0.1; done
cat "$tmp/serve.out" | tee -a "$sum"

echo "== 2. rec through HTTP (KServe binary tensors, $C clients)" | tee -a "$sum"
timeout 60 "$avflow" bench --url http://127.0.0.1:18500 --model rec --input x=1x3x48x320 \
  --concurrency "$C" --duration "$dur" --warmup 3 --quiet 2>&1 | tee -a "$sum"

if [ -f "$b/speech/vad_mix.wav" ]; then
  echo "== 3. VAD through HTTP (/v1/audio/vad, $(basename "$b/speech/vad_mix.wav"), $C clients)" | tee -a "$sum"
  timeout 60 "$avflow" bench --url http://127.0.0.1:18500 --endpoint /v1/audio/vad \
    --body "$b/speech/vad_mix.wav" --content-type audio/wav --concurrency "$C" --duration "$dur" \
    --warmup 3 --quiet 2>&1 | tee -a "$sum"
  if [ -x "$b/bench/bench_vad" ]; then
    echo "== 3b. VAD offline (bench_vad, batch $B, same clip)" | tee -a "$sum"
    timeout 90 "$b/bench/bench_vad" --device cuda:0 --model "$b/models/silero_vad.onnx" \
      --clip "$b/speech/vad_mix.wav" --batches "1,$B" 2>&1 | tee -a "$sum"
  fi
fi
curl -s http://127.0.0.1:18500/metrics > "$out/serve_metrics.txt" 2>/dev/null ||
  python3 -c "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:18500/metrics').read().decode())" > "$out/serve_metrics.txt"
kill -TERM $srv; wait $srv; srv=""

echo "== 4. Python baseline (aiohttp + PyTorch eager, batch 1), rec, $C clients" | tee -a "$sum"
python3 -c "import numpy as np; np.random.default_rng(1).uniform(-1,1,(1,3,48,320)).astype(np.float32).tofile('$tmp/rec.f32')"
python3 "$root/bench/serve/baseline_server.py" --model "$b/models/ppocr_v4_rec.onnx" --port 18600 \
  > "$tmp/base.out" 2> "$out/baseline_server.log" &
base=$!
for _ in $(seq 1 600); do grep -q "listening" "$tmp/base.out" && break; sleep 0.1; done
cat "$tmp/base.out" | tee -a "$sum"
timeout 60 "$avflow" bench --url http://127.0.0.1:18600 --endpoint /infer --body "$tmp/rec.f32" \
  --concurrency "$C" --duration "$dur" --warmup 3 --quiet --no-metrics 2>&1 | tee -a "$sum"
