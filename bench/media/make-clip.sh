#!/usr/bin/env bash
# The clip bench_video decodes: 10 s of 1080p30 H.264 (High profile, yuv420p,
# 2 B-frames, a key frame every 2 s) from ffmpeg's testsrc2 with light
# temporal noise, so the bitrate (~4-6 Mbit/s) is that of camera footage
# rather than of a flat test card. Written as an Annex-B elementary stream
# (what NVDEC takes; the GPU machine has no FFmpeg to demux a container).
# Idempotent. Needs ffmpeg with libx264 (scripts/setup.sh).
#   usage: bench/media/make-clip.sh OUT_DIR   -> OUT_DIR/bench1080p30.h264
set -euo pipefail
out=${1:?usage: make-clip.sh OUT_DIR}
mkdir -p "$out"
f="$out/bench1080p30.h264"
[ -s "$f" ] && { echo "make-clip: $f exists"; exit 0; }
ffmpeg -hide_banner -loglevel error -y -f lavfi \
  -i "testsrc2=size=1920x1080:rate=30,noise=alls=6:allf=t" -t 10 \
  -c:v libx264 -preset veryfast -crf 23 -bf 2 -g 60 -pix_fmt yuv420p -profile:v high \
  -f h264 "$f.part"
mv "$f.part" "$f"
echo "make-clip: $f ($(stat -c %s "$f") bytes)"
