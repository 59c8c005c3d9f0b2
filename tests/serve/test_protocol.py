#!/usr/bin/env python3
"""Protocol test of `avflow serve`: a real server on a free port, driven by
Triton's own client (tritonclient.http) and by raw HTTP.

The temporary repository holds
  tiny/     a tiny generated model (make_tiny_model.py), batched: max 8,
            20 ms queue delay, 2 workers
  slow/     the same model with a 300 ms queue delay (for the drain check)
  cls/      PaddleOCR's text-direction classifier (models/), no config.json:
            batched by default since its dim 0 is dynamic
  cls_q1/   the classifier unbatched (max_batch_size 0) with a queue of one
            request (for 429)
  broken/   a model file that is not ONNX (a load failure)

What it asserts (every failure is counted; exit 1 if any, 0 if none):
  - health live/ready, server metadata and its extensions;
  - model readiness before (false) and after the first request (true);
    metadata datatypes and shapes (-1 for dynamic dims);
  - inference with JSON tensors, with binary tensors, mixed, output
    selection, request id echo; results equal to the model's arithmetic
    (tiny) and to ONNX Runtime within 1e-4 relative L2 (cls, batch 3 padded
    to 4) and to `avflow run` on the same input;
  - repository index/load/unload: 401 without or with a wrong API key,
    works with it; unload makes the model not ready, load makes it ready;
  - errors: malformed JSON 400, wrong datatype 400, data/shape mismatch 400,
    unknown input 400, unknown model 404, unknown version 404, body over
    --max-body-bytes 413, a queue of one flooded -> some 429 with
    Retry-After, a model that cannot load 503;
  - 64 concurrent requests: every one gets its own rows back, and
    nv_inference_exec_count < nv_inference_count in /metrics (batched);
    /api/performance/status is JSON with the same counts;
  - SIGTERM with requests in flight: they all complete with 200, the server
    exits 0 (under ASan: no leaks).
If the server does not start, that is a failure, never a skip.

usage: test_protocol.py --avflow BUILD/bin/avflow [--models DIR]
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import select
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
API_KEY = "s3cret-key"
MAX_BODY = 1 << 20

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def rel_l2(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def make_repo(tmp, models_dir):
    sys.path.insert(0, HERE)
    import make_tiny_model  # noqa: E402
    import onnx

    tiny = make_tiny_model.build()
    for name, cfg in [("tiny", {"max_batch_size": 8, "max_queue_delay_us": 20000,
                                "instance_count": 2, "preferred_batch_sizes": [8]}),
                      ("slow", {"max_batch_size": 8, "max_queue_delay_us": 300000})]:
        os.makedirs(f"{tmp}/{name}/1")
        onnx.save(tiny, f"{tmp}/{name}/1/model.onnx")
        with open(f"{tmp}/{name}/config.json", "w") as f:
            json.dump(cfg, f)
    cls = os.path.join(models_dir, "ppocr_mobile_v2_cls.onnx")
    if not os.path.exists(cls):
        raise SystemExit(f"FAIL: {cls} is missing (scripts/fetch-models.sh fetches it)")
    for name in ["cls", "cls_q1"]:
        os.makedirs(f"{tmp}/{name}/1")
        os.symlink(cls, f"{tmp}/{name}/1/model.onnx")
    with open(f"{tmp}/cls_q1/config.json", "w") as f:
        json.dump({"max_batch_size": 0, "queue_capacity": 1}, f)
    os.makedirs(f"{tmp}/broken/1")
    with open(f"{tmp}/broken/1/model.onnx", "wb") as f:
        f.write(b"this is not an onnx model")
    return cls


def start_server(avflow, repo):
    cmd = [avflow, "serve", "--model-repository", repo, "--port", "0", "--api-key", API_KEY,
           "--max-body-bytes", str(MAX_BODY), "--threads", "4"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([p.stdout], [], [], 60)
    line = p.stdout.readline() if ready else ""
    if "listening on http://" not in line:
        p.kill()
        out, err = p.communicate()
        raise SystemExit(f"FAIL: the server did not start ({' '.join(cmd)}):\n{line}{out}{err}")
    addr = line.split("http://", 1)[1].split()[0]
    threading.Thread(target=lambda: p.stderr.read(), daemon=True).start()  # drain stderr
    return p, addr


def raw(addr, method, path, body=None, headers=None):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered (413) and closed before the whole body was sent
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


def error_of(data):
    try:
        return json.loads(data).get("error", "")
    except Exception:
        return ""


def tiny_inputs(httpclient, x, i, binary):
    a = httpclient.InferInput("INPUT0", list(x.shape), "FP32")
    a.set_data_from_numpy(x, binary_data=binary)
    b = httpclient.InferInput("INPUT1", list(i.shape), "INT64")
    b.set_data_from_numpy(i, binary_data=binary)
    return [a, b]


def test_basics(client):
    check(client.is_server_live(), "server live")
    check(client.is_server_ready(), "server ready")
    md = client.get_server_metadata()
    check(md["name"] == "avflow" and "binary_tensor_data" in md["extensions"] and
          "model_repository" in md["extensions"], f"server metadata {md}")
    check(not client.is_model_ready("tiny"), "tiny not ready before its first request")
    md = client.get_model_metadata("tiny")
    ins = {t["name"]: t for t in md["inputs"]}
    check(ins["INPUT0"]["datatype"] == "FP32" and ins["INPUT0"]["shape"] == [-1, 4] and
          ins["INPUT1"]["datatype"] == "INT64", f"tiny metadata {md}")
    check([o["name"] for o in md["outputs"]] == ["OUTPUT0", "OUTPUT1"], "tiny outputs listed")
    check(client.is_model_ready("tiny"), "tiny ready after metadata loaded it")
    check(client.is_model_ready("tiny", "1"), "tiny version 1 ready")


def test_infer(client, httpclient):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    i = rng.integers(-1000, 1000, (3, 4)).astype(np.int64)
    for binary in (False, True):
        outs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary),
                httpclient.InferRequestedOutput("OUTPUT1", binary_data=binary)]
        r = client.infer("tiny", tiny_inputs(httpclient, x, i, binary), outputs=outs,
                         request_id="req-%d" % binary)
        check(np.array_equal(r.as_numpy("OUTPUT0"), x * 2 + 1) and
              np.array_equal(r.as_numpy("OUTPUT1"), i + i),
              f"tiny infer, {'binary' if binary else 'JSON'} tensors: exact")
        check(r.get_response()["id"] == "req-%d" % binary, "request id echoed")
    # JSON in, binary out (no outputs named: tritonclient asks binary_data_output)
    r = client.infer("tiny", tiny_inputs(httpclient, x, i, False))
    check(np.array_equal(r.as_numpy("OUTPUT0"), x * 2 + 1), "JSON inputs, binary outputs")
    # output selection
    r = client.infer("tiny", tiny_inputs(httpclient, x, i, True),
                     outputs=[httpclient.InferRequestedOutput("OUTPUT1", binary_data=False)])
    check(r.as_numpy("OUTPUT0") is None and np.array_equal(r.as_numpy("OUTPUT1"), i + i),
          "only the selected output comes back")


def test_stats(client):
    """Triton's statistics extension after test_infer's four tiny requests."""
    st = client.get_inference_statistics(model_name="tiny")
    ms = st["model_stats"]
    check(len(ms) == 1 and ms[0]["name"] == "tiny" and ms[0]["version"] == "1",
          f"stats of tiny: {[(m['name'], m['version']) for m in ms]}")
    s = ms[0]["inference_stats"]
    check(s["success"]["count"] >= 4 and s["success"]["ns"] > 0 and
          ms[0]["inference_count"] >= 12 and ms[0]["execution_count"] >= 1,
          f"tiny: {s['success']} successes, {ms[0]['inference_count']} inferences")
    check(s["queue"]["count"] == s["success"]["count"] and
          s["compute_infer"]["count"] == s["success"]["count"] and
          s["queue"]["ns"] + s["compute_infer"]["ns"] <= s["success"]["ns"],
          "queue + compute within the successes' time")
    bs = ms[0]["batch_stats"]
    check(sum(b["compute_infer"]["count"] for b in bs) == ms[0]["execution_count"],
          f"batch_stats cover every execution ({[b['batch_size'] for b in bs]})")
    check(ms[0]["last_inference"] > 1.7e12, "last_inference in ms since 1970")
    every = client.get_inference_statistics()
    check("tiny" in [m["name"] for m in every["model_stats"]], "GET /v2/models/stats lists tiny")
    check(client.get_inference_statistics(model_name="tiny", model_version="1")["model_stats"],
          "stats of tiny version 1")
    for name, ver in (("nope", ""), ("tiny", "7")):
        try:
            client.get_inference_statistics(model_name=name, model_version=ver)
            check(False, f"stats of {name} version {ver!r} refused")
        except Exception as e:  # tritonclient's InferenceServerException
            check("unknown model" in str(e) or "no version" in str(e),
                  f"stats of {name} version {ver!r} refused: {e}")


def test_cls(client, httpclient, avflow, cls_path, tmp):
    import onnxruntime as ort

    rng = np.random.default_rng(2)
    x = rng.random((3, 3, 48, 192), dtype=np.float32)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(cls_path, so, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})[0]
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    r = client.infer("cls", [inp])
    out = r.as_numpy(sess.get_outputs()[0].name)
    check(out is not None and out.shape == ref.shape, "cls output shape")
    err = rel_l2(out, ref) if out is not None else 1
    check(err <= 1e-4, f"cls (batch 3, padded to 4) vs ONNX Runtime: rel L2 {err:.2e} <= 1e-4")
    np.save(f"{tmp}/x.npy", x)
    p = subprocess.run([avflow, "run", cls_path, "--input", f"x={tmp}/x.npy", "--output-dir",
                        f"{tmp}/run"], capture_output=True, text=True)
    if check(p.returncode == 0, "avflow run on the same input"):
        name = [f for f in os.listdir(f"{tmp}/run") if f.endswith(".npy")][0]
        err = rel_l2(out, np.load(f"{tmp}/run/{name}"))
        check(err <= 1e-5, f"cls served vs avflow run: rel L2 {err:.2e} <= 1e-5")
    md = client.get_model_metadata("cls")
    check(md["inputs"][0]["shape"] == [-1, 3, -1, -1], f"cls input shape {md['inputs'][0]}")
    cfg = client.get_model_config("cls")
    check(cfg.get("max_batch_size") == 8, f"cls batched by default: {cfg}")


def test_repository(client, addr):
    from tritonclient.utils import InferenceServerException

    auth = {"Authorization": f"Bearer {API_KEY}"}
    for hdr, what in [({}, "no key"), ({"Authorization": "Bearer wrong"}, "a wrong key")]:
        try:
            client.unload_model("tiny", headers=hdr)
            check(False, f"unload with {what} refused")
        except InferenceServerException as e:
            check("API key" in str(e), f"unload with {what} refused: {e}")
    st, h, _ = raw(addr, "POST", "/v2/repository/index")
    check(st == 401 and h.get("www-authenticate") == "Bearer", "index without key: 401")
    idx = client.get_model_repository_index(headers=auth)
    names = {m["name"]: m for m in idx}
    check({"tiny", "cls", "slow", "cls_q1", "broken"} <= set(names), f"index lists {sorted(names)}")
    check(names["tiny"]["state"] == "READY", "tiny READY in the index")
    client.unload_model("tiny", headers=auth)
    check(not client.is_model_ready("tiny"), "tiny not ready after unload")
    client.load_model("tiny", headers=auth)
    check(client.is_model_ready("tiny"), "tiny ready after load")
    try:
        client.load_model("broken", headers=auth)
        check(False, "loading the broken model fails")
    except InferenceServerException as e:
        check("failed to load" in str(e), f"loading the broken model fails: {e}")
    idx = {m["name"]: m for m in client.get_model_repository_index(headers=auth)}
    check(idx["broken"]["state"] == "UNAVAILABLE" and idx["broken"]["reason"],
          f"broken listed UNAVAILABLE with a reason: {idx['broken']}")


def infer_body(inputs):
    return json.dumps({"inputs": inputs})


def test_errors(addr):
    ok_in = [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]},
             {"name": "INPUT1", "datatype": "INT64", "shape": [1, 4], "data": [1, 2, 3, 4]}]
    st, _, d = raw(addr, "POST", "/v2/models/tiny/infer", infer_body(ok_in))
    check(st == 200, "a good raw request: 200")
    cases = [
        ("malformed JSON", "/v2/models/tiny/infer", '{"inputs": [', 400),
        ("wrong datatype", "/v2/models/tiny/infer",
         infer_body([dict(ok_in[0], datatype="INT32"), ok_in[1]]), 400),
        ("data/shape mismatch", "/v2/models/tiny/infer",
         infer_body([dict(ok_in[0], shape=[2, 4]), ok_in[1]]), 400),
        ("unknown input", "/v2/models/tiny/infer",
         infer_body(ok_in + [dict(ok_in[0], name="EXTRA")]), 400),
        ("missing input", "/v2/models/tiny/infer", infer_body(ok_in[:1]), 400),
        ("huge shape", "/v2/models/tiny/infer",
         infer_body([dict(ok_in[0], shape=[1 << 40, 1 << 40]), ok_in[1]]), 400),
        ("batch over max_batch_size", "/v2/models/tiny/infer",
         infer_body([dict(ok_in[0], shape=[16, 4], data=[0.0] * 64),
                     dict(ok_in[1], shape=[16, 4], data=[0] * 64)]), 400),
        ("unknown model", "/v2/models/nope/infer", infer_body(ok_in), 404),
        ("unknown version", "/v2/models/tiny/versions/7/infer", infer_body(ok_in), 404),
        ("model that cannot load", "/v2/models/broken/infer", infer_body(ok_in), 503),
        ("body too large", "/v2/models/tiny/infer", "x" * (MAX_BODY + 1), 413),
    ]
    for what, path, body, want in cases:
        st, h, d = raw(addr, "POST", path, body)
        check(st == want and error_of(d), f"{what}: {st} (want {want}) {error_of(d)!r}")
    chunks = (b"x" * 65536 for _ in range(MAX_BODY // 65536 + 2))  # chunked: no length
    st, _, d = raw(addr, "POST", "/v2/models/tiny/infer", chunks)
    check(st == 413 and error_of(d), f"chunked body too large: {st} (want 413)")
    st, _, d = raw(addr, "POST", "/v2/models/tiny/infer", b'{"inputs":[{"name":"INPUT0",'
                   b'"datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}]}',
                   {"Inference-Header-Content-Length": "10"})
    check(st == 400, f"Inference-Header-Content-Length that cuts the JSON: {st}")
    st, _, _ = raw(addr, "GET", "/v2/models/nope")
    check(st == 404, "metadata of an unknown model: 404")
    # Flood a queue of one: some requests must be refused with 429 + Retry-After.
    x = np.random.default_rng(3).random((4, 3, 48, 320), dtype=np.float32)
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.nbytes}}]}).encode()
    hdr = {"Inference-Header-Content-Length": str(len(body)),
           "Content-Type": "application/octet-stream"}
    with cf.ThreadPoolExecutor(24) as ex:
        res = list(ex.map(lambda _: raw(addr, "POST", "/v2/models/cls_q1/infer",
                                        body + x.tobytes(), hdr), range(48)))
    codes = [r[0] for r in res]
    n429 = codes.count(429)
    check(n429 > 0 and codes.count(200) > 0 and n429 + codes.count(200) == len(codes),
          f"queue of one flooded: {codes.count(200)} x 200, {n429} x 429")
    check(all(r[1].get("retry-after") for r in res if r[0] == 429), "429 carries Retry-After")


def metric(text, name, model):
    for line in text.splitlines():
        if line.startswith(f'{name}{{model="{model}",'):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_batching(client, httpclient, addr):
    _, _, before = raw(addr, "GET", "/metrics")
    before = before.decode()
    n = 64
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((1, 4)).astype(np.float32) for _ in range(n)]
    iv = [rng.integers(0, 100, (1, 4)).astype(np.int64) for _ in range(n)]

    # tritonclient's HTTP client runs on gevent: concurrency through async_infer.
    reqs = [client.async_infer("tiny", tiny_inputs(httpclient, xs[k], iv[k], k % 2 == 0))
            for k in range(n)]
    good = []
    for k, q in enumerate(reqs):
        r = q.get_result()
        good.append(np.array_equal(r.as_numpy("OUTPUT0"), xs[k] * 2 + 1) and
                    np.array_equal(r.as_numpy("OUTPUT1"), iv[k] * 2))
    check(all(good), f"{n} concurrent requests each got their own rows ({sum(good)}/{n})")
    st, h, text = raw(addr, "GET", "/metrics")
    text = text.decode()
    check(st == 200 and h.get("content-type", "").startswith("text/plain"), "/metrics served")
    inf = metric(text, "nv_inference_count", "tiny") - metric(before, "nv_inference_count", "tiny")
    exe = metric(text, "nv_inference_exec_count", "tiny") - \
        metric(before, "nv_inference_exec_count", "tiny")
    check(inf == n and exe < inf, f"batched: {n} requests ran in {exe:.0f} executions")
    for name in ["nv_inference_request_success", "nv_inference_request_failure",
                 "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                 "nv_inference_compute_infer_duration_us"]:
        check(metric(text, name, "tiny") is not None, f"/metrics has {name}")
    check('avflow_batch_size_bucket{model="tiny",version="1",le="8"}' in text and
          "avflow_request_duration_us_count" in text, "/metrics has the histograms")
    st, _, d = raw(addr, "GET", "/api/performance/status")
    perf = {m["name"]: m for m in json.loads(d)["model_stats"]}
    check(st == 200 and perf["tiny"]["execution_count"] == metric(text, "nv_inference_exec_count",
                                                                    "tiny"),
          "/api/performance/status agrees with /metrics")


def test_drain(p, addr):
    body = infer_body([{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]},
                       {"name": "INPUT1", "datatype": "INT64", "shape": [1, 4], "data": [1, 2, 3, 4]}])
    raw(addr, "POST", "/v2/models/slow/infer", body)  # load it first
    with cf.ThreadPoolExecutor(6) as ex:
        futs = [ex.submit(raw, addr, "POST", "/v2/models/slow/infer", body) for _ in range(6)]
        time.sleep(0.1)  # all six are waiting in the 300 ms batch window
        p.send_signal(signal.SIGTERM)
        codes = [f.result()[0] for f in futs]
    check(codes == [200] * 6, f"SIGTERM: in-flight requests finish ({codes})")
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    check(rc == 0, f"server exits 0 after draining (rc {rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    a = ap.parse_args()
    import tritonclient.http as httpclient

    tmp = tempfile.mkdtemp(prefix="avflow-serve-")
    p = None
    try:
        repo = os.path.join(tmp, "repo")
        os.makedirs(repo)
        cls_path = make_repo(repo, a.models)
        p, addr = start_server(os.path.abspath(a.avflow), repo)
        print(f"server at {addr}", flush=True)
        client = httpclient.InferenceServerClient(addr, concurrency=32, network_timeout=120)
        for t in [lambda: test_basics(client), lambda: test_infer(client, httpclient),
                  lambda: test_stats(client),
                  lambda: test_cls(client, httpclient, a.avflow, cls_path, tmp),
                  lambda: test_repository(client, addr), lambda: test_errors(addr),
                  lambda: test_batching(client, httpclient, addr)]:
            try:
                t()
            except Exception as e:  # a crash of one group is a failure, the rest still run
                check(False, f"unexpected exception: {type(e).__name__}: {e}")
        client.close()
        test_drain(p, addr)
    finally:
        if p and p.poll() is None:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{len(failures)} failure(s)" + ("".join("\n  " + f for f in failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
