#!/usr/bin/env python3
"""Triton's perf_analyzer against `avflow serve` (KServe v2 over HTTP).

perf_analyzer comes from PyPI `perf-analyzer`, whose binary wheel
(2.60.0) is tagged manylinux_2_38: its binary needs GLIBC_2.38 and
GLIBCXX_3.4.32. On Debian 12 (glibc 2.36) pip can only install the
binary-less 0.1.0 placeholder, so there this test reports SKIP (77) with
that reason: it never counts as a pass. Where the binary runs (Ubuntu 24.04,
the GPU machines) it must: perf_analyzer loads the tiny model at concurrency
4 and reports a throughput, and avflow's counters move by as many requests.

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
        print(f"SKIP: no perf_analyzer binary. PyPI perf-analyzer ships it only in a "
              f"manylinux_2_38 wheel (needs GLIBC_2.38, GLIBCXX_3.4.32); this machine has "
              f"{libc}, where pip installs the binary-less 0.1.0 placeholder. Run this test "
              f"where glibc >= 2.38 (e.g. Ubuntu 24.04) with --perf-analyzer PATH.")
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
            after = prom1(metrics(srv.addr), "nv_inference_request_success", label) or 0
            check(after - before > 10, f"avflow answered its requests ({after - before:.0f})")
        finally:
            srv.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
