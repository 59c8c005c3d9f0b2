#!/usr/bin/env python3
"""avflow's CPU engine against ONNX Runtime's CPU provider, same inputs, same
thread count, batch 1, on the real models (bench_engine's presets).

For each thread count and model, ROUNDS rounds alternate the two runtimes
(avflow first in even rounds, ORT first in odd ones) so that load from other
processes on a shared machine hits both alike. One round of avflow is one
`bench_engine --device cpu --preset P --batches 1` process (W warm-up + R
timed runs, its median); one round of ORT is W warm-up + R timed `sess.run`
calls in this process (their median). The table gives, per runtime, the
median over rounds of the per-round medians, the fastest single run, and the
noise: the spread (max - min) of the per-round medians relative to their
median. ratio = avflow median / ORT median.

Threads: ORT gets intra_op_num_threads = T (inter-op 1, sequential); avflow's
only threaded code is OpenBLAS (GEMMs), given T through OPENBLAS_NUM_THREADS
(and OMP_NUM_THREADS for an OpenMP build of OpenBLAS).

Inputs are identical: bench_engine's xorshift64 values in [-1, 1) (seed
0x1234 + batch for the first input; Silero VAD's state from seed 99, times
0.1; sr = 16000) are regenerated here bit for bit.

ORT is timed through its Python binding (a few tens of microseconds per call
that avflow's C loop does not pay); that favours avflow on the smallest model
(VAD), and is said in the table's header.

usage: bench_cpu.py --bench-engine BUILD/bin/bench_engine [--models DIR]
                    [--threads 1,2] [--preset NAME]... [--rounds N]
                    [--warmup W] [--reps R] [--out FILE]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

# name: (file, input shape at batch 1, is_vad); the order and shapes of
# bench/engine/bench_engine.c's presets
PRESETS = {
    "vad": ("silero_vad.onnx", (1, 512), True),
    "ocr_det": ("ppocr_v4_det.onnx", (1, 3, 640, 640), False),
    "ocr_rec": ("ppocr_v4_rec.onnx", (1, 3, 48, 320), False),
    "ocr_cls": ("ppocr_mobile_v2_cls.onnx", (1, 3, 48, 192), False),
}

M64 = (1 << 64) - 1


def xorshift_floats(n, seed):
    """bench_engine.c's random_floats: the same f32 values, bit for bit."""
    out = np.empty(n, dtype=np.float64)
    s = seed
    for i in range(n):
        s ^= (s << 13) & M64
        s ^= s >> 7
        s ^= (s << 17) & M64
        out[i] = (s >> 11) * (1.0 / 9007199254740992.0)
    return out.astype(np.float32) * np.float32(2.0) - np.float32(1.0)


def inputs_for(sess, shape, is_vad):
    x = xorshift_floats(int(np.prod(shape)), 0x1234 + shape[0]).reshape(shape)
    names = [i.name for i in sess.get_inputs()]
    if not is_vad:
        return {names[0]: x}
    state = (xorshift_floats(2 * 128, 99) * np.float32(0.1)).reshape(2, 1, 128)
    return {names[0]: x, names[1]: state, names[2]: np.array(16000, dtype=np.int64)}


def ort_session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_round(sess, feeds, warmup, reps):
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def avflow_round(bench, models, preset, threads, warmup, reps, nice):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    env.pop("AVF_PROFILE", None)
    with tempfile.NamedTemporaryFile(suffix=".json") as jf:
        cmd = [bench, "--device", "cpu", "--models", models, "--preset", preset, "--batches",
               "1", "--warmup", str(warmup), "--reps", str(reps), "--json", jf.name]
        if nice:
            cmd = ["nice", "-n", str(nice)] + cmd
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"bench_engine failed ({p.returncode}): {p.stderr.strip()[-500:]}")
        rows = json.load(open(jf.name))["results"]
    if len(rows) != 1:
        raise RuntimeError(f"bench_engine gave {len(rows)} rows for {preset}: {p.stdout}")
    return rows[0]["host_ms"], rows[0]["host_min_ms"]


def summary(rounds):
    meds = [m for m, _ in rounds]
    med = statistics.median(meds)
    return med, min(mn for _, mn in rounds), (max(meds) - min(meds)) / med


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit(path):
    """The commit of the tree that holds `path` (bench_engine's build dir lies
    in its source tree), with +dirty for uncommitted tracked changes."""
    root = os.path.dirname(os.path.abspath(path))
    try:
        c = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return c + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-engine", required=True, help="path of the bench_engine binary")
    ap.add_argument("--models", default="models")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--preset", action="append", choices=list(PRESETS))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--nice", type=int, default=0,
                    help="run both at this niceness (negative needs privileges; 0: as is)")
    ap.add_argument("--out", help="also write the table to this file")
    a = ap.parse_args()
    if a.rounds < 1 or a.reps < 3 or a.warmup < 1:
        ap.error("need --rounds >= 1, --reps >= 3, --warmup >= 1")
    if a.nice:
        os.nice(a.nice)  # this process (ORT) at the same niceness as bench_engine
    threads = [int(t) for t in a.threads.split(",")]
    names = a.preset or list(PRESETS)
    lines = [
        f"bench_cpu: avflow CPU vs ONNX Runtime {ort.__version__} CPU, batch 1",
        f"cpu: {cpu_model()} ({os.cpu_count()} logical CPUs), load avg at start "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, "
        f"commit {git_commit(a.bench_engine)} (bench_engine's tree), niceness {os.nice(0)}",
        f"command: {' '.join(sys.argv)}",
        f"{a.rounds} interleaved rounds x ({a.warmup} warm-up + {a.reps} timed runs); "
        "ms = median of round medians, min = fastest run,",
        "noise = (max - min) / median of the round medians; ORT timed through Python "
        "(its binding's call overhead included)",
        "",
        f"{'model':8s} {'thr':>3s} {'avflow ms':>10s} {'min':>8s} {'noise':>6s} "
        f"{'ORT ms':>9s} {'min':>8s} {'noise':>6s} {'ratio':>6s}  2x target",
    ]
    print("\n".join(lines), flush=True)
    failed = 0
    for t in threads:
        for name in names:
            file, shape, is_vad = PRESETS[name]
            path = os.path.join(a.models, file)
            try:
                sess = ort_session(path, t)
                feeds = inputs_for(sess, shape, is_vad)
                av, rt = [], []
                for r in range(a.rounds):
                    order = (0, 1) if r % 2 == 0 else (1, 0)
                    for which in order:
                        if which == 0:
                            av.append(avflow_round(a.bench_engine, a.models, name, t, a.warmup,
                                                   a.reps, a.nice))
                        else:
                            rt.append(ort_round(sess, feeds, a.warmup, a.reps))
            except Exception as e:  # report, never skip silently
                line = f"{name:8s} {t:3d} error: {e}"
                failed = 1
            else:
                am, amin, anoise = summary(av)
                om, omin, onoise = summary(rt)
                ratio = am / om
                line = (f"{name:8s} {t:3d} {am:10.3f} {amin:8.3f} {anoise * 100:5.0f}% "
                        f"{om:9.3f} {omin:8.3f} {onoise * 100:5.0f}% {ratio:6.2f}  "
                        f"{'met' if ratio <= 2.0 else 'NOT met'}")
            lines.append(line)
            print(line, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return failed


if __name__ == "__main__":
    sys.exit(main())
