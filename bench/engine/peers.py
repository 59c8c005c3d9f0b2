#!/usr/bin/env python3
"""Peers for bench_engine, on the same models and input shapes.

For each model and batch: PyTorch eager on the GPU (the ONNX model converted
by onnx2torch), the same module replayed from a captured CUDA graph, each in
f32 (TF32 off, like bench_engine's default) and in f16 (module and input
.half()), and ONNX Runtime on the CPU.

What PyTorch runs is the ONNX model made static for the batch's input shape
(dims fixed, shapes inferred, then ONNX Runtime's basic-level constant
folding saved back as plain ONNX): onnx2torch turns the models' Shape/Resize
arithmetic into host tensors copied to the GPU on every call, which a CUDA
graph capture refuses, and it needs ranks that only shape inference gives.
The folding only removes work, so it favours the peer.

Silero VAD has no onnx2torch conversion (onnx2torch 1.5.15 has no If and no
LSTM converter), so its PyTorch peer is the PyTorch model that the same
silero-vad wheel ships beside the ONNX file: silero_vad.jit, the TorchScript
module the ONNX model was exported from. Its 16 kHz network is called with
the ONNX model's inputs (x [B, 576]: 64 samples of context then the 512-sample
chunk; state [2, B, 128]); its outputs are checked against ONNX Runtime's on
the same inputs, so the peer is shown to compute the same thing.

GPU times: CUDA events around each call, warm-up first, median of the timed
runs. Inputs are random in [-1, 1) and already on the device. A model that a
peer cannot run is reported with the reason, never skipped silently.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

PRESETS = {
    "ocr_rec": ("ppocr_v4_rec.onnx", (3, 48, 320)),
    "ocr_det": ("ppocr_v4_det.onnx", (3, 640, 640)),
    "ocr_cls": ("ppocr_mobile_v2_cls.onnx", (3, 48, 192)),
    "vad": ("silero_vad.onnx", None),  # input [B, VAD_ROW], state [2, B, 128], sr
}
VAD_ROW = 576  # 64 samples of context + a 512-sample chunk, as the VAD app feeds it


def median_ms(fn, warmup, reps, torch):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def error_text(e):
    lines = str(e).strip().splitlines()
    return (lines[-1] if lines else repr(e))[:200]


def eager_and_graph(call, sfx, b, warmup, reps, out, torch):
    """Times call() eagerly, then replayed from a CUDA graph captured on a side
    stream after 3 warm-up calls; appends a row (time or error) for each."""
    try:
        eager = median_ms(call, warmup, reps, torch)
        out.append({"peer": "torch_eager" + sfx, "batch": b, "gpu_ms": eager})
    except Exception as e:
        out.append({"peer": "torch_eager" + sfx, "batch": b, "error": error_text(e)})
        torch.cuda.synchronize()
        return
    try:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                call()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            call()
        graph = median_ms(lambda: g.replay(), warmup, reps, torch)
        out.append({"peer": "torch_cuda_graph" + sfx, "batch": b, "gpu_ms": graph})
        del g
    except Exception as e:
        out.append({"peer": "torch_cuda_graph" + sfx, "batch": b, "error": error_text(e)})
        torch.cuda.synchronize()


def constants_as_initializers(path):
    """onnx2torch looks weights up among the graph's initializers; PaddleOCR's
    exports keep them in Constant nodes. Move each Constant's tensor to an
    initializer of the same name (the computation is unchanged)."""
    import onnx

    m = onnx.load(path)
    g = m.graph
    keep = []
    for n in g.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            g.initializer.append(t)
        else:
            keep.append(n)
    del g.node[:]
    g.node.extend(keep)
    return m


def static_model(path, shape, tmpdir):
    """The model with its input fixed to `shape`, shape-inferred and
    constant-folded by ONNX Runtime (basic level: standard ONNX ops only)."""
    import os

    import onnx
    import onnxruntime as ort

    m = constants_as_initializers(path)
    inp = m.graph.input[0]
    dims = inp.type.tensor_type.shape.dim
    for d, v in zip(dims, shape):
        d.ClearField("dim_param")
        d.dim_value = v
    m = onnx.shape_inference.infer_shapes(m)
    raw = os.path.join(tmpdir, "fixed.onnx")
    folded = os.path.join(tmpdir, "folded.onnx")
    onnx.save(m, raw)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = folded
    ort.InferenceSession(raw, so, providers=["CPUExecutionProvider"])
    return onnx.shape_inference.infer_shapes(onnx.load(folded))


def bench_torch(path, shape, batches, warmup, reps, out):
    import tempfile

    import torch
    from onnx2torch import convert

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for b in batches:
        # Inputs from numpy, copied once: the CUDA RNG must stay out of the
        # way of graph captures (a failed capture leaves it unusable).
        x32 = torch.from_numpy(np.random.default_rng(b).uniform(-1, 1, (b,) + shape)
                               .astype(np.float32)).cuda()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                model32 = convert(static_model(path, (b,) + shape, tmp)).eval().cuda()
            # onnx2torch keeps shape/axes constants as integer tensors and turns
            # them into Python sizes on every call: on the GPU that is a device
            # sync per Reshape, which also breaks a graph capture. Integer
            # constants stay on the host, as an exporter would have written them.
            for mod in model32.modules():
                for name, buf in list(mod.named_buffers(recurse=False)):
                    if not buf.is_floating_point():
                        setattr(mod, name, buf.cpu())
        except Exception as e:  # report, do not hide
            out.append({"peer": "torch_eager", "batch": b, "error": f"onnx2torch: {e}"[:200]})
            continue
        for prec in ("f32", "f16"):
            model = model32 if prec == "f32" else model32.half()
            x = x32 if prec == "f32" else x32.half()
            sfx = "" if prec == "f32" else "_f16"
            with torch.inference_mode():
                eager_and_graph(lambda: model(x), sfx, b, warmup, reps, out, torch)
        del model32
        torch.cuda.empty_cache()


def vad_inputs(b):
    rng = np.random.default_rng(b)
    x = rng.uniform(-1, 1, (b, VAD_ROW)).astype(np.float32)
    state = (0.1 * rng.uniform(-1, 1, (2, b, 128))).astype(np.float32)
    return x, state


def silero_jit_path():
    import importlib.util
    import os

    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "silero_vad.jit")
    return path if os.path.exists(path) else None


def bench_torch_vad(onnx_path, batches, warmup, reps, out):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    jit = silero_jit_path()
    if jit is None:
        out.append({"peer": "torch_eager", "error": "no silero_vad package (its silero_vad.jit is the peer)"})
        return
    try:
        net = torch.jit.load(jit, map_location="cpu")._model.eval()  # the 16 kHz network
        net = net.cuda()
    except Exception as e:
        out.append({"peer": "torch_eager", "error": f"silero_vad.jit: {e}"[:200]})
        return
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    except Exception:
        sess = None
    for b in batches:
        xn, sn = vad_inputs(b)
        x32, s32 = torch.from_numpy(xn).cuda(), torch.from_numpy(sn).cuda()
        with torch.inference_mode():
            if sess is not None:  # the peer computes what the ONNX model computes
                want = sess.run(None, {"input": xn, "state": sn, "sr": np.array(16000, np.int64)})
                got = net(x32, s32)
                err = max(float(np.max(np.abs(g.float().cpu().numpy() - w))) for g, w in zip(got, want))
                out.append({"peer": "torch_vs_ort", "batch": b, "max_abs_diff": err})
            for prec in ("f32", "f16"):
                sfx = "" if prec == "f32" else "_f16"
                model = net if prec == "f32" else net.half()
                x, st = (x32, s32) if prec == "f32" else (x32.half(), s32.half())
                eager_and_graph(lambda: model(x, st), sfx, b, warmup, reps, out, torch)
            net = net.float()
        torch.cuda.empty_cache()


def bench_ort(path, shape, batches, reps, out):
    try:
        import onnxruntime as ort
    except Exception as e:
        out.append({"peer": "ort_cpu", "error": f"no onnxruntime: {e}"})
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for b in batches:
        if shape is None:  # Silero VAD
            x, st = vad_inputs(b)
            feeds = {"input": x, "state": st, "sr": np.array(16000, np.int64)}
        else:
            feeds = {name: np.random.default_rng(b).uniform(-1, 1, (b,) + shape).astype(np.float32)}
        sess.run(None, feeds)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            times.append((time.perf_counter() - t0) * 1e3)
        out.append({"peer": "ort_cpu", "batch": b, "wall_ms": statistics.median(times)})


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="models")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--preset", action="append")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--ort-reps", type=int, default=5)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    batches = [int(b) for b in a.batches.split(",")]
    results = {}
    for name, (file, shape) in PRESETS.items():
        if a.preset and name not in a.preset:
            continue
        path = f"{a.models}/{file}"
        rows = []
        if shape is None:
            bench_torch_vad(path, batches, a.warmup, a.reps, rows)
        else:
            bench_torch(path, shape, batches, a.warmup, a.reps, rows)
        if not a.no_ort:
            bench_ort(path, shape, batches, a.ort_reps, rows)
        results[name] = rows
        for r in rows:
            if "max_abs_diff" in r:
                print(f"{name:8s} {r['peer']:17s} batch {r['batch']:>4}  max |torch - ort| {r['max_abs_diff']:.2e}")
                continue
            val = r.get("gpu_ms", r.get("wall_ms"))
            what = f"{val:10.3f} ms  {r['batch'] * 1000 / val:12.1f} items/s" if val else r.get("error")
            print(f"{name:8s} {r['peer']:17s} batch {r.get('batch', '-'):>4}  {what}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
