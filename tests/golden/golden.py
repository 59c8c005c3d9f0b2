#!/usr/bin/env python3
"""Golden check: each real model on real inputs, avflow (CPU, fp32) against
ONNX Runtime (CPU, from PyPI).

For every case under DATA/npy/<model>/<case>/ (written by
scripts/make-test-data.sh) it runs ONNX Runtime in-process and
`avflow run --device cpu` as a subprocess, and compares every output:

  relative L2 error ||avflow - ort|| / ||ort|| <= 1e-4, and the decisions:
  silero_vad           speech (p >= 0.5) or not, each chunk: identical
  ppocr_v4_det         binary map at 0.3: at most 0.1% of the pixels differ
  ppocr_v4_rec         CTC greedy decode (argmax, merge repeats, drop blank 0):
                       the same index sequence, each batch item
  ppocr_mobile_v2_cls  the same argmax, each batch item

Silero VAD runs statefully over a whole clip, chunk by chunk, in both
runtimes: each feeds its own stateN back as the next state (avflow in one
process: `avflow run --sequence input=CHUNKS.npy --feedback stateN=state`).
Every chunk's outputs are compared (the errors reported are over the whole
clip).

On a GPU (--device cuda:N): f32 with TF32 off must stay within rel L2 1e-3;
with --fp16 or --tf32 the errors are reported and the decisions must be the
same (detector: the same text boxes, each matched at IoU >= 0.9).

Prints a table and exits 1 on any failure (2 on a setup error).

usage: golden.py --avflow BUILD/bin/avflow [--models DIR] [--data DIR]
                 [--only MODEL[,MODEL]] [-j N] [--keep DIR]
                 [--device cpu|cuda:N] [--fp16] [--tf32]
"""
import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

REL_TOL = 1e-4  # relative L2 error, fp32 CPU: the engine's bar, not to loosen
DECISIONS_ONLY = False  # fp16 / TF32 runs: the errors are reported, the decisions checked
VAD_THRESHOLD = 0.5
DET_THRESHOLD = 0.3
DET_MAX_DIFF = 0.001  # fraction of pixels whose binary value may differ

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = ["silero_vad", "ppocr_v4_det", "ppocr_v4_rec", "ppocr_mobile_v2_cls"]


def file_name(name):
    """The file name `avflow run` gives an output (tools/avflow/cmd_run.c)."""
    s = "".join(c if re.match(r"[A-Za-z0-9_.\-]", c) and not (i == 0 and c == ".") else "_"
                for i, c in enumerate(name))
    return s or "_"


OPT_LEVELS = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
REF_OPT = "none"  # --ort-opt: the reference's graph optimizations
ALT_OPT = "all"   # the other level, run too: ORT against itself, the fp32 noise


def session(path, opt=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = OPT_LEVELS[opt or REF_OPT]
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


RUN_FLAGS = ["--device", "cpu"]  # set by main(): device and precision of avflow's runs
BOX_IOU = 0.9  # GPU fp16/TF32 runs: each detected box matched at this IoU


def avflow_run(avflow, model, inputs, out_dir, extra=()):
    """inputs: {name: path}; extra: more arguments; returns out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    cmd = [avflow, "run", model] + RUN_FLAGS + ["--output-dir", out_dir] + list(extra)
    for k, v in inputs.items():
        cmd += ["--input", f"{k}={v}"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"avflow run failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return out_dir


def errors(got, ref):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        return None, None, f"shape {list(got.shape)} != ort {list(ref.shape)}"
    if not np.all(np.isfinite(got)):
        return None, None, "non-finite values"
    diff = got - ref
    max_abs = float(np.max(np.abs(diff))) if diff.size else 0.0
    den = float(np.linalg.norm(ref))
    rel = float(np.linalg.norm(diff)) / den if den > 0 else float(np.linalg.norm(diff))
    return max_abs, rel, None


def ctc_greedy(probs):  # [T, C] -> tuple of indices
    idx = np.argmax(probs, axis=-1)
    out, prev = [], -1
    for i in idx:
        if i != prev and i != 0:
            out.append(int(i))
        prev = i
    return tuple(out)


class Rec:
    def __init__(self):
        self.rows = []
        self.failed = 0

    def add(self, model, case, output, max_abs, rel, decision, ok, note="", noise=None):
        self.rows.append((model, case, output, max_abs, rel, noise, decision, ok, note))
        if not ok:
            self.failed += 1


def boxes(mask):
    """Bounding boxes (y0, x0, y1, x1) of the 4-connected components of a 2-D
    binary map with at least 10 pixels (what a DB post-process keeps)."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    h, w = mask.shape
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        stack, seen[y, x] = [(y, x)], True
        ys, xs, n = [y, y], [x, x], 0
        while stack:
            cy, cx = stack.pop()
            n += 1
            ys[0], ys[1], xs[0], xs[1] = min(ys[0], cy), max(ys[1], cy), min(xs[0], cx), max(xs[1], cx)
            for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if n >= 10:
            out.append((ys[0], xs[0], ys[1] + 1, xs[1] + 1))
    return out


def iou(a, b):
    y0, x0, y1, x1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, y1 - y0) * max(0, x1 - x0)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / float(area(a) + area(b) - inter) if inter else 0.0


