#!/usr/bin/env python3
"""VAD throughput, avflow against ONNX Runtime in one session.

Runs bench_vad (the whole avflow pipeline: decode, upload, 16 kHz on the
device, batched Silero steps, segments) on --device in f32 (and f16 with
--fp16), then the peer: the same clip through ONNX Runtime the way
silero-vad's Python wrapper runs it (WAV -> float, 64-sample context +
512-sample chunks, state carried, get_speech_timestamps), B clips per run
with state [2, B, 128], on the providers ONNX Runtime has here (CPU, and
CUDA when onnxruntime-gpu is installed). Warm-up, then the median of
--repeats timed runs. Prints one table with audio seconds per second and the
ratio of avflow to each peer at the same batch size.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import wave

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "apps"))
from vad_reference import get_speech_timestamps  # noqa: E402


def read_wav_16k(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getframerate() != 16000:
            raise SystemExit(f"{path}: the peer reads 16-bit 16 kHz WAV only")
        ch, n = w.getnchannels(), w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float32) / 32768.0
    return x.reshape(-1, ch).mean(axis=1).astype(np.float32)


def ort_run(sess, path, b):
    """One batch of b copies of the clip, decode included; returns segments of clip 0."""
    audio = read_wav_16k(path)  # decoded per call, like avflow
    x = np.tile(audio, (b, 1))
    n = x.shape[1]
    steps = (n + 511) // 512
    x = np.pad(x, ((0, 0), (64, steps * 512 - n)))
    state = np.zeros((2, b, 128), np.float32)
    sr = np.array(16000, dtype=np.int64)
    probs = np.empty((steps, b), np.float32)
    for s in range(steps):
        p, state = sess.run(None, {"input": x[:, s * 512:s * 512 + 576], "state": state,
                                   "sr": sr})
        probs[s] = p[:, 0]
    segs = [get_speech_timestamps(probs[:, k].tolist(), n) for k in range(b)]
    return len(segs[0]), n / 16000 * b, steps


def bench_avflow(args, fp16):
    cmd = [args.bench, "--model", args.model, "--clip", args.clip, "--device", args.device,
           "--batches", args.batches, "--repeats", str(args.repeats), "--warmup", "2"]
    if fp16:
        cmd.append("--fp16")
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(r.stdout, end="")
    if r.returncode:
        print(r.stderr, file=sys.stderr)
        return {}
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\d+)\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            out[int(m.group(1))] = float(m.group(3))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="bench_vad executable")
    ap.add_argument("--model", required=True)
    ap.add_argument("--clip", required=True, help="16-bit 16 kHz WAV")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--batches", default="1,16,64,256")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fp16", action="store_true")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    rows = {"avflow f32": bench_avflow(args, False)}
    if args.fp16:
        rows["avflow f16"] = bench_avflow(args, True)
    try:
        import onnxruntime as ort
    except ImportError as e:
        print(f"no onnxruntime here ({e}): no peer")
        ort = None
    peers = {}
    if ort:
        provs = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in ort.get_available_providers()]
        for p in provs:
            sess = ort.InferenceSession(args.model, providers=[p])
            name = "ort " + ("cuda" if p.startswith("CUDA") else "cpu")
            peers[name] = {}
            for b in batches:
                ort_run(sess, args.clip, b)  # warm-up
                ts = []
                for _ in range(args.repeats if b <= 64 else max(1, args.repeats // 2)):
                    t0 = time.perf_counter()
                    _, audio_s, _ = ort_run(sess, args.clip, b)
                    ts.append(time.perf_counter() - t0)
                peers[name][b] = audio_s / statistics.median(ts)
                print(f"{name} batch {b}: {peers[name][b]:.0f} audio s/s", flush=True)
    print("\naudio seconds per second (median), and avflow / peer at the same batch")
    names = list(rows) + list(peers)
    print(f"{'batch':>6} " + " ".join(f"{n:>14}" for n in names) +
          "".join(f" {a + ' / ' + p:>24}" for a in rows for p in peers))
    for b in batches:
        vals = [rows[n].get(b) for n in rows] + [peers[n].get(b) for n in peers]
        line = f"{b:>6} " + " ".join(f"{v:>14.0f}" if v else f"{'-':>14}" for v in vals)
        for a in rows:
            for p in peers:
                x, y = rows[a].get(b), peers[p].get(b)
                line += f" {x / y:>23.1f}x" if x and y else f" {'-':>24}"
        print(line)
    return 0 if rows["avflow f32"] else 1


if __name__ == "__main__":
    sys.exit(main())
