#!/usr/bin/env python3
"""`avflow serve` on a GPU machine, with only the standard library and numpy
(the GPU image has no tritonclient and no network).

Starts two servers on one repository, one on the CPU and one on cuda:N, and
for PaddleOCR's cls model (batched) and the tiny model sends the same
requests to both: binary tensors in and out, many at once. Asserts the GPU
answers equal the CPU's (relative L2 <= 1e-5 for cls, exact for tiny), that
the GPU server batched (nv_inference_exec_count < nv_inference_count), and
that both drain and exit 0 on SIGTERM. Prints the /metrics lines and the
request rate of each server.

usage: gpu_smoke.py --avflow BIN --repo DIR [--device cuda:0] [-n 256]
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import select
import signal
import subprocess
import sys
import time

import numpy as np

fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        fails.append(what)


def start(avflow, repo, device):
    p = subprocess.Popen([avflow, "serve", "--model-repository", repo, "--port", "0",
                          "--device", device, "--threads", "8"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r, _, _ = select.select([p.stdout], [], [], 120)
    line = p.stdout.readline() if r else ""
    if "http://" not in line:
        p.kill()
        print(p.communicate())
        sys.exit(f"FAIL: server on {device} did not start")
    return p, line.split("http://", 1)[1].split()[0]


def post(addr, path, arrays, outputs):
    host, port = addr.rsplit(":", 1)
    inputs = [{"name": k, "datatype": {np.float32: "FP32", np.int64: "INT64"}[v.dtype.type],
               "shape": list(v.shape), "parameters": {"binary_data_size": v.nbytes}}
              for k, v in arrays.items()]
    js = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    body = js + b"".join(v.tobytes() for v in arrays.values())
    c = http.client.HTTPConnection(host, int(port), timeout=120)
    c.request("POST", path, body, {"Inference-Header-Content-Length": str(len(js))})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"{r.status}: {data[:300]!r}")
    n = int(r.getheader("Inference-Header-Content-Length"))
    head = json.loads(data[:n])
    out, at = {}, n
    for o in head["outputs"]:
        size = o["parameters"]["binary_data_size"]
        dt = {"FP32": np.float32, "INT64": np.int64}[o["datatype"]]
        out[o["name"]] = np.frombuffer(data[at:at + size], dt).reshape(o["shape"])
        at += size
    return out


def metric(addr, name, model):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    for line in text.splitlines():
        if line.startswith(f'{name}{{model="{model}"'):
            return float(line.rsplit(" ", 1)[1])
    return None


def run_all(addr, reqs, workers=32):
    t0 = time.time()
    with cf.ThreadPoolExecutor(workers) as ex:
        res = list(ex.map(lambda r: post(addr, *r), reqs))
    return res, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("-n", type=int, default=256)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    reqs = []
    for k in range(a.n):
        if k % 2:
            x = rng.random((1 + k % 3, 3, 48, 192), dtype=np.float32)
            reqs.append(("/v2/models/cls/infer", {"x": x}, None))
        else:
            reqs.append(("/v2/models/tiny/infer",
                         {"INPUT0": rng.standard_normal((1, 4)).astype(np.float32),
                          "INPUT1": rng.integers(0, 99, (1, 4)).astype(np.int64)}, None))
    servers = {}
    for dev in ["cpu", a.device]:
        servers[dev] = start(a.avflow, a.repo, dev)
        post(servers[dev][1], *reqs[0])  # load both models first
        post(servers[dev][1], *reqs[1])
    results = {}
    for dev, (p, addr) in servers.items():
        res, dt = run_all(addr, reqs)
        results[dev] = res
        inf = metric(addr, "nv_inference_count", "cls")
        exe = metric(addr, "nv_inference_exec_count", "cls")
        comp = metric(addr, "nv_inference_compute_infer_duration_us", "cls")
        print(f"{dev}: {len(reqs)} requests in {dt:.2f} s ({len(reqs) / dt:.0f}/s); "
              f"cls: {inf:.0f} inferences in {exe:.0f} executions, compute {comp:.0f} us "
              "summed over requests", flush=True)
        if dev != "cpu":
            check(exe < inf, f"{dev}: cls batched ({exe:.0f} executions for {inf:.0f} rows)")
    worst = 0.0
    exact = True
    for (path, _, _), c, g in zip(reqs, results["cpu"], results[a.device]):
        for k in c:
            if "tiny" in path:
                exact &= np.array_equal(c[k], g[k])
            else:
                worst = max(worst, float(np.linalg.norm(g[k] - c[k]) / np.linalg.norm(c[k])))
    check(exact, f"tiny on {a.device} equals the CPU exactly")
    check(worst <= 1e-5, f"cls on {a.device} vs CPU: worst rel L2 {worst:.2e} <= 1e-5")
    for dev, (p, addr) in servers.items():
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=60)
        err = p.stderr.read()
        check(rc == 0, f"{dev} server drained and exited 0 ({rc}) {err.strip()[-300:]}")
    print(f"{len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
