#!/usr/bin/env python3
"""avf_vad_segments_from_probs (through ctypes on libavflow_apps) against the
reference get_speech_timestamps (vad_reference.py) on random probability
sequences and random options: thousands of cases through every branch
(hysteresis, short silences, max-speech splits at a silence or hard, shared
gaps, clamping at the clip's ends). Thresholds and probabilities are float32
values on both sides, as avflow keeps them. Exit 0 pass, 1 fail, 77 skip."""
import argparse
import ctypes
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vad_reference import get_speech_timestamps  # noqa: E402


class Options(ctypes.Structure):
    _fields_ = [("threshold", ctypes.c_float), ("neg_threshold", ctypes.c_float),
                ("min_speech_ms", ctypes.c_int), ("min_silence_ms", ctypes.c_int),
                ("speech_pad_ms", ctypes.c_int), ("max_speech_s", ctypes.c_float),
                ("fp16", ctypes.c_int)]


class Span(ctypes.Structure):
    _fields_ = [("start", ctypes.c_int64), ("end", ctypes.c_int64)]


def f32(x):
    return float(np.float32(x))


def random_probs(rng, n):
    """Speech-like: runs of high and low values with noise near the thresholds."""
    p, i = [], 0
    while i < n:
        run = rng.randint(1, 60)
        level = rng.choice([0.02, 0.2, 0.4, 0.5, 0.6, 0.9, 0.98])
        for _ in range(min(run, n - i)):
            p.append(min(1.0, max(0.0, level + rng.gauss(0, 0.12))))
        i += run
    return np.array(p, dtype=np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="libavflow_apps.so")
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not os.path.exists(a.lib):
        print(f"SKIP: {a.lib} missing")
        return 77
    lib = ctypes.CDLL(a.lib)
    fn = lib.avf_vad_segments_from_probs
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_float), ctypes.c_int64,
                   ctypes.c_int64, ctypes.POINTER(ctypes.POINTER(Span)),
                   ctypes.POINTER(ctypes.c_int)]
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    rng = random.Random(a.seed)
    fails, segs_total, splits = 0, 0, 0
    for case in range(a.cases):
        n = rng.randint(0, 1500)
        n_samples = n * 512 - (rng.randint(0, 511) if n else 0)
        probs = random_probs(rng, n)
        thr = f32(rng.uniform(0.2, 0.8))
        neg = f32(max(0.0, thr - rng.choice([0.0, 0.05, 0.15, 0.3])))
        o = Options(thr, neg, rng.choice([0, 50, 250, 1000]), rng.choice([0, 30, 100, 500, 2000]),
                    rng.choice([0, 30, 100, 400]), 0.0, 0)
        if rng.random() < 0.5:
            lo = (512 + 2 * 16 * o.speech_pad_ms) / 16000
            o.max_speech_s = f32(rng.uniform(lo + 0.01, lo + 6))
        out = ctypes.POINTER(Span)()
        cnt = ctypes.c_int()
        st = fn(ctypes.byref(o), probs.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), n,
                n_samples, ctypes.byref(out), ctypes.byref(cnt))
        if st != 0:
            print(f"FAIL case {case}: status {st}")
            fails += 1
            continue
        got = [[out[i].start, out[i].end] for i in range(cnt.value)]
        libc.free(out)
        want = get_speech_timestamps(
            [float(x) for x in probs], n_samples, threshold=o.threshold,
            neg_threshold=o.neg_threshold, min_speech_duration_ms=o.min_speech_ms,
            min_silence_duration_ms=o.min_silence_ms, speech_pad_ms=o.speech_pad_ms,
            max_speech_duration_s=o.max_speech_s if o.max_speech_s > 0 else float("inf"))
        want = [[s["start"], s["end"]] for s in want]
        segs_total += len(want)
        splits += o.max_speech_s > 0 and len(want) > 0
        if got != want:
            fails += 1
            if fails <= 5:
                print(f"FAIL case {case}: n={n} samples={n_samples} thr={o.threshold} "
                      f"neg={o.neg_threshold} min_speech={o.min_speech_ms} "
                      f"min_sil={o.min_silence_ms} pad={o.speech_pad_ms} "
                      f"max={o.max_speech_s}\n  avflow    {got}\n  reference {want}")
    print(f"{a.cases} cases, {segs_total} reference segments ({splits} cases with max_speech), "
          f"{fails} mismatches")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
