#!/usr/bin/env python3
"""Soak of `avflow serve` (make soak; not part of make check).

1. Capacity: closed-loop clients on the mix below for --capacity-s seconds
   (default 20); capacity = successful requests per second.
2. Soak: --duration-s (default 600) of open-loop arrivals at --overload
   (default 2) x capacity: mixed models (tiny batched, tiny unbatched, the
   real PaddleOCR cls model), priorities 1-3, and 5 % of clients that
   disconnect (half a body, or before the reply). A VRAM budget for two of
   the three cls copies keeps evictions happening.
3. Asserts: every request that was not abandoned on purpose got an answer,
   and only 200, 429 (with Retry-After), 503 or 504 (its 5 s deadline); RSS, fd count and pool bytes
   in use of the last minute against the first minute, each sampled every
   second: RSS by its median, with a
   tolerance of 32 MiB + 10 % (connection buffers and queued bodies grow with
   the backlog, which an overload keeps near the queue bounds, not growing);
   fds by median within +64 (open client sockets); the pool back to 0 bytes
   in use once the load stops; the server exits 0.

Writes a report (--out). usage: soak.py --avflow BIN [--models DIR] [--out F]
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import test_reliability  # noqa: E402
from test_reliability import Server, cls_request, tiny_body, wait_idle  # noqa: E402

CLS_BYTES = 508920


def make_repo(tmp, models_dir):
    import make_tiny_model
    import onnx
    tiny = make_tiny_model.build()
    for name, cfg in (("tiny", {"max_batch_size": 8, "max_queue_delay_us": 2000,
                                "queue_capacity": 256, "priority_levels": 3,
                                "timeout_us": 5000000, "pinned": True}),
                      ("tiny1", {"max_batch_size": 0, "queue_capacity": 128,
                                 "priority_levels": 3, "timeout_us": 5000000})):
        os.makedirs(f"{tmp}/{name}/1")
        onnx.save(tiny, f"{tmp}/{name}/1/model.onnx")
        with open(f"{tmp}/{name}/config.json", "w") as f:
            json.dump(cfg, f)
    cls = os.path.join(models_dir, "ppocr_mobile_v2_cls.onnx")
    for name in ("clsa", "clsb", "clsc"):
        os.makedirs(f"{tmp}/{name}/1")
        os.symlink(cls, f"{tmp}/{name}/1/model.onnx")
        with open(f"{tmp}/{name}/config.json", "w") as f:
            json.dump({"max_batch_size": 8, "max_queue_delay_us": 2000, "queue_capacity": 64,
                       "priority_levels": 3, "timeout_us": 5000000}, f)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.codes = {}
        self.sent = 0
        self.abandoned = 0
        self.unanswered = 0
        self.bad = []
        self.no_retry_after = 0

    def add(self, code, hdrs=None):
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 429 and not (hdrs or {}).get("retry-after"):
                self.no_retry_after += 1


def one_request(s, rng, st, bodies):
    kind = rng.random()
    prio = rng.choice([1, 2, 3])
    if kind < 0.05:  # a client that goes away
        sock = socket.create_connection((s.host, s.port), timeout=10)
        body = tiny_body(4, priority=prio).encode()
        if rng.random() < 0.5:
            sock.sendall(f"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         f"{len(body) * 2}\r\n\r\n".encode() + body)
        else:
            sock.sendall(f"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         f"{len(body)}\r\n\r\n".encode() + body)
        sock.close()
        with st.lock:
            st.abandoned += 1
        return
    if kind < 0.55:
        path, body, hdr = "/v2/models/tiny/infer", tiny_body(rng.choice([1, 2, 4]), priority=prio), {}
    elif kind < 0.75:
        path, body, hdr = "/v2/models/tiny1/infer", tiny_body(1, priority=prio), {}
    else:
        m = rng.choice(["clsa", "clsb", "clsc"])
        b, hdr = bodies[rng.choice([1, 2])]
        path = f"/v2/models/{m}/infer"
        body = b  # binary tensors; default priority
    with st.lock:
        st.sent += 1
    try:
        code, hdrs, _ = s.request("POST", path, body, hdr, timeout=60)
        st.add(code, hdrs)
        if code not in (200, 429, 503, 504):
            with st.lock:
                st.bad.append(code)
    except Exception as e:  # no answer at all
        with st.lock:
            st.unanswered += 1
            st.bad.append(repr(e)[:80])


def sampler(s, stop, samples):
    while not stop.is_set():
        try:
            r = s.json("/api/residency")
            samples.append((time.time(), s.rss(), s.fds(), r["pool"]["in_use_bytes"],
                            r["evictions"]))
        except Exception:
            pass
        stop.wait(1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--capacity-s", type=float, default=20)
    ap.add_argument("--duration-s", type=float, default=600)
    ap.add_argument("--overload", type=float, default=2.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    lines = []
    # the tree and time at the start: the binary under test is the one built then
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())

    def say(x):
        print(x, flush=True)
        lines.append(x)
    bodies = {n: cls_request(n, seed=n) for n in (1, 2)}
    with tempfile.TemporaryDirectory(prefix="avflow-soak-") as tmp:
        make_repo(tmp, a.models)
        test_reliability.DEVICE = a.device
        s = Server(a.avflow, tmp, "--threads", "4",
                   "--vram-budget-bytes", str(int(CLS_BYTES * 2.5)))
        rng = random.Random(1)
        # 1. capacity, closed loop
        st = Stats()
        t_end = time.time() + a.capacity_s

        def closed(i):
            r = random.Random(100 + i)
            while time.time() < t_end:
                one_request(s, r, st, bodies)
        with cf.ThreadPoolExecutor(16) as ex:
            list(ex.map(closed, range(16)))
        cap = st.codes.get(200, 0) / a.capacity_s
        say(f"capacity: {cap:.1f} requests/s over {a.capacity_s:.0f} s (closed loop, 16 clients; "
            f"codes {st.codes})")
        # 2. soak, open loop at overload x capacity
        rate = max(1.0, cap * a.overload)
        st = Stats()
        stop = threading.Event()
        samples = []
        th = threading.Thread(target=sampler, args=(s, stop, samples), daemon=True)
        th.start()
        t0 = time.time()
        pool = cf.ThreadPoolExecutor(256)
        futs = []
        n = 0
        while True:
            now = time.time()
            if now - t0 >= a.duration_s:
                break
            due = int((now - t0) * rate)
            while n < due:
                futs.append(pool.submit(one_request, s, random.Random(n), st, bodies))
                n += 1
            futs = [f for f in futs if not f.done()]
            time.sleep(0.005)
        for f in futs:
            f.result()
        pool.shutdown()
        idle = wait_idle(s, 120)
        stop.set()
        th.join()
        end = s.json("/api/residency")
        say(f"soak: {a.duration_s:.0f} s at {rate:.1f} requests/s offered ({a.overload} x "
            f"capacity): {st.sent} sent, {st.abandoned} abandoned on purpose, codes {st.codes}, "
            f"{st.unanswered} unanswered, other {st.bad[:5]}")
        first = [x for x in samples if x[0] - t0 < 60]
        last = [x for x in samples if a.duration_s - 60 <= x[0] - t0 < a.duration_s]
        med = lambda xs, k: statistics.median([x[k] for x in xs]) if xs else 0
        rss0, rss1 = med(first, 1), med(last, 1)
        fd0, fd1 = med(first, 2), med(last, 2)
        say(f"RSS median first minute {rss0 / 2**20:.1f} MiB, last minute {rss1 / 2**20:.1f} MiB;"
            f" fds {fd0:.0f} -> {fd1:.0f}; pool in use at the end {end['pool']['in_use_bytes']}; "
            f"evictions {end['evictions']} (budget {end['evictions_budget']}, watermark "
            f"{end['evictions_watermark']}); refused loads {end['refused_loads']}")
        checks = [
            (st.unanswered == 0, "every request answered"),
            (not st.bad, "only 200, 429, 503 or 504 (the 5 s deadline, when the backlog is long)"),
            (st.no_retry_after == 0, "every 429 has Retry-After"),
            (st.codes.get(200, 0) > 0, "requests succeed under overload"),
            (rss1 <= rss0 * 1.10 + (32 << 20), "RSS flat (last minute <= first + 10 % + 32 MiB)"),
            (fd1 <= fd0 + 64, "fds flat (last minute <= first + 64)"),
            (idle and end["pool"]["in_use_bytes"] == 0, "pool back to 0 bytes in use when idle"),
        ]
        s.stop()
        checks.append((not test_reliability.failures, "server exits 0, no sanitizer report"))
    ok = True
    for cond, what in checks:
        say(("ok   " if cond else "FAIL ") + what)
        ok &= bool(cond)
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        head = [f"# avflow serve soak, device {a.device}, {os.cpu_count()} CPUs, "
                f"{started} - {time.strftime('%H:%M UTC', time.gmtime())}, commit {commit} "
                f"(HEAD at the start)",
                "# command: " + " ".join(sys.argv)]
        with open(a.out, "w") as f:
            f.write("\n".join(head + lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
