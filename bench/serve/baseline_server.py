#!/usr/bin/env python3
"""The baseline avflow serve is measured against: a model server written the
usual way in Python — aiohttp, one PyTorch model instance on the GPU, a
thread pool running each request alone (batch size 1).

POST /infer with the raw f32 bytes of one input of --shape answers the raw
f32 bytes of the model's first output (so it does less HTTP work than a
KServe request; that favours the baseline). The model is the same ONNX file
avflow serves, converted by onnx2torch after fixing its input shape (as
bench/engine/peers.py does). --fp16 runs module and input in half.

usage: baseline_server.py --model M.onnx --port P [--shape 1,3,48,320] [--threads 8] [--fp16]
The first stdout line is 'baseline: listening on http://127.0.0.1:P'.
"""
import argparse
import asyncio
import concurrent.futures as cf
import os
import sys
import tempfile
import threading

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine"))
from peers import static_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--shape", default="1,3,48,320")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--fp16", action="store_true")
    a = ap.parse_args()
    import torch
    from aiohttp import web
    from onnx2torch import convert

    shape = tuple(int(s) for s in a.shape.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        model = convert(static_model(a.model, shape, tmp)).eval().cuda()
    for mod in model.modules():  # as in peers.py: integer constants on the host
        for name, buf in list(mod.named_buffers(recurse=False)):
            if not buf.is_floating_point():
                setattr(mod, name, buf.cpu())
    if a.fp16:
        model = model.half()
    lock = threading.Lock()  # one model instance: one request at a time on it
    n_in = int(np.prod(shape)) * 4

    def run(body):
        x = torch.from_numpy(np.frombuffer(body, dtype=np.float32).reshape(shape)).cuda()
        if a.fp16:
            x = x.half()
        with lock, torch.inference_mode():
            y = model(x)
            if isinstance(y, (list, tuple)):
                y = y[0]
            return y.float().cpu().numpy().tobytes()

    pool = cf.ThreadPoolExecutor(a.threads)

    async def infer(req):
        body = await req.read()
        if len(body) != n_in:
            return web.Response(status=400, text=f"want {n_in} bytes of f32, got {len(body)}")
        out = await asyncio.get_running_loop().run_in_executor(pool, run, body)
        return web.Response(body=out, content_type="application/octet-stream")

    run(np.zeros(shape, np.float32).tobytes())  # warm-up
    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/infer", infer)
    print(f"baseline: listening on http://127.0.0.1:{a.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=a.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
