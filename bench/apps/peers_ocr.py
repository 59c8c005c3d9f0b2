#!/usr/bin/env python3
"""Peers of bench_ocr, in the same session and on the same inputs:

  pipeline  rapidocr-onnxruntime 1.4.4 (ONNX Runtime, CPU) on B images (the
            files cycled), one image after the other as rapidocr runs them,
            det limited like avflow's default (limit_type max, 960):
            images/s from the median of R timed passes after W warm-ups.
  rec       ONNX Runtime's session on the rec model at [B, 3, 48, 320]
            (CPUExecutionProvider, and CUDAExecutionProvider when this
            onnxruntime has it), random inputs in [-1, 1), plus the argmax
            and max over classes in NumPy: lines/s from medians.

Missing packages are reported, not fatal. Writes JSON with --json.

usage: peers_ocr.py --models DIR [--batches 1,8,32] [--rec-batches 1,...,256]
                    [--warmup W] [--reps R] [--json FILE] IMAGE...
"""
import argparse
import json
import os
import statistics
import sys
import time


def ints(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--rec-batches", default="1,2,4,8,16,32,64,128,256")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    out = {"pipeline": [], "rec": {}}
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(f"peers_ocr: {e}: no peers measured")
        return 0
    try:
        from rapidocr_onnxruntime import RapidOCR
        import cv2
        eng = RapidOCR(det_model_path=os.path.join(a.models, "ppocr_v4_det.onnx"),
                       rec_model_path=os.path.join(a.models, "ppocr_v4_rec.onnx"),
                       cls_model_path=os.path.join(a.models, "ppocr_mobile_v2_cls.onnx"),
                       det_limit_type="max", det_limit_side_len=960)
        imgs = [cv2.imread(f) for f in a.images]
        print("rapidocr-onnxruntime (ONNX Runtime CPU), one image after the other, medians")
        print(f"  {'batch':>6} {'ms/pass':>12} {'images/s':>12}")
        for b in ints(a.batches):
            ts = []
            for r in range(a.warmup + a.reps):
                t0 = time.perf_counter()
                for i in range(b):
                    eng(imgs[i % len(imgs)])
                if r >= a.warmup:
                    ts.append((time.perf_counter() - t0) * 1e3)
            m = statistics.median(ts)
            print(f"  {b:6d} {m:12.2f} {b * 1e3 / m:12.1f}")
            out["pipeline"].append({"batch": b, "ms": m, "images_per_s": b * 1e3 / m})
    except ImportError as e:
        print(f"peers_ocr: rapidocr missing ({e}): pipeline peer not measured")
    rng = np.random.default_rng(1)
    provs = ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        provs.append("CUDAExecutionProvider")
    for p in provs:
        s = ort.InferenceSession(os.path.join(a.models, "ppocr_v4_rec.onnx"), providers=[p])
        name = s.get_inputs()[0].name
        print(f"rec alone, ONNX Runtime {p} ([B,3,48,320] + argmax/max in NumPy), medians")
        print(f"  {'batch':>6} {'ms/run':>12} {'lines/s':>12}")
        out["rec"][p] = []
        for b in ints(a.rec_batches):
            x = rng.uniform(-1, 1, (b, 3, 48, 320)).astype(np.float32)
            ts = []
            for r in range(a.warmup + a.reps):
                t0 = time.perf_counter()
                y = s.run(None, {name: x})[0]
                y.argmax(axis=2), y.max(axis=2)
                if r >= a.warmup:
                    ts.append((time.perf_counter() - t0) * 1e3)
            m = statistics.median(ts)
            print(f"  {b:6d} {m:12.3f} {b * 1e3 / m:12.1f}")
            out["rec"][p].append({"batch": b, "ms": m, "lines_per_s": b * 1e3 / m})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
