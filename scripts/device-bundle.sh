#!/usr/bin/env bash
# Pack what the GPU machine needs into .bundle/ (git-ignored): the avflow
# binaries, the test and benchmark executables, and the Debian runtime
# libraries the GPU machine lacks (it has CUDA, cuBLAS, cuDNN and cuFFT but
# not cmocka, libmicrohttpd or jansson). scripts/gpu-check.sh runs it there; the device tool carries it:
#   carry: [".bundle"]   command: scripts/gpu-check.sh
#
# --media [build]: a separate, small .bundle-media/ (~15 MB) for the media
# benchmarks and GPU tests alone (bench/media/run-device.sh runs it):
#   carry: [".bundle-media"]   command: bench/media/run-device.sh
# It holds libavflow (no FFmpeg: NVDEC is loaded at run time), test_ledger,
# test_nvdec, bench_video, bench_audio, the test clips, the 1080p30 bench
# clip (bench/media/make-clip.sh, made here with ffmpeg) and soxr wheels
# for bench/media/peers_audio.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--media" ]; then
  build=${2:-build}
  out="$root/.bundle-media"
  rm -rf "$out"
  mkdir -p "$out/lib" "$out/tests" "$out/bench" "$out/video" "$out/whl"
  # the clips test_nvdec decodes (idempotent: only missing files are made)
  command -v ffmpeg >/dev/null && "$root/scripts/make-test-data.sh" --video >/dev/null
  cp -a "$build"/src/libavflow.so* "$out/lib/"
  for t in test_ledger test_nvdec; do cp -a "$build/tests/$t" "$out/tests/"; done
  for t in bench_video bench_audio; do cp -a "$build/bench/$t" "$out/bench/"; done
  for lib in libcmocka.so.0 libprotobuf-c.so.1 libfftw3f.so.3; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
    [ -n "$path" ] || { echo "device-bundle: $lib not found here" >&2; exit 1; }
    cp -L "$path" "$out/lib/$lib"
  done
  for f in h264.h264 h264.nv12 hevc10.hevc hevc10.p010 hevc.hevc hevc.nv12 vp9.ivf vp9.nv12 \
           av1.ivf av1.nv12; do
    [ -f "$root/data/video/$f" ] && cp "$root/data/video/$f" "$out/video/"
  done
  [ -f "$out/video/h264.h264" ] ||
    echo "device-bundle: no data/video (scripts/make-test-data.sh --video): test_nvdec will skip" >&2
  "$root/bench/media/make-clip.sh" "$build/media-data"
  cp "$build/media-data/bench1080p30.h264" "$out/video/"
  # soxr for the host peer, for whichever CPython the GPU image has
  for v in 3.10 3.11 3.12; do
    ls "$root"/.whl/soxr-1.1.0-cp"${v/./}"-*.whl >/dev/null 2>&1 && continue
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$v" \
      --platform manylinux_2_28_x86_64 -d "$root/.whl" soxr==1.1.0 ||
      echo "device-bundle: could not fetch soxr for $v (peers_audio will report it missing)" >&2
  done
  cp "$root"/.whl/soxr-1.1.0-*.whl "$out/whl/" 2>/dev/null || true
  echo "$root" > "$out/SOURCE_DIR"
  git -C "$root" rev-parse --short HEAD > "$out/COMMIT" 2>/dev/null || echo unknown > "$out/COMMIT"
  du -sh "$out"
  echo "device-bundle: media bundle ready in .bundle-media/ (commit $(cat "$out/COMMIT"))"
  exit 0
fi
build=${1:-build}
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
# libsndfile and its codecs: libavflow_media (built -DAVF_FFMPEG=OFF for the
# GPU machine) decodes WAV/FLAC/OGG with it; libsoxr/libebur128 are the
# references of test_audio_kernels; libpng/libjpeg decode the OCR images.
for lib in libcmocka.so.0 libprotobuf-c.so.1 libfftw3f.so.3 libmicrohttpd.so.12 libjansson.so.4 \
           libsndfile.so.1 libFLAC.so.12 libvorbis.so.0 libvorbisenc.so.2 libopus.so.0 libogg.so.0 \
           libmpg123.so.0 libmp3lame.so.0 libsoxr.so.0 libebur128.so.1 libgomp.so.1 \
           libpng16.so.16 libjpeg.so.62; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/  && !f {print $NF; f=1}')
  [ -n "$path" ] || { echo "device-bundle: $lib not found here" >&2; exit 1; }
  cp -L "$path" "$out/lib/$lib"
done
# The apps' inputs (speech clips, text images) for their tests and benches
# (test_vad reads ../speech, test_ocr_app MODELS IMAGES reads .bundle/ocr).
for d in speech ocr; do
  if ls "$root/data/$d/"* >/dev/null 2>&1; then
    mkdir -p "$out/$d" && cp "$root/data/$d/"*.wav "$root/data/$d/"*.png "$out/$d/" 2>/dev/null || true
  fi
done
# The application pipelines (libavflow_apps, which the avflow command links)
# and their tests; libavflow_media there needs the libsndfile copied above
# (build with -DAVF_FFMPEG=OFF for the GPU machine, which has no FFmpeg).
if ls "$build"/src/apps/libavflow_apps.so* >/dev/null 2>&1; then
  cp -a "$build"/src/apps/libavflow_apps.so* "$out/lib/"
  find "$build/tests/apps" -maxdepth 1 -type f -perm -u+x -name 'test_*' -exec cp -a {} "$out/tests/" \; 2>/dev/null || true
fi
# The fake NVML of test_serve_obs (gpu-check.sh points AVF_FAKE_NVML_PATH at it).
[ -f "$build/tests/libavf_fake_nvml.so" ] && cp -a "$build/tests/libavf_fake_nvml.so" "$out/lib/"
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
# silero-vad: its silero_vad.jit is VAD's PyTorch peer (onnx2torch cannot
# convert the ONNX model's If and LSTM); the version scripts/fetch-models.sh uses.
silero=$(sed -n 's/^SILERO_VERSION=//p' "$root/scripts/fetch-models.sh")
for spec in onnx2torch==1.5.15 silero_vad=="$silero"; do
  name=${spec%%==*}
  if ! ls "$root"/.whl/"$name"-*.whl >/dev/null 2>&1; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$root/.whl" "$spec" ||
      echo "device-bundle: could not fetch $spec (its peer will report it missing)" >&2
  fi
  cp "$root"/.whl/"$name"-*.whl "$out/whl/" 2>/dev/null || true
done
# Debug info is most of the bytes and the carry is bounded (64 MiB): strip it
# (symbols stay, so backtraces still name functions; -lineinfo is in the
# device code, which strip leaves alone).
find "$out/bin" "$out/lib" "$out/tests" "$out/bench" -type f \( -perm -u+x -o -name '*.so*' \) \
  -exec strip --strip-debug {} + 2>/dev/null || true
# Tests find sources, models and conformance lists at the build's source path.
echo "$root" > "$out/SOURCE_DIR"
git -C "$root" rev-parse --short HEAD > "$out/COMMIT" 2>/dev/null || echo unknown > "$out/COMMIT"
du -sh "$out"
echo "device-bundle: ready in .bundle/ (commit $(cat "$out/COMMIT"))"
