#!/usr/bin/env bash
# Pack what the GPU machine needs into .bundle/ (git-ignored): the avflow
# binaries, the test and benchmark executables, and the Debian runtime
# libraries the GPU machine lacks (it has CUDA, cuBLAS, cuDNN and cuFFT but
# not cmocka, libmicrohttpd or jansson). scripts/gpu-check.sh runs it there; the device tool carries it:
#   carry: [".bundle"]   command: scripts/gpu-check.sh
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.bundle"
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/tests" "$out/bench"
cp -a "$build/bin/avflow" "$out/bin/"
cp -a "$build"/src/libavflow*.so* "$out/lib/"
find "$build/tests" -maxdepth 1 -type f -perm -u+x -name 'test_*' -exec cp -a {} "$out/tests/" \;
find "$build/bench" -maxdepth 2 -type f -perm -u+x -name 'bench_*' -exec cp -a {} "$out/bench/" \; 2>/dev/null || true
# The CUPTI kernel tracer (bench/engine/kernel_trace.c) and its CUPTI.
if [ -f "$build/bench/libavf_kernel_trace.so" ]; then
  cp -a "$build/bench/libavf_kernel_trace.so" "$out/lib/"
  cupti=$(ldd "$build/bench/libavf_kernel_trace.so" | awk '/libcupti/ {print $3}')
  [ -n "$cupti" ] && cp -L "$cupti" "$out/lib/"
fi
# Debian libraries that the Ubuntu GPU image does not ship.
for lib in libcmocka.so.0 libprotobuf-c.so.1 libfftw3f.so.3 libmicrohttpd.so.12 libjansson.so.4; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/  && !f {print $NF; f=1}')
  [ -n "$path" ] || { echo "device-bundle: $lib not found here" >&2; exit 1; }
  cp -L "$path" "$out/lib/$lib"
done
# The conformance runner with the official node tests it passes on the CPU
# (the GPU machine has no libonnx-testdata), and the real models.
if [ -x "$build/tests/run_node_tests" ]; then
  cp -a "$build/tests/run_node_tests" "$out/tests/"
  mkdir -p "$out/node"
  while read -r t; do
    case "$t" in ''|'#'*) continue ;; esac
    cp -r "/usr/share/libonnx-testdata/data/node/$t" "$out/node/"
  done < "$root/tests/conformance/expected_cpu.txt"
fi
mkdir -p "$out/models"
for m in silero_vad ppocr_v4_det ppocr_v4_rec ppocr_mobile_v2_cls; do
  [ -f "$root/models/$m.onnx" ] && cp "$root/models/$m.onnx" "$out/models/"
done
# The clips test_nvdec decodes, with ffmpeg's raw decode as its reference
# (scripts/make-test-data.sh --video); the test looks in .bundle/video.
if ls "$root"/data/video/h264.h264 >/dev/null 2>&1; then
  mkdir -p "$out/video"
  for f in h264.h264 h264.nv12 hevc10.hevc hevc10.p010; do
    cp "$root/data/video/$f" "$out/video/"
  done
else
  echo "device-bundle: no data/video (scripts/make-test-data.sh --video): test_nvdec will skip" >&2
fi
# Wheels the GPU image lacks, for bench/engine/peers.py (PyTorch is there).
mkdir -p "$out/whl"
if ! ls "$root"/.whl/onnx2torch-*.whl >/dev/null 2>&1; then
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$root/.whl" onnx2torch==1.5.15 ||
    echo "device-bundle: could not fetch onnx2torch (peers will report it missing)" >&2
fi
cp "$root"/.whl/onnx2torch-*.whl "$out/whl/" 2>/dev/null || true
# Tests find sources, models and conformance lists at the build's source path.
echo "$root" > "$out/SOURCE_DIR"
git -C "$root" rev-parse --short HEAD > "$out/COMMIT" 2>/dev/null || echo unknown > "$out/COMMIT"
du -sh "$out"
echo "device-bundle: ready in .bundle/ (commit $(cat "$out/COMMIT"))"
