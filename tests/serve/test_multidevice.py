#!/usr/bin/env python3
"""One server, several devices: `avflow serve --devices cpu:0,cpu:1` (cpu:1 is
a simulated device on the host) on copies of the tiny model.

  - replicated: concurrent requests run on both devices; the per-device
    series of /metrics add up to the model's totals; /api/performance/status
    and /api/residency list both devices and the model's replicas;
  - pinned: a model whose config.json says "devices": ["cpu:1"] runs there only;
  - budgets per device (--vram-budget-bytes A,B): a model that fits only on
    one device is placed there only; loading a model pinned to cpu:0 under a
    full cpu:0 budget evicts the model on cpu:0 and leaves cpu:1's alone;
  - bad device lists stop the server at start with a clear message.

usage: test_multidevice.py --avflow PATH
"""
import argparse
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import obs_util as u  # noqa: E402
from obs_util import check  # noqa: E402


def add_model(repo, name, config):
    shutil.copytree(f"{repo}/tiny/1", f"{repo}/{name}/1")
    with open(f"{repo}/{name}/config.json", "w") as f:
        json.dump(config, f)


def infer(addr, model, i):
    st, _, body = u.get(addr, f"/v2/models/{model}/infer", "POST",
                        u.infer_json([1.0, 2.0, 3.0, float(i)]))
    return st, body


def load(addr, model, n, clients):
    with cf.ThreadPoolExecutor(clients) as ex:
        res = list(ex.map(lambda i: infer(addr, model, i), range(n)))
    bad = [r for r in res if r[0] != 200]
    check(not bad, f"{model}: {n} requests from {clients} clients answered 200"
          + (f" (first failure {bad[0]})" if bad else ""))
    ok = all(json.loads(b)["outputs"][0]["data"][3] == 2 * i + 1
             for i, (_, b) in enumerate(res) if _ == 200)
    check(ok, f"{model}: every reply has its own rows")


def residency(addr):
    return json.loads(u.get(addr, "/api/residency")[2])


def model_devices(addr, name):
    for m in residency(addr)["models"]:
        if m["name"] == name:
            return m["devices"]
    return None


def replicated_and_pinned(a, tmp):
    repo = u.make_repo(tmp, delay_us=2000)
    with open(f"{repo}/tiny/config.json", "w") as f:  # one worker per device
        json.dump({"max_batch_size": 8, "max_queue_delay_us": 2000, "instance_count": 1}, f)
    add_model(repo, "tiny_on1", {"max_batch_size": 8, "devices": ["cpu:1"]})
    srv = u.Server(a.avflow, repo, args=["--devices", "cpu:0,cpu:1"])
    try:
        load(srv.addr, "tiny", 600, 64)
        m = u.metrics(srv.addr)
        e0 = u.prom1(m, "avflow_device_exec_count", 'device="cpu"')
        e1 = u.prom1(m, "avflow_device_exec_count", 'device="cpu:1"')
        check(e0 is not None and e1 is not None and e0 > 0 and e1 > 0,
              f"both devices ran batches of the replicated model (cpu {e0}, cpu:1 {e1})")
        total = u.prom1(m, "nv_inference_exec_count", 'model="tiny"')
        m0 = u.prom1(m, "avflow_model_device_exec_count", 'model="tiny",version="1",device="cpu"')
        m1 = u.prom1(m, "avflow_model_device_exec_count",
                     'model="tiny",version="1",device="cpu:1"')
        check(total is not None and m0 is not None and m1 is not None and m0 + m1 == total,
              f"per-device batches of tiny add up to nv_inference_exec_count ({m0} + {m1} = {total})")
        rows = [u.prom1(m, "avflow_device_inference_count", f'device="{d}"') for d in ("cpu", "cpu:1")]
        check(sum(r or 0 for r in rows) == u.prom1(m, "nv_inference_count", 'model="tiny"'),
              f"per-device rows add up to nv_inference_count ({rows})")
        check(u.prom1(m, "avflow_device_models_resident", 'device="cpu:1"') == 1,
              "cpu:1 holds one replica")
        check(len(u.prom(m, "avflow_pool_bytes_reserved")) == 2, "a pool series per device")
        status = json.loads(u.get(srv.addr, "/api/performance/status")[2])
        names = [d["name"] for d in status.get("devices", [])]
        check(names == ["cpu", "cpu:1"], f"status lists the devices ({names})")
        check(all(d["exec_count"] > 0 for d in status["devices"]), "status: batches per device")
        check(model_devices(srv.addr, "tiny") == ["cpu", "cpu:1"],
              "residency: tiny has a replica on each device")
        load(srv.addr, "tiny_on1", 100, 16)
        m = u.metrics(srv.addr)
        check(u.prom(m, "avflow_model_device_exec_count", 'model="tiny_on1",version="1",device="cpu"') == []
              and (u.prom1(m, "avflow_model_device_exec_count",
                           'model="tiny_on1",version="1",device="cpu:1"') or 0) > 0,
              "the model pinned to cpu:1 ran there only")
        check(model_devices(srv.addr, "tiny_on1") == ["cpu:1"], "residency: tiny_on1 on cpu:1 only")
    finally:
        check(srv.stop() == 0, "server stopped cleanly")


