#!/usr/bin/env bash
# On the GPU machine, over a bundle from scripts/device-bundle.sh (.bundle):
# the OCR application's GPU tests and its benchmark with peers, one after the
# other in one session. Writes ocr_*.txt/json to $OUT (or ./gpu-out).
#   BUNDLE=DIR   the bundle (default: .bundle next to this checkout)
#   BATCHES, REC_BATCHES, REPS   passed to bench_ocr and peers_ocr.py
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b=${BUNDLE:-$root/.bundle}
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
batches=${BATCHES:-1,8,32}
rec=${REC_BATCHES:-1,2,4,8,16,32,64,128,256}
reps=${REPS:-7}
rc=0
{ "$b/tests/test_image_crop" && "$b/tests/test_ocr_app" "$b/models" "$b/ocr"; } \
  2>&1 | tee "$out/ocr_tests.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
for prec in f32 fp16; do
  flag=(); [ "$prec" = fp16 ] && flag=(--fp16)
  "$b/bench/bench_ocr" --models "$b/models" --device cuda:0 "${flag[@]}" --batches "$batches" \
    --rec-batches "$rec" --reps "$reps" --json "$out/ocr_avflow_$prec.json" "$b"/ocr/*.png \
    2>&1 | tee "$out/ocr_avflow_$prec.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
done
python3 "$root/bench/apps/peers_ocr.py" --models "$b/models" --batches "$batches" \
  --rec-batches "$rec" --reps "$reps" --json "$out/ocr_peers.json" "$b"/ocr/*.png \
  2>&1 | tee "$out/ocr_peers.txt"
exit $rc