def same_boxes(ref_map, got_map):
    """(description, ok): every box of each side matched on the other at IoU >= BOX_IOU."""
    n_ok, total, worst = 0, 0, 1.0
    for i in range(ref_map.shape[0]):
        ra, rb = boxes(ref_map[i, 0] > DET_THRESHOLD), boxes(got_map[i, 0] > DET_THRESHOLD)
        total += max(len(ra), len(rb))
        for a in ra:
            best = max((iou(a, b) for b in rb), default=0.0)
            worst = min(worst, best)
            n_ok += best >= BOX_IOU
        if len(ra) != len(rb):
            worst = 0.0
    return f"boxes {n_ok}/{total} matched, worst IoU {worst:.3f}", n_ok == total and worst >= BOX_IOU


def decide(model, ort_out, av_out, charset):
    """Compare the decisions; returns (description, ok)."""
    if model == "silero_vad":
        a = ort_out >= VAD_THRESHOLD
        b = av_out >= VAD_THRESHOLD
        n = a.size
        same = int(np.sum(a == b))
        return f"speech {int(a.sum())}/{n} chunks, same {same}/{n}", same == n
    if model == "ppocr_v4_det" and DECISIONS_ONLY:
        return same_boxes(ort_out, av_out)
    if model == "ppocr_v4_det":
        a = ort_out > DET_THRESHOLD
        b = av_out > DET_THRESHOLD
        frac = float(np.mean(a != b))
        return f"bin@0.3 {int(a.sum())} px on, diff {frac * 100:.4f}%", frac <= DET_MAX_DIFF
    if model == "ppocr_v4_rec":
        oks, texts = [], []
        for i in range(ort_out.shape[0]):
            sa, sb = ctc_greedy(ort_out[i]), ctc_greedy(av_out[i])
            oks.append(sa == sb)
            texts.append("".join(charset[k] if charset and k < len(charset) else f"<{k}>" for k in sa))
        return f"ctc same {sum(oks)}/{len(oks)} {texts!r}", all(oks)
    if model == "ppocr_mobile_v2_cls":
        a = np.argmax(ort_out, axis=-1)
        b = np.argmax(av_out, axis=-1)
        same = int(np.sum(a == b))
        return f"argmax {a.tolist()} same {same}/{a.size}", same == a.size
    return "-", True


def rec_charset(sess):
    meta = sess.get_modelmeta().custom_metadata_map
    if "character" not in meta:
        return None
    # rapidocr: index 0 is the CTC blank, then the dictionary, then ' '.
    return ["<blank>"] + meta["character"].splitlines() + [" "]


