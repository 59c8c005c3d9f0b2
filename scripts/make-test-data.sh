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
#
# Needs espeak-ng, sox, fonts-dejavu-core (scripts/setup.sh) and numpy + pillow
# in .venv (scripts/requirements-test.txt; installed here if missing).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="$root/data"
venv="$root/.venv"
mkdir -p "$data/speech" "$data/ocr" "$data/npy"

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