def budgets_and_eviction(a, tmp):
    repo = u.make_repo(tmp)
    # the tiny model's weights are 8 bytes: cpu fits one, cpu:1 fits three
    add_model(repo, "a0", {"devices": ["cpu"]})
    add_model(repo, "b1", {"devices": ["cpu:1"]})
    add_model(repo, "c0", {"devices": ["cpu:0"]})
    srv = u.Server(a.avflow, repo, args=["--devices", "cpu,cpu:1", "--vram-budget-bytes", "8,24"])
    try:
        load(srv.addr, "tiny", 20, 4)
        check(model_devices(srv.addr, "tiny") == ["cpu", "cpu:1"], "tiny fits both budgets")
        # a0 needs room on cpu: tiny (least recently used) goes, from both devices
        load(srv.addr, "a0", 5, 1)
        load(srv.addr, "b1", 5, 1)
        check(model_devices(srv.addr, "a0") == ["cpu"] and model_devices(srv.addr, "b1") == ["cpu:1"],
              "pinned models placed on their devices")
        load(srv.addr, "c0", 5, 1)  # cpu is full (a0): a0 is evicted, b1 on cpu:1 is not
        r = residency(srv.addr)
        names = sorted(m["name"] for m in r["models"])
        check(names == ["b1", "c0"], f"eviction on cpu left cpu:1's model alone ({names})")
        dev = {d["name"]: d for d in r["devices"]}
        check(dev["cpu"]["resident_bytes"] <= 8 and dev["cpu:1"]["resident_bytes"] <= 24,
              f"each device under its budget ({dev['cpu']['resident_bytes']}, "
              f"{dev['cpu:1']['resident_bytes']})")
        check(r["evictions_budget"] >= 2, f"budget evictions counted ({r['evictions_budget']})")
    finally:
        check(srv.stop() == 0, "server stopped cleanly")
    # a model that fits on one device only is placed there only
    srv = u.Server(a.avflow, repo, args=["--devices", "cpu:0,cpu:1", "--vram-budget-bytes", "4,100"])
    try:
        load(srv.addr, "tiny", 20, 4)
        check(model_devices(srv.addr, "tiny") == ["cpu:1"], "a model too big for cpu goes to cpu:1 only")
    finally:
        srv.stop()


def bad_lists(a, tmp):
    repo = u.make_repo(tmp)
    for args, needle in ((["--devices", "cpu:1,cpu:1"], "cpu:1 is listed twice"),
                         (["--devices", "cpu,cpu:0"], "listed twice"),
                         (["--devices", "cpu:1,,cpu:2"], "empty entry"),
                         (["--devices", "cpu:1,tpu:0"], "bad device 'tpu:0'"),
                         (["--devices", "cpu:0,cpu:1", "--vram-budget-bytes", "1,2,3"],
                          "3 VRAM budgets for 2 devices")):
        p = subprocess.run([a.avflow, "serve", "--model-repository", repo, "--port", "0", *args],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and needle in p.stderr,
              f"{' '.join(args)}: refused with '{needle}' ({p.returncode}: {p.stderr.strip()[:200]})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate((replicated_and_pinned, budgets_and_eviction, bad_lists)):
            os.makedirs(f"{tmp}/{i}")
            f(a, f"{tmp}/{i}")
    return u.finish()


if __name__ == "__main__":
    sys.exit(main())
