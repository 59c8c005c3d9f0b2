#!/usr/bin/env python3
"""Observability of `avflow serve`, end to end on a real server (CPU):

  - with a fake NVML (--fake-nvml: libavf_fake_nvml.so through
    AVF_NVML_LIBRARY), /metrics carries Triton's GPU series with the fake's
    exact figures (gpu_uuid labels, a figure the fake does not support left
    out) and NVDEC utilization;
  - /metrics names and values change with traffic: per-model counters and
    histograms, requests, process CPU seconds, pool allocations, residency,
    queue depth;
  - /api/performance/status is one JSON object whose window, latency
    percentiles, GPU, pool and model figures agree with /metrics;
  - `avflow bench --json`, closed loop (--requests) and open loop (--rate),
    answers sane numbers that agree with the server's counters; a raw body
    (--endpoint/--body) too, with a progress line each second;
  - GET / is the dashboard page, with no reference to anything outside;
  - without NVML (a library path that does not exist) no GPU sample is
    reported, and the log says so exactly once.
Exit 1 on any failed check; the server failing to start is a failure.

usage: test_observability.py --avflow BUILD/bin/avflow --fake-nvml BUILD/tests/libavf_fake_nvml.so
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from obs_util import Server, bench, check, finish, get, infer_json, make_repo, metrics, prom, prom1

UUID0 = "GPU-fa4e0000-0000-4000-8000-000000000000"
UUID1 = "GPU-fa4e0001-0000-4000-8000-000000000001"


def test_gpu_series(text):
    l0, l1 = f'gpu_uuid="{UUID0}"', f'gpu_uuid="{UUID1}"'
    check(prom1(text, "avflow_nvml_available") == 1, "avflow_nvml_available 1 with the fake NVML")
    check(prom1(text, "nv_gpu_utilization", l0) == 0.37 and
          prom1(text, "nv_gpu_utilization", l1) == 0.88, "nv_gpu_utilization per gpu_uuid")
    check(prom1(text, "nv_gpu_memory_used_bytes", l0) == 3 << 29 and
          prom1(text, "nv_gpu_memory_total_bytes", l0) == 80 << 30,
          "nv_gpu_memory_used_bytes / _total_bytes")
    check(prom1(text, "nv_gpu_power_usage", l0) == 123.456, "nv_gpu_power_usage in watts")
    check(prom(text, "nv_gpu_power_usage", l1) == [],
          "a figure NVML does not support is left out (GPU 1 power)")
    check(prom1(text, "avflow_gpu_decoder_utilization", l0) == 0.12,
          "avflow_gpu_decoder_utilization (NVDEC)")
    for fam in ["nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes",
                "nv_gpu_power_usage"]:
        check(f"# TYPE {fam} gauge" in text, f"{fam} declared as a gauge")


def test_traffic(avflow, srv):
    before = metrics(srv.addr)
    st, _, body = get(srv.addr, "/v2/models/tiny/infer", "POST", infer_json([1, 2, 3, 4]))
    check(st == 200 and json.loads(body)["outputs"][0]["data"] == [3, 5, 7, 9], "one inference")
    rc, b, err = bench(avflow, srv.url, "--model", "tiny", "--concurrency", "4", "--requests",
                       "400", "--warmup", "0")
    after = metrics(srv.addr)
    if not check(rc == 0 and b is not None, f"avflow bench --json closed loop ran (rc {rc})"):
        print(err)
        return after
    lat = b["latency_us"]
    check(b["requests"] == 400 and b["ok"] == 400 and b["errors"] == 0 and
          b["errors_by_status"] == {}, f"bench: 400 requests, 400 ok ({b['ok']}), no errors")
    check(0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"],
          f"bench percentiles ordered {lat}")
    check(abs(b["throughput_rps"] - b["ok"] / b["seconds"]) < 1e-3 * b["throughput_rps"] + 1e-6,
          "bench throughput = ok / seconds")
    s = b["server"]
    check(s["metrics"] and abs(s["gpu_utilization_avg"] - 0.625) < 1e-9 and
          s["gpu_utilization_max"] == 0.88,
          f"bench: GPU utilization from /metrics (avg of 0.37 and 0.88: {s['gpu_utilization_avg']})")
    check(s["gpu_memory_used_peak_bytes"] == 24 << 30, "bench: peak GPU memory used (max over GPUs)")
    check(s["requests"] >= 400 and s["cpu_seconds"] > 0 and
          abs(s["cpu_seconds_per_request"] - s["cpu_seconds"] / s["requests"]) <=
          1e-12 * s["cpu_seconds_per_request"],
          f"bench: server CPU seconds per request ({s['cpu_seconds_per_request']})")
    check(s["pool_peak_in_use_bytes"] > 0, "bench: pool peak from /metrics")

    m = 'model="tiny"'
    d = lambda name, label=m: (prom1(after, name, label) or 0) - (prom1(before, name, label) or 0)
    check(d("nv_inference_request_success") == 401, "nv_inference_request_success +401")
    check(d("nv_inference_count") == 401, "nv_inference_count +401")
    check(0 < d("nv_inference_exec_count") <= 401, "nv_inference_exec_count grew")
    check(d("avflow_batch_size_count") == d("nv_inference_exec_count"),
          "avflow_batch_size histogram counts every batch")
    check(d("avflow_request_duration_us_count") == 401, "avflow_request_duration_us +401")
    check(d("avflow_requests_total", None) >= 401, "avflow_requests_total grew")
    check(d("process_cpu_seconds_total", None) > 0, "process_cpu_seconds_total grew")
    check(prom1(after, "avflow_cpu_seconds_per_request") > 0, "avflow_cpu_seconds_per_request > 0")
    check(d("avflow_pool_allocations_total", 'device="cpu"') > 0, "pool allocations grew")
    check(prom1(after, "avflow_pool_bytes_reserved", 'device="cpu"') > 0 and
          prom1(after, "avflow_pool_bytes_peak_in_use", 'device="cpu"') > 0,
          "pool reserved and peak bytes")
    r = prom1(after, "avflow_pool_reuse_rate", 'device="cpu"')
    fr = prom1(after, "avflow_pool_fragmentation", 'device="cpu"')
    check(r is not None and 0.5 < r <= 1 and fr is not None and 0 <= fr <= 1,
          f"pool reuse rate {r} (most allocations reused) and fragmentation {fr}")
    check(prom1(after, "avflow_models_resident") == 1 and
          prom1(after, "avflow_models_evicted_total") == 0, "models resident 1, evicted 0")
    check(prom1(after, "avflow_queue_depth", m) == 0, "queue depth of tiny (idle: 0)")
    for fam in ["avflow_transfer_bytes_total", "avflow_transfer_copies_total"]:
        check(len(prom(after, fam)) == 4, f"{fam} for the four directions")
    return after


def test_status(srv, text):
    st, h, body = get(srv.addr, "/api/performance/status")
    check(st == 200 and h.get("Content-Type", "").startswith("application/json"),
          "/api/performance/status is JSON")
    j = json.loads(body)
    w = j["window"]
    check(w["count"] >= 400 and w["throughput_rps"] > 0 and 0 < w["seconds"] <= 10,
          f"status window: {w['count']} requests, {w['throughput_rps']:.1f}/s")
    p = w["latency_us"]
    check(0 < p["p50"] <= p["p90"] <= p["p95"] <= p["p99"], f"status percentiles ordered {p}")
    check(j["requests_total"] == prom1(text, "avflow_requests_total"),
          "status requests_total = avflow_requests_total")
    check(j["nvml"] is True and [g["uuid"] for g in j["gpus"]] == [UUID0, UUID1],
          "status GPUs by uuid")
    g0, g1 = j["gpus"]
    check(g0["utilization"] == 0.37 and g0["memory_used_bytes"] == 3 << 29 and
          g0["power_watts"] == 123.456 and g0["decoder_utilization"] == 0.12 and
          g1["power_watts"] is None, "status GPU figures (null where not supported)")
    check(j["pool"]["reserved_bytes"] == prom1(text, "avflow_pool_bytes_reserved"),
          "status pool = /metrics pool")
    check(j["models_resident"] == 1 and j["queue_depth"] == 0, "status residency and queue")
    tiny = {m["name"]: m for m in j["model_stats"]}["tiny"]
    check(tiny["request_success"] == prom1(text, "nv_inference_request_success", 'model="tiny"')
          and tiny["state"] == "READY", "status model_stats agree with /metrics")
    check(j["batch"]["avg"] >= 1 and sum(b["count"] for b in j["batch"]["buckets"]) ==
          prom1(text, "avflow_batch_size_count", 'model="tiny"'), "status batch histogram")


def test_open_loop(avflow, srv):
    rc, b, err = bench(avflow, srv.url, "--model", "tiny", "--rate", "150", "--duration", "3",
                       "--warmup", "0.5")
    if not check(rc == 0 and b is not None, "avflow bench --rate (open loop) ran"):
        print(err)
        return
    check(b["mode"] == "open" and b["errors"] == 0, "open loop: no errors")
    # Poisson arrivals of 150/s for 3 s: 450 expected, sd ~21; allow a wide band.
    check(300 <= b["requests"] <= 600 and 100 <= b["throughput_rps"] <= 200,
          f"open loop: offered 150/s, got {b['requests']} requests, {b['throughput_rps']:.1f}/s")


def test_raw_body(avflow, srv, tmp):
    """--endpoint/--body: any endpoint with a body from a file (here a JSON infer)."""
    body = os.path.join(tmp, "infer.json")
    with open(body, "w") as f:
        f.write(infer_json([1, 2, 3, 4]))
    before = prom1(metrics(srv.addr), "nv_inference_request_success", 'model="tiny"')
    p = subprocess.run([avflow, "bench", "--url", srv.url, "--endpoint", "/v2/models/tiny/infer",
                        "--body", body, "--content-type", "application/json", "--concurrency",
                        "2", "--duration", "1.5", "--warmup", "0"],
                       capture_output=True, text=True, timeout=120)
    after = prom1(metrics(srv.addr), "nv_inference_request_success", 'model="tiny"')
    m = re.search(r"requests\s+(\d+) \((\d+) ok, (\d+) errors\)", p.stdout)
    check(p.returncode == 0 and m is not None and int(m.group(2)) > 0 and m.group(3) == "0",
          f"bench --endpoint --body: {m.group(0) if m else p.stdout + p.stderr}")
    check(m is not None and after - before >= int(m.group(2)),
          "the server counted the raw-body requests")
    check(re.search(r"\[ +1 s\] +[0-9.]+ req/s", p.stderr) is not None,
          "a progress line each second on stderr")


def test_dashboard_page(srv):
    st, h, body = get(srv.addr, "/")
    page = body.decode()
    check(st == 200 and h.get("Content-Type", "").startswith("text/html"), "GET / is HTML")
    check("/api/performance/status" in page and "getContext(\"2d\")" in page,
          "the page polls the status endpoint and draws on canvases")
    external = re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', page) + \
        re.findall(r'https?://', page)
    check(not external, f"the page references nothing outside ({external[:3]})")


def test_no_nvml(avflow, repo):
    srv = Server(avflow, repo, {"AVF_NVML_LIBRARY": "/nonexistent/libnvidia-ml.so.1"})
    try:
        for _ in range(3):
            text = metrics(srv.addr)
            get(srv.addr, "/api/performance/status")
        check(prom1(text, "avflow_nvml_available") == 0 and prom(text, "nv_gpu_utilization") == [],
              "without NVML: no GPU samples, avflow_nvml_available 0")
        st, _, body = get(srv.addr, "/api/performance/status")
        j = json.loads(body)
        check(j["nvml"] is False and j["gpus"] == [] and "/nonexistent" in j["nvml_reason"],
              "without NVML: status says why")
    finally:
        srv.stop()
    n = srv.log().count("NVML not available")
    check(n == 1, f"the log says NVML is absent once (said {n} times)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--fake-nvml", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(tmp)
        srv = Server(a.avflow, repo, {"AVF_NVML_LIBRARY": a.fake_nvml})
        try:
            test_gpu_series(metrics(srv.addr))
            text = test_traffic(a.avflow, srv)
            test_status(srv, text)
            test_open_loop(a.avflow, srv)
            test_raw_body(a.avflow, srv, tmp)
            test_dashboard_page(srv)
        finally:
            rc = srv.stop()
        check(rc == 0, f"the server stopped cleanly (exit {rc})")
        test_no_nvml(a.avflow, repo)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
