#!/usr/bin/env bash
# On the GPU machine, over .bundle-media/ from `scripts/device-bundle.sh --media`:
# the media GPU tests (strict GPU mode, NVDEC) and the media benchmarks with
# their peers, in one session, in well under 5 minutes (every step has a timeout;
# all of them together stay under the device tool's 600 s). Writes to $OUT (or
# ./gpu-out) 8 files (the device tool returns no more): media_tests.txt (machine
# and tests), bench_video.txt (both runs), bench_video.json,
# bench_video_blocking.json, peers_video.txt, bench_audio.txt, bench_audio.json,
# peers_audio.txt.
#   device tool: carry [".bundle-media"], command bench/media/run-device.sh
# Knobs: SESSIONS (1,2,4,8,12), REPEATS (3), PASSES (2), AUDIO_SECONDS (3600),
# PEER_AUDIO_SECONDS (600: x realtime is a rate; NumPy on an hour takes
# minutes), BLOCKING_SESSIONS (1,4,12: the run again with blocking sync).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b="$root/.bundle-media"
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
export AVF_VIDEO_DATA="$b/video"
sessions=${SESSIONS:-1,2,4,8,12}
repeats=${REPEATS:-3}
passes=${PASSES:-2}
secs=${AUDIO_SECONDS:-3600}
peer_secs=${PEER_AUDIO_SECONDS:-600}
bsessions=${BLOCKING_SESSIONS:-1,4,12}
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(cat "$b/COMMIT")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  echo "host: $(nproc) cores, $(uname -r), $(python3 --version 2>&1)"
  echo "bench clip: $(stat -c %s "$b/video/bench1080p30.h264") bytes"
} 2>&1 | tee "$out/media_tests.txt"

# soxr for the audio peer (numpy comes with the image's PyTorch)
if ls "$b"/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/media-site \
    --find-links "$b/whl" soxr >/dev/null 2>&1 && export PYTHONPATH=/tmp/media-site
fi

export PYTHONUNBUFFERED=1
stamp "GPU tests" | tee -a "$out/media_tests.txt"
rc=0
for t in test_ledger test_nvdec; do
  ASAN_OPTIONS=allocator_may_return_null=1 timeout 45 "$b/tests/$t" >>"$out/media_tests.txt" 2>&1 ||
    { rc=1; echo "$t: FAILED" | tee -a "$out/media_tests.txt"; }
done
grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\[  SKIP|strict:|worst PSNR' "$out/media_tests.txt"

stamp "bench_video (NVDEC -> preprocess 640x640 letterbox f16, batch 16)"
timeout 150 "$b/bench/bench_video" --clip "$b/video/bench1080p30.h264" --sessions "$sessions" \
  --repeats "$repeats" --passes "$passes" --json "$out/bench_video.json" \
  --dump-frames /tmp/media-frames.nv12 2>&1 | tee "$out/bench_video.txt"

stamp "bench_video --sched blocking (host threads sleep in GPU waits)"
timeout 80 "$b/bench/bench_video" --clip "$b/video/bench1080p30.h264" --sessions "$bsessions" \
  --repeats "$repeats" --passes "$passes" --sched blocking --json "$out/bench_video_blocking.json" \
  2>&1 | tee -a "$out/bench_video.txt"

stamp "peers_video (PyTorch resize/normalize of the same decoded frames)"
timeout 80 python3 "$root/bench/media/peers_video.py" --frames /tmp/media-frames.nv12 \
  2>&1 | tee "$out/peers_video.txt"

stamp "bench_audio ($secs s of 44.1 kHz stereo -> 16 kHz log-mel)"
timeout 80 "$b/bench/bench_audio" --seconds "$secs" --repeats 5 --dump /tmp/media-mel.f32 \
  --json "$out/bench_audio.json" 2>&1 | tee "$out/bench_audio.txt"

stamp "peers_audio (libsoxr + NumPy on the host, same signal)"
timeout 90 python3 "$root/bench/media/peers_audio.py" --seconds "$peer_secs" --repeats 1 \
  --compare /tmp/media-mel.f32 2>&1 | tee "$out/peers_audio.txt"
stamp "done (tests rc=$rc)"
exit $rc
