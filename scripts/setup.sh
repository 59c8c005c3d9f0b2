#!/usr/bin/env bash
# Install what avflow needs to build and test on a Debian machine, only what
# is missing. Safe to run again: it checks before it installs. Needs root for
# apt (it is a no-op when everything is already there).
set -euo pipefail

# Debian packages: build tools and the libraries avflow links (libb64-0d:
# Triton's perf_analyzer, scripts/fetch-perf-analyzer.sh).
APT_PACKAGES=(
  build-essential cmake pkg-config
  libcmocka-dev
  libmicrohttpd-dev libjansson-dev
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
  libopenblas-dev
  libsndfile1-dev libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  libfftw3-dev libffmpeg-nvenc-dev
  libsoxr-dev libebur128-dev espeak-ng sox ffmpeg fonts-dejavu-core
  python3 python3-venv
  chromium nginx
  libpng-dev libjpeg-dev
  libb64-0d
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CUDA is optional: report whether the CUDA backend will be built.
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: nvcc found, the CUDA backend will be built"
else
  echo "setup: no nvcc, building the CPU backend only"
fi
echo "setup: ok"
