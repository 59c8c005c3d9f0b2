#!/usr/bin/env python3
"""Triton's perf_analyzer against `avflow serve` (KServe v2 over HTTP).

perf_analyzer comes from PyPI: scripts/fetch-perf-analyzer.sh (run by
`make check`) unpacks the binary of the tritonclient 2.41.0 wheel, which
runs on Debian 12, behind the wrapper .venv/bin/perf_analyzer (the newer
`perf-analyzer` wheel needs glibc 2.38). Without a binary the test reports
SKIP (77), never a pass. perf_analyzer loads the tiny model at concurrency 4
and must report a throughput and the server's side of the latency, which
it reads from avflow's statistics extension (GET /v2/models/NAME/stats);
avflow's counters must move by as many requests.

usage: test_perf_analyzer.py --avflow BUILD/bin/avflow [--perf-analyzer PATH]
           [--model ONNX --shape NAME:D1,D2,...]  (another model than the tiny one,
                                                   e.g. where the onnx package is absent)
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from obs_util import SKIP, Server, check, finish, make_repo, metrics, prom1

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_binary(given):
    if given:
        return given
    cands = [shutil.which("perf_analyzer")]
    cands += glob.glob(os.path.join(ROOT, ".venv/lib/python3*/site-packages/perf_analyzer/bin/perf_analyzer"))
    cands.append(os.path.join(ROOT, ".venv/bin/perf_analyzer"))
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--perf-analyzer", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--shape", action="append", default=[])
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    libc = os.confstr("CS_GNU_LIBC_VERSION") or "unknown libc"
    pa = find_binary(a.perf_analyzer)
    if not pa:
        print(f"SKIP: no perf_analyzer binary ({libc}): run scripts/fetch-perf-analyzer.sh "
              f"(make check does) or pass --perf-analyzer PATH.")
        return SKIP
    probe = subprocess.run([pa, "--help"], capture_output=True, text=True)
    out = probe.stdout + probe.stderr
    if "GLIBC" in out and "not found" in out:
        print(f"SKIP: {pa} cannot run on {libc}: {out.strip().splitlines()[0]}")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        if a.model:
            name, shapes = "m", a.shape
            repo = os.path.join(tmp, "repo")
            os.makedirs(f"{repo}/m/1")
            os.symlink(os.path.abspath(a.model), f"{repo}/m/1/model.onnx")
            with open(f"{repo}/m/config.json", "w") as f:
                f.write('{"max_batch_size": 8, "max_queue_delay_us": 2000}')
        else:
            name, shapes = "tiny", ["INPUT0:4", "INPUT1:4"]
            repo = make_repo(tmp)
        srv = Server(a.avflow, repo, device=a.device)
        label = f'model="{name}"'
        try:
            before = prom1(metrics(srv.addr), "nv_inference_request_success", label) or 0
            cmd = [pa, "-m", name, "-u", srv.addr, "-i", "http", "--concurrency-range", "4",
                   "--measurement-interval", "2000", "--stability-percentage", "50",
                   "--max-trials", "5"]
            for sh in shapes:
                cmd += ["--shape", sh]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            print(p.stdout[-3000:], p.stderr[-2000:])
            check(p.returncode == 0, f"perf_analyzer ran against avflow (rc {p.returncode})")
            m = re.search(r"Throughput:\s*([0-9.]+)\s*infer/sec", p.stdout)
            check(m is not None and float(m.group(1)) > 0,
                  f"perf_analyzer reports a throughput ({m.group(1) if m else None} infer/s)")
            # the server's side, from GET /v2/models/NAME/stats between windows
            ms = re.search(r"Server:\s*\n\s*Inference count:\s*(\d+)", p.stdout)
            check(ms is not None and int(ms.group(1)) > 0,
                  f"perf_analyzer read the server's statistics (inference count "
                  f"{ms.group(1) if ms else None})")
            mq = re.search(r"Avg request latency:\s*(\d+) usec \(overhead (\d+) usec \+ "
                           r"queue (\d+) usec \+ compute input (\d+) usec \+ compute infer "
                           r"(\d+) usec", p.stdout)
            check(mq is not None and int(mq.group(1)) > 0,
                  f"perf_analyzer splits the server's latency ({mq.group(0) if mq else None})")
            after = prom1(metrics(srv.addr), "nv_inference_request_success", label) or 0
            check(after - before > 10, f"avflow answered its requests ({after - before:.0f})")
        finally:
            srv.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
