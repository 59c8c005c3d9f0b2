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
#   env: B=64 C=256 DURATION=12 INST="2" (rec instance counts to try, e.g. "2 4")
#        DELAY_US=2000 REC_ONLY=1 (skip VAD and the Python baseline)
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
B=${B:-64} C=${C:-256} dur=${DURATION:-12} INST=${INST:-2} delay=${DELAY_US:-2000}
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

offline_ms=$(awk '$1 == "ocr_rec" && $3 == "graph" {print $4; exit}' "$sum")
offline_ips=$(awk '$1 == "ocr_rec" && $3 == "graph" {print $6; exit}' "$sum")
mkdir -p "$tmp/repo/rec/1"
ln -s "$b/models/ppocr_v4_rec.onnx" "$tmp/repo/rec/1/model.onnx"
# CPU seconds of the server per thread name (avf-batch, avf-app, avf-cpu,
# avf-pool; the HTTP threads are "avflow"), to see where server CPU goes
thread_cpu() {
  for f in /proc/$srv/task/*/stat; do
    comm=$(sed -n 's/^[0-9]* (\(.*\)) .*/\1/p' "$f"); rest=$(sed 's/^.*) //' "$f")
    echo "$comm $(echo "$rest" | awk '{print $12 + $13}')"
  done 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{t[$1] += $2} END {for (k in t) printf "%s %.3f\n", k, t[k] / hz}' | LC_ALL=C sort
}
# busy jiffies and all jiffies of the whole host (/proc/stat), and the CPU
# seconds of this shell's finished children (the bench client)
host_jiffies() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
host_busy() { # $1: "busy total" before, $2: after
  echo "$1 $2" | awk -v n="$(nproc)" '{b = $3 - $1; t = $4 - $2; if (t > 0) printf "host CPU     %.1f %% of %d cores busy during the run (server + client + rest)\n", 100 * b / t, n}'
}
# (`times` must run in this shell, not in a $(...) subshell: it writes a file)
client_cpu() { times > "$tmp/times"; awk 'NR == 2 {u = $1; s = $2; gsub(/[ms]/, " ", u); gsub(/[ms]/, " ", s); split(u, a, " "); split(s, c, " "); printf "%.3f\n", a[1] * 60 + a[2] + c[1] * 60 + c[2]}' "$tmp/times"; }
cpu_split() { # $1: before file, $2: after file
  LC_ALL=C join -a2 -e 0 -o 0,1.2,2.2 "$1" "$2" | awk '{printf "  %-12s %8.3f s\n", $1, $3 - $2}'
}
start_server() { # $1: rec instance count
  echo "{\"max_batch_size\": $B, \"max_queue_delay_us\": $delay, \"instance_count\": $1, \"queue_capacity\": 8192}" \
    > "$tmp/repo/rec/config.json"
  : > "$tmp/serve.out"
  "$avflow" serve --model-repository "$tmp/repo" --port 18500 --device cuda:0 --threads 16 \
    --apps "$b/models" --app-batch "$B" --app-workers 2 > "$tmp/serve.out" 2>> "$out/serve_server.log" &
  srv=$!
  for _ in $(seq 1 300); do grep -q "listening" "$tmp/serve.out" && break; sleep 0.1; done
  cat "$tmp/serve.out" | tee -a "$sum"
}
last_inst=${INST##* }
for inst in $INST; do
  start_server "$inst"
  echo "== 2. rec through HTTP (KServe binary tensors, $C clients, instance_count $inst)" | tee -a "$sum"
  thread_cpu > "$tmp/cpu0"
  h0=$(host_jiffies); client_cpu > "$tmp/c0"
  timeout 60 "$avflow" bench --url http://127.0.0.1:18500 --model rec --input x=1x3x48x320 \
    --concurrency "$C" --duration "$dur" --warmup 3 --quiet > "$tmp/rec.txt" 2>&1
  h1=$(host_jiffies); client_cpu > "$tmp/c1"
  thread_cpu > "$tmp/cpu1"
  tee -a "$sum" < "$tmp/rec.txt"
  host_busy "$h0" "$h1" | tee -a "$sum"
  echo "$(cat "$tmp/c0") $(cat "$tmp/c1")" | awk '{printf "client CPU   %.3f s (avflow bench, warm-up + run)\n", $2 - $1}' | tee -a "$sum"
  echo "server CPU by thread (warm-up + run):" | tee -a "$sum"; cpu_split "$tmp/cpu0" "$tmp/cpu1" | tee -a "$sum"
  # the targets, from this run's own numbers
  awk -v off="$offline_ips" -v ms="$offline_ms" -v d="$delay" '
    /throughput/ {t = $2} /latency ms/ {p99 = $10} /server CPU/ {cpu = $3}
    END { if (off > 0 && t > 0)
            printf "targets: throughput %.1f%% of offline (>= 90%%); p99 %.1f ms vs 2 x %.1f + %.1f = %.1f ms; CPU %.3f ms/request (< 0.100)\n",
                   100 * t / off, p99, d / 1000, ms, 2 * d / 1000 + ms, cpu }' "$tmp/rec.txt" | tee -a "$sum"
  [ "$inst" = "$last_inst" ] || { kill -TERM $srv; wait $srv; srv=""; }
done

if [ "${REC_ONLY:-0}" = 1 ]; then kill -TERM $srv; wait $srv; exit 0; fi
if [ -f "$b/speech/vad_mix.wav" ]; then
  echo "== 3. VAD through HTTP (/v1/audio/vad, $(basename "$b/speech/vad_mix.wav"), $C clients)" | tee -a "$sum"
  timeout 60 "$avflow" bench --url http://127.0.0.1:18500 --endpoint /v1/audio/vad \
    --body "$b/speech/vad_mix.wav" --content-type audio/wav --concurrency "$C" --duration "$dur" \
    --warmup 3 --quiet 2>&1 | tee "$tmp/vad.txt" | tee -a "$sum"
  thread_cpu > "$tmp/cpu2"
  echo "server CPU by thread (warm-up + run):" | tee -a "$sum"; cpu_split "$tmp/cpu1" "$tmp/cpu2" | tee -a "$sum"
  if [ -x "$b/bench/bench_vad" ]; then
    echo "== 3b. VAD offline (bench_vad, batch $B, same clip)" | tee -a "$sum"
    timeout 90 "$b/bench/bench_vad" --device cuda:0 --model "$b/models/silero_vad.onnx" \
      --clip "$b/speech/vad_mix.wav" --batches "1,$B" 2>&1 | tee "$tmp/vadoff.txt" | tee -a "$sum"
    # the targets, from this run's own numbers: offline clips/s = B / call time at batch B
    awk -v B="$B" -v d="$delay" '
      FNR == NR { if ($1 == B && $2 + 0 > 0) ms = $2; next }
      /throughput/ {t = $2} /latency ms/ {p99 = $10} /server CPU/ {cpu = $3}
      END { if (ms > 0 && t > 0)
              printf "targets (VAD): throughput %.1f%% of offline %.0f clips/s (>= 90%%); p99 %.1f ms vs 2 x %.1f + %.1f = %.1f ms; CPU %.3f ms/request (< 0.100)\n",
                     100 * t / (B * 1000 / ms), B * 1000 / ms, p99, d / 1000, ms, 2 * d / 1000 + ms, cpu }' \
      "$tmp/vadoff.txt" "$tmp/vad.txt" | tee -a "$sum"
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
