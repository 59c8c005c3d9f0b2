#!/usr/bin/env bash
# `make run`: avflow's main job on the bundled samples. Starts `avflow serve`
# on the fetched models (a KServe repository of them, plus the /v1
# application endpoints), sends the sample speech to /v1/audio/vad and the
# sample text images to /v1/image/ocr, prints what came back and where the
# dashboard is, and keeps serving until Ctrl-C.
#
#   usage: scripts/run-demo.sh BUILD_DIR   (env: AVF_PORT=8000, AVF_DEVICE=auto)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
avflow="$build/bin/avflow"
port=${AVF_PORT:-8000}
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3

device=${AVF_DEVICE:-auto}
info=$("$avflow" info 2>&1 || true)
if [ "$device" = auto ]; then
  device=cpu
  case "$info" in *"  cuda:0  "*) device=cuda:0 ;; esac
fi
echo "$info" | sed -n '1,14p'
echo

# A Triton-style repository of the real models (symlinks, in the build dir).
repo="$build/demo-repository"
rm -rf "$repo"
for m in silero_vad ppocr_v4_det ppocr_v4_rec ppocr_mobile_v2_cls; do
  mkdir -p "$repo/$m/1"
  ln -s "$root/models/$m.onnx" "$repo/$m/1/model.onnx"
done

log=$(mktemp)
"$avflow" serve --model-repository "$repo" --apps "$root/models" --device "$device" \
  --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT INT TERM
for _ in $(seq 1 600); do
  grep -q "listening on" "$log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "listening on" "$log"; then
  cat "$log" >&2
  echo "run-demo: the server did not start (port $port busy? set AVF_PORT)" >&2
  exit 1
fi
sed -n '1,2p' "$log"
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
echo

"$py" - "$url" "$root/data" <<'PY'
import glob, json, os, sys, time, urllib.request
url, data = sys.argv[1], sys.argv[2]

def post(path, f, ctype):
    body = open(f, "rb").read()
    t = time.perf_counter()
    req = urllib.request.Request(url + path, data=body, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=300) as r:
        out = json.loads(r.read())
    return out, (time.perf_counter() - t) * 1e3

for f in sorted(glob.glob(f"{data}/speech/*.wav")):
    js, ms = post("/v1/audio/vad", f, "audio/wav")
    segs = ", ".join(f"{s['start_s']:.2f}-{s['end_s']:.2f} s" for s in js["segments"])
    print(f"POST /v1/audio/vad  {os.path.basename(f):16s} {js['duration_s']:5.2f} s audio, "
          f"speech {segs or 'none'}  ({ms:.0f} ms)")
print()
for f in sorted(glob.glob(f"{data}/ocr/*.png")):
    js, ms = post("/v1/image/ocr", f, "image/png")
    lines = " | ".join(l["text"] for l in js["lines"])
    print(f"POST /v1/image/ocr  {os.path.basename(f):16s} {js['width']}x{js['height']}: "
          f"{lines or '(no text)'}  ({ms:.0f} ms)")
PY
echo
echo "dashboard:  $url/"
echo "metrics:    $url/metrics"
echo "KServe v2:  $url/v2/models/ppocr_v4_rec (and silero_vad, ppocr_v4_det, ppocr_mobile_v2_cls)"
echo "serving; Ctrl-C stops"
wait $pid
