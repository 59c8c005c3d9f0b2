#!/usr/bin/env bash
# On the GPU machine: real NVML figures from `avflow serve` under load.
# Starts the server on a GPU with a one-model repository (PaddleOCR's cls
# model, batched), drives it with `avflow bench` (closed loop, then open
# loop), and writes to OUT: /metrics after the load (the nv_gpu_* series
# must be there, with this GPU's UUID), /api/performance/status, both bench
# summaries (JSON), the server log, and summary.txt (the GPU series and the
# bench lines). Optionally runs Triton's perf_analyzer against the server
# (tests/serve/test_perf_analyzer.py) when given its binary.
#
# usage: scripts/gpu-serve-obs.sh [--avflow BIN] [--model ONNX] [--device cuda:0]
#            [--duration S] [--concurrency N] [--rate R] [--perf-analyzer BIN] [--out DIR]
# defaults: .bundle/bin/avflow, .bundle/models/ppocr_mobile_v2_cls.onnx, cuda:0, 15 s,
#           32 connections, 2000 requests/s, $OUT or ./gpu-out
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
avflow="$root/.bundle/bin/avflow"
model="$root/.bundle/models/ppocr_mobile_v2_cls.onnx"
device=cuda:0 duration=15 conc=32 rate=2000 pa="" out=${OUT:-$root/gpu-out}
while [ $# -gt 0 ]; do
  case "$1" in
    --avflow) avflow=$2 ;; --model) model=$2 ;; --device) device=$2 ;;
    --duration) duration=$2 ;; --concurrency) conc=$2 ;; --rate) rate=$2 ;;
    --perf-analyzer) pa=$2 ;; --out) out=$2 ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "gpu-serve-obs: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -d "$root/.bundle/lib" ] && export LD_LIBRARY_PATH="$root/.bundle/lib:${LD_LIBRARY_PATH:-}"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/repo/cls/1"
ln -s "$(realpath "$model")" "$tmp/repo/cls/1/model.onnx"
echo '{"max_batch_size": 32, "max_queue_delay_us": 2000, "instance_count": 2}' > "$tmp/repo/cls/config.json"

"$avflow" serve --model-repository "$tmp/repo" --port 0 --device "$device" --threads 8 \
  > "$tmp/serve.out" 2> "$out/server.log" &
srv=$!
for _ in $(seq 1 600); do grep -q "listening on" "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$tmp/serve.out" | head -1)
if [ -z "$url" ]; then echo "gpu-serve-obs: the server did not start" >&2; cat "$out/server.log" >&2; exit 1; fi
fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=60).read().decode())' "$1"; }

rc=0
"$avflow" bench --url "$url" --model cls --input x=8x3x48x192 --concurrency "$conc" \
  --duration "$duration" --warmup 3 --json > "$out/bench_closed.json" 2> "$tmp/bench_closed.err" || rc=1
"$avflow" bench --url "$url" --model cls --input x=1x3x48x192 --rate "$rate" \
  --duration "$duration" --warmup 2 --json > "$out/bench_open.json" 2> "$tmp/bench_open.err" || rc=1
fetch "$url/metrics" > "$out/metrics.txt" || rc=1
fetch "$url/api/performance/status" > "$out/status.json" || rc=1
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  device: $device  server: $url"
  nvidia-smi --query-gpu=name,uuid,driver_version,memory.total --format=csv,noheader 2>/dev/null
  echo "--- GPU series (/metrics after the load)"
  grep -E '^(nv_gpu_|avflow_gpu_|avflow_nvml_available|avflow_pool_bytes_peak|avflow_cpu_seconds_per_request|process_cpu_seconds_total|avflow_transfer_bytes_total)' "$out/metrics.txt"
  echo "--- closed loop, batch 8 per request, $conc connections"; cat "$out/bench_closed.json"
  echo "--- open loop, $rate requests/s"; cat "$out/bench_open.json"
  tail -n 2 "$tmp/bench_closed.err" "$tmp/bench_open.err"
} > "$out/summary.txt"
if ! grep -q '^nv_gpu_utilization{gpu_uuid="GPU-' "$out/metrics.txt"; then
  echo "FAIL: no nv_gpu_utilization series: NVML was not loaded (see server.log)" >> "$out/summary.txt"
  rc=1
fi
kill -TERM "$srv"; wait "$srv" || rc=1
if [ -n "$pa" ]; then
  python3 "$root/tests/serve/test_perf_analyzer.py" --avflow "$avflow" --perf-analyzer "$pa" \
    --model "$model" --shape x:3,48,192 --device "$device" > "$out/perf_analyzer.txt" 2>&1
  echo "perf_analyzer test: exit $? (77 = skipped)" >> "$out/summary.txt"
fi
cat "$out/summary.txt"
exit $rc
