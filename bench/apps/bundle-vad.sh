#!/usr/bin/env bash
# Pack the VAD pipeline's GPU tests and benchmark into .bundle-vad/ (git-ignored
# via .bundle*): for a GPU machine without FFmpeg, so BUILD must be a CUDA build
# configured with -DAVF_FFMPEG=OFF (libavflow_media then needs libsndfile only):
#   cmake -S . -B build-cuda -DAVF_WERROR=ON -DAVF_FFMPEG=OFF
#   cmake --build build-cuda -j2 --target test_vad test_vad_segments bench_vad avflow_cli
#   bench/apps/bundle-vad.sh build-cuda
# then on the GPU machine (device tool: carry [".bundle-vad"]):
#   bench/apps/run-device-vad.sh [.bundle-vad]
# Holds libavflow*, avflow, test_vad, test_vad_segments, bench_vad, Silero,
# data/speech, and the Debian libraries the GPU image lacks (cmocka,
# protobuf-c, FFTW, libmicrohttpd, jansson, libsndfile and its codecs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: bench/apps/bundle-vad.sh BUILD_DIR (a CUDA build with -DAVF_FFMPEG=OFF)}
out="$root/.bundle-vad"
if grep -q '^AVF_FFMPEG:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "bundle-vad: $build has FFmpeg on; the GPU machine has no FFmpeg (use -DAVF_FFMPEG=OFF)" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/tests" "$out/bench" "$out/models" "$out/speech"
cp -a "$build/bin/avflow" "$out/bin/"
cp -a "$build"/src/libavflow*.so* "$build"/src/apps/libavflow_apps.so* "$out/lib/"
cp -a "$build/tests/apps/test_vad" "$build/tests/apps/test_vad_segments" "$out/tests/"
cp -a "$build/bench/bench_vad" "$out/bench/"
cp "$root/models/silero_vad.onnx" "$out/models/"
cp "$root"/data/speech/*.wav "$out/speech/"
# Debian libraries: the fixed set, then libsndfile's closure (codecs), leaving
# out what every Linux has (glibc, libgcc, libstdc++) and CUDA's.
libs="libcmocka.so.0 libprotobuf-c.so.1 libfftw3f.so.3 libmicrohttpd.so.12 libjansson.so.4"
for lib in $libs; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !f {print $NF; f=1}')
  [ -n "$path" ] || { echo "bundle-vad: $lib not found here" >&2; exit 1; }
  cp -L "$path" "$out/lib/$lib"
done
sndfile=$(ldconfig -p | awk '$1 == "libsndfile.so.1" && /x86-64/ && !f {print $NF; f=1}')
[ -n "$sndfile" ] || { echo "bundle-vad: libsndfile.so.1 not found here" >&2; exit 1; }
cp -L "$sndfile" "$out/lib/libsndfile.so.1"
ldd "$sndfile" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
  case "$name" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*|libmvec.so*) ;;
    *) cp -L "$path" "$out/lib/$name" ;;
  esac
done
git -C "$root" rev-parse --short HEAD > "$out/COMMIT" 2>/dev/null || echo unknown > "$out/COMMIT"
du -sh "$out"
echo "bundle-vad: ready in .bundle-vad/ (commit $(cat "$out/COMMIT"))"