def ort_vad(sess, case_dir, chunks):
    outs = [o.name for o in sess.get_outputs()]
    sr = np.load(f"{case_dir}/sr.npy")
    state = np.load(f"{case_dir}/state.npy")
    res = {o: [] for o in outs}
    for c in chunks:
        r = sess.run(None, {"input": np.load(f"{case_dir}/{c}"), "state": state, "sr": sr})
        for o, v in zip(outs, r):
            res[o].append(v)
        state = r[outs.index("stateN")]
    return {o: np.stack(v) for o, v in res.items()}


def run_vad(avflow, model_path, case_dir, work):
    """Both runtimes over one clip, chunk by chunk, each feeding its own stateN
    back; returns {output: (ort, avflow, ort at the other level)}."""
    sess = session(model_path)
    outs = [o.name for o in sess.get_outputs()]
    chunks = sorted(f for f in os.listdir(case_dir) if f.startswith("chunk_"))
    ref = ort_vad(sess, case_dir, chunks)
    alt = ort_vad(session(model_path, ALT_OPT), case_dir, chunks)
    # avflow: one process over the whole clip (run --sequence over the
    # stacked chunks, --feedback stateN=state), outputs stacked per chunk
    os.makedirs(work, exist_ok=True)
    np.save(f"{work}/chunks.npy", np.stack([np.load(f"{case_dir}/{c}") for c in chunks]))
    avflow_run(avflow, model_path, {"state": f"{case_dir}/state.npy", "sr": f"{case_dir}/sr.npy"},
               work, ["--sequence", f"input={work}/chunks.npy", "--feedback", "stateN=state"])
    av = {o: np.load(f"{work}/{file_name(o)}.npy") for o in outs}
    return {o: (ref[o], av[o], alt[o]) for o in outs}, len(chunks)


def run_plain(avflow, model_path, case_dir, work):
    sess = session(model_path)
    feeds = {}
    for i in sess.get_inputs():
        feeds[i.name] = np.load(f"{case_dir}/{i.name}.npy")
    r = sess.run(None, feeds)
    r_alt = session(model_path, ALT_OPT).run(None, feeds)
    avflow_run(avflow, model_path, {k: f"{case_dir}/{k}.npy" for k in feeds}, work)
    res = {}
    for o, v, va in zip([o.name for o in sess.get_outputs()], r, r_alt):
        res[o] = (v, np.load(f"{work}/{file_name(o)}.npy"), va)
    return res, None


