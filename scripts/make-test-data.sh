#!/usr/bin/env bash
# Make the real inputs the golden check (tests/golden/golden.py) feeds the
# real models, into data/ (git-ignored). Idempotent: files already there are
# kept; delete data/ to make everything again.
#
#   data/speech/*.wav         English sentences from espeak-ng, 16 kHz mono s16
#   data/speech/vad_mix.wav   1 s silence + speech + 1 s silence (VAD decisions)
#   data/ocr/*.png            text lines and a page of several lines, rendered
#                             with Pillow in DejaVu Sans (fonts-dejavu-core)
#   data/npy/<model>/<case>/  model-ready .npy inputs, named after the model's
#                             inputs (tests/golden/make_inputs.py says how)
#   data/video/               short testsrc2 clips (176x144, 15 frames, 30 fps)
#                             in every container/codec the demuxer and decoders
#                             take, Annex-B elementary streams for NVDEC, and
#                             ffmpeg's own decode of them as raw NV12/P010
#                             references (~2 MB in all); `--video` makes only these
#
# Needs espeak-ng, sox, fonts-dejavu-core (scripts/setup.sh) and numpy + pillow
# in .venv (scripts/requirements-test.txt; installed here if missing).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="$root/data"
venv="$root/.venv"
mkdir -p "$data/speech" "$data/ocr" "$data/npy" "$data/video"

# --- video: ffmpeg's testsrc2 encoded every way avflow decodes ----------------
# 176x144 because NVDEC's smallest HEVC/VP9/AV1 frame is 144 (H.264: 48x16).
# References are ffmpeg's decode of the same files; those for HEVC, VP9 and
# AV1 hold only the first 4 frames (and 8 for 10-bit) to keep data/ small.
vid() { # name ffmpeg-output-args...
  local out="$data/video/$1"; shift
  [ -s "$out" ] && return 0
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=176x144:rate=30 \
    -frames:v 15 "$@" "$out.part" && mv "$out.part" "$out"
  echo "make-test-data: video/$(basename "$out")"
}
ref() { # name source pix_fmt frames
  local out="$data/video/$1"
  [ -s "$out" ] && return 0
  ffmpeg -hide_banner -loglevel error -y -i "$data/video/$2" -frames:v "$4" -f rawvideo \
    -pix_fmt "$3" "$out.part" && mv "$out.part" "$out"
  echo "make-test-data: video/$1"
}
copy_es() { # name source format (the demuxer's Annex-B conversion, as a file)
  local out="$data/video/$1"
  [ -s "$out" ] && return 0
  ffmpeg -hide_banner -loglevel error -y -i "$data/video/$2" -c:v copy -an -f "$3" "$out.part" &&
    mv "$out.part" "$out"
  echo "make-test-data: video/$1"
}
x265q=(-x265-params log-level=error)
export SVT_LOG=1 # SVT-AV1: errors only
vid h264.mp4 -c:v libx264 -preset veryfast -bf 2 -g 15 -pix_fmt yuv420p -f mp4
vid hevc.mkv -c:v libx265 -preset veryfast "${x265q[@]}" -pix_fmt yuv420p -f matroska
vid vp9.webm -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k -pix_fmt yuv420p -f webm
vid av1.mkv -c:v libsvtav1 -preset 12 -pix_fmt yuv420p -f matroska
vid hevc10.mkv -c:v libx265 -preset veryfast "${x265q[@]}" -pix_fmt yuv420p10le -f matroska
copy_es h264.ts h264.mp4 mpegts
copy_es h264.h264 h264.mp4 h264
copy_es hevc10.hevc hevc10.mkv hevc
# NVDEC's other inputs (tests/unit/test_nvdec.c, no FFmpeg on the GPU machine):
# HEVC 8-bit as Annex-B, VP9 and AV1 in IVF (a 32-byte header, then each
# frame / temporal unit behind a 12-byte size + pts header)
copy_es hevc.hevc hevc.mkv hevc
copy_es vp9.ivf vp9.webm ivf
copy_es av1.ivf av1.mkv ivf
ref h264.nv12 h264.mp4 nv12 15
ref hevc.nv12 hevc.mkv nv12 4
ref vp9.nv12 vp9.webm nv12 4
ref av1.nv12 av1.mkv nv12 4
ref hevc10.p010 hevc10.mkv p010le 8
[ "${1:-}" = "--video" ] && { echo "make-test-data: ok ($data/video)"; exit 0; }

if [ ! -x "$venv/bin/python" ]; then
  echo "make-test-data: creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import numpy, PIL' 2>/dev/null; then
  "$venv/bin/pip" --disable-pip-version-check -q install -r scripts/requirements-test.txt
fi

# --- speech: espeak-ng -> 16 kHz mono 16-bit WAV ------------------------------
say() { # name text
  local out="$data/speech/$1.wav"
  [ -s "$out" ] && return 0
  local tmp="$data/speech/.$1.raw.wav"
  espeak-ng -v en-us -s 150 -w "$tmp" "$2"
  sox "$tmp" -r 16000 -c 1 -b 16 "$out.part.wav"
  mv "$out.part.wav" "$out"
  rm -f "$tmp"
  echo "make-test-data: speech/$1.wav"
}
say en_fox "The quick brown fox jumps over the lazy dog."
say en_weather "Tomorrow will be sunny in the morning, with light rain in the evening."
say en_numbers "Please call me back at five five five, one two three four, before noon."

if [ ! -s "$data/speech/vad_mix.wav" ]; then
  sil="$data/speech/.silence1s.wav"
  sox -n -r 16000 -c 1 -b 16 "$sil" trim 0 1.0
  sox "$sil" "$data/speech/en_fox.wav" "$sil" "$data/speech/en_weather.wav" "$sil" \
      "$data/speech/vad_mix.part.wav"
  mv "$data/speech/vad_mix.part.wav" "$data/speech/vad_mix.wav"
  rm -f "$sil"
  echo "make-test-data: speech/vad_mix.wav"
fi

# --- OCR images and every model-ready .npy input -------------------------------
"$venv/bin/python" "$root/tests/golden/make_inputs.py" --data "$data"
echo "make-test-data: ok ($data)"
