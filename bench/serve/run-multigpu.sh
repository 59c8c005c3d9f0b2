#!/usr/bin/env bash
# On a GPU machine, over .bundle/ (scripts/device-bundle.sh): does one avflow
# server scale with the GPUs of its host?
#  1. OCR rec through HTTP on one GPU: `avflow serve --devices cuda:0`
#     (max_batch_size B, 2 instances per GPU), `avflow bench` with C clients
#     (binary tensors, one 1x3x48x320 line per request).
#  2. The same with every GPU: `--devices cuda:0,...,cuda:N-1` (the model is
#     replicated on each; batches go to the least loaded GPU).
#  3. The scaling ratio: throughput with N GPUs / with 1, and each GPU's
#     share of the inferences (from the server's avflow_device_* series, as
#     avflow bench reports them).
# With one GPU only step 1 runs and the summary says N=1.
# Writes multigpu_summary.txt (+ each bench's JSON and the server logs) to $OUT.
#   env: B=64 C=256 DURATION=15 N=(GPUs found)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b="$root/.bundle"
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
avflow="$b/bin/avflow"
B=${B:-64} C=${C:-256} dur=${DURATION:-15}
found=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
N=${N:-$found}
[ "${N:-0}" -ge 1 ] 2>/dev/null || { echo "no GPU found (nvidia-smi -L)"; exit 1; }
sum="$out/multigpu_summary.txt"
tmp=$(mktemp -d)
srv=""
trap 'kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ) commit: $(cat "$b/COMMIT" 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
  echo "host: $(nproc) cores; $N GPU(s) used of $found; batch $B, $C clients, $dur s per run"
} | tee "$sum"

mkdir -p "$tmp/repo/rec/1"
ln -s "$b/models/ppocr_v4_rec.onnx" "$tmp/repo/rec/1/model.onnx"
echo "{\"max_batch_size\": $B, \"max_queue_delay_us\": 2000, \"instance_count\": 2, \"queue_capacity\": 8192}" \
  > "$tmp/repo/rec/config.json"

# run NAME DEVICES: one server on DEVICES, one bench; JSON to $out/multigpu_NAME.json
run() {
  local name=$1 devices=$2 port=18700
  echo "== $name: rec through HTTP, --devices $devices, $C clients" | tee -a "$sum"
  "$avflow" serve --model-repository "$tmp/repo" --port $port --devices "$devices" \
    --threads 16 > "$tmp/serve.out" 2> "$out/multigpu_${name}_server.log" &
  srv=$!
  for _ in $(seq 1 300); do grep -q "listening" "$tmp/serve.out" && break; sleep 0.1; done
  cat "$tmp/serve.out" | tee -a "$sum"
  # a short run warms every replica (its plans and CUDA graphs) and shows the
  # split; the measured run's JSON gives the ratio
  timeout 120 "$avflow" bench --url http://127.0.0.1:$port --model rec --input x=1x3x48x320 \
    --concurrency "$C" --duration 5 --warmup 3 --quiet 2>&1 | tee -a "$sum"
  timeout 120 "$avflow" bench --url http://127.0.0.1:$port --model rec --input x=1x3x48x320 \
    --concurrency "$C" --duration "$dur" --warmup 2 --quiet --json > "$out/multigpu_$name.json"
  kill -TERM $srv; wait $srv; srv=""
}

run 1gpu cuda:0
if [ "$N" -gt 1 ]; then
  list=$(seq -s, 0 $((N - 1)) | sed 's/\([0-9]\+\)/cuda:\1/g')
  run "${N}gpu" "$list"
fi

echo "== scaling" | tee -a "$sum"
python3 - "$out" "$N" <<'PY' | tee -a "$sum"
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
one = json.load(open(f"{out}/multigpu_1gpu.json"))
print(f"1 GPU : {one['throughput_rps']:.1f} requests/s, p50 {one['latency_us']['p50']/1e3:.2f} ms, "
      f"p99 {one['latency_us']['p99']/1e3:.2f} ms, errors {one['errors']}")
if n == 1:
    print("N=1: one GPU on this machine, no scaling ratio (run on a multi-GPU host)")
    sys.exit(0)
many = json.load(open(f"{out}/multigpu_{n}gpu.json"))
print(f"{n} GPUs: {many['throughput_rps']:.1f} requests/s, p50 {many['latency_us']['p50']/1e3:.2f} ms, "
      f"p99 {many['latency_us']['p99']/1e3:.2f} ms, errors {many['errors']}")
ratio = many["throughput_rps"] / one["throughput_rps"] if one["throughput_rps"] else 0
print(f"scaling: {ratio:.2f}x with {n} GPUs ({100 * ratio / n:.0f} % of linear)")
for d in many["server"].get("devices", []):
    print(f"  {d['name']:8s} {100 * d['share']:5.1f} % of the inferences "
          f"({d['inferences']:.0f} in {d['batches']:.0f} batches)")
PY