def one_case(avflow, models, model, case_dir, work):
    t0 = time.monotonic()
    fn = run_vad if model == "silero_vad" else run_plain
    res, n = fn(avflow, f"{models}/{model}.onnx", case_dir, work)
    return res, n, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--avflow", required=True, help="path of the avflow binary")
    ap.add_argument("--models", default=f"{ROOT}/models")
    ap.add_argument("--data", default=f"{ROOT}/data")
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("-j", type=int, default=min(4, os.cpu_count() or 1), help="cases run at once")
    ap.add_argument("--keep", default="", help="keep avflow's outputs under this directory")
    ap.add_argument("--ort-opt", choices=sorted(OPT_LEVELS), default="none",
                    help="graph optimizations of the reference (default none: the graph as "
                         "written, node by node; 'all' fuses, e.g. LayerNorm, and moves "
                         "the rec model's output by up to ~1e-4 by itself)")
    ap.add_argument("--device", default="cpu", help="where avflow runs: cpu or cuda:N")
    ap.add_argument("--fp16", action="store_true", help="avflow in fp16 (GPU): decisions only")
    ap.add_argument("--tf32", action="store_true", help="avflow with TF32 (GPU): decisions only")
    args = ap.parse_args()
    global REF_OPT, ALT_OPT, RUN_FLAGS, REL_TOL, DECISIONS_ONLY
    RUN_FLAGS = ["--device", args.device] + (["--fp16"] if args.fp16 else []) + \
        (["--tf32"] if args.tf32 else [])
    if args.device != "cpu":
        REL_TOL = 1e-3  # CUDA f32 with TF32 off: the engine's GPU bar
    DECISIONS_ONLY = args.fp16 or args.tf32
    REF_OPT = args.ort_opt
    ALT_OPT = "all" if REF_OPT != "all" else "none"

    if not os.access(args.avflow, os.X_OK):
        print(f"golden: {args.avflow} is not an executable (build avflow first)", file=sys.stderr)
        return 2
    models = [m for m in MODELS if not args.only or m in args.only.split(",")]
    cases = []
    for m in models:
        if not os.path.exists(f"{args.models}/{m}.onnx"):
            print(f"golden: {args.models}/{m}.onnx missing (scripts/fetch-models.sh)", file=sys.stderr)
            return 2
        d = f"{args.data}/npy/{m}"
        names = sorted(n for n in os.listdir(d) if not n.endswith(".part")) if os.path.isdir(d) else []
        if not names:
            print(f"golden: no inputs in {d} (scripts/make-test-data.sh)", file=sys.stderr)
            return 2
        cases += [(m, n) for n in names]

    work = args.keep or tempfile.mkdtemp(prefix="avf-golden-")
    rec = Rec()
    t_all = time.monotonic()
    print(f"golden: {len(cases)} cases, onnxruntime {ort.__version__} (CPU, graph optimizations "
          f"'{REF_OPT}') vs {args.avflow} {' '.join(RUN_FLAGS)}, "
          f"{'decisions only' if DECISIONS_ONLY else f'rel L2 <= {REL_TOL:g}'}; "
          f"'ort noise' = rel L2 of ORT at '{ALT_OPT}' against the reference (not checked)")
    charset = rec_charset(session(f"{args.models}/ppocr_v4_rec.onnx")) if "ppocr_v4_rec" in models else None
    results = {}
    try:
        with cf.ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
            futs = {ex.submit(one_case, args.avflow, args.models, m, f"{args.data}/npy/{m}/{n}",
                              f"{work}/{m}/{n}"): (m, n) for m, n in cases}
            for f in cf.as_completed(futs):
                results[futs[f]] = f
        timings = []
        for m, n in cases:
            try:
                res, nchunks, dt = results[(m, n)].result()
            except Exception as e:  # a failed run is a failure of the case, not of the check
                rec.add(m, n, "-", None, None, str(e).splitlines()[0][:100], False, str(e))
                continue
            label = f"{n} ({nchunks} chunks)" if nchunks else n
            timings.append((m, label, dt))
            for o, (ref, got, alt) in res.items():
                _, noise, _ = errors(alt, ref)
                max_abs, rel, err = errors(got, ref)
                if err:
                    rec.add(m, label, o, None, None, err, False)
                    continue
                ok = rel <= REL_TOL or DECISIONS_ONLY
                decision, dok = "-", True
                if o != "stateN":
                    decision, dok = decide(m, ref, got, charset)
                rec.add(m, label, o, max_abs, rel, decision, ok and dok, noise=noise)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    w = [19, 23, 30, 9, 9, 9]
    fmt = lambda v: f"{v:.2e}" if v is not None else "-"
    print(f"{'model':<{w[0]}} {'input':<{w[1]}} {'output':<{w[2]}} {'max abs':>{w[3]}} {'rel L2':>{w[4]}} "
          f"{'ort noise':>{w[5]}}  ok    decision")
    for m, n, o, ma, rl, nz, dec, ok, note in rec.rows:
        print(f"{m:<{w[0]}} {n:<{w[1]}} {o:<{w[2]}} {fmt(ma):>{w[3]}} {fmt(rl):>{w[4]}} {fmt(nz):>{w[5]}}  "
              f"{'PASS' if ok else 'FAIL'}  {dec}")
    for m, n, o, ma, rl, nz, dec, ok, note in rec.rows:
        if note:
            print(f"golden: {m}/{n}: {note}", file=sys.stderr)
    print("timings (both runtimes, per case): " +
          ", ".join(f"{m}/{n} {dt:.1f}s" for m, n, dt in timings))
    print(f"golden: {len(rec.rows) - rec.failed}/{len(rec.rows)} outputs pass, "
          f"{time.monotonic() - t_all:.1f}s")
    return 1 if rec.failed else 0


if __name__ == "__main__":
    sys.exit(main())
