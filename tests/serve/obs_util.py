"""Helpers of the observability tests (test_observability.py,
test_dashboard.py, test_nginx.py, test_perf_analyzer.py): a tiny model
repository, an `avflow serve` on a free port, raw HTTP, Prometheus text."""
import http.client
import json
import os
import select
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed: " + "; ".join(failures))
        return 1
    print("all checks passed")
    return 0


def make_repo(tmp, delay_us=2000):
    """tmp/tiny: OUTPUT0 = INPUT0*2+1, OUTPUT1 = INPUT1*2, batched up to 8."""
    sys.path.insert(0, HERE)
    import make_tiny_model  # noqa: E402
    import onnx
    repo = os.path.join(tmp, "repo")
    os.makedirs(f"{repo}/tiny/1")
    onnx.save(make_tiny_model.build(), f"{repo}/tiny/1/model.onnx")
    with open(f"{repo}/tiny/config.json", "w") as f:
        json.dump({"max_batch_size": 8, "max_queue_delay_us": delay_us, "instance_count": 2}, f)
    return repo


class Server:
    """`avflow serve` on a free port; stderr is kept (self.log())."""

    def __init__(self, avflow, repo, env_extra=None, device="cpu", args=()):
        env = dict(os.environ)
        env.update(env_extra or {})
        cmd = [avflow, "serve", "--model-repository", repo, "--port", "0", "--threads", "4",
               "--device", device, *args]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        ready, _, _ = select.select([self.p.stdout], [], [], 60)
        line = self.p.stdout.readline() if ready else ""
        if "listening on http://" not in line:
            self.p.kill()
            out, err = self.p.communicate()
            raise SystemExit(f"FAIL: the server did not start ({' '.join(cmd)}):\n{line}{out}{err}")
        self.addr = line.split("http://", 1)[1].split()[0]
        self.port = int(self.addr.rsplit(":", 1)[1])
        self.url = "http://" + self.addr
        self._err = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.p.stderr:
            self._err.append(line)

    def log(self):
        return "".join(self._err)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def get(addr, path, method="GET", body=None, headers=None, timeout=60):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def infer_json(x):
    return json.dumps({"inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": x},
        {"name": "INPUT1", "datatype": "INT64", "shape": [1, 4], "data": [1, 2, 3, 4]}]})


def prom(text, name, label=None):
    """Samples of metric `name` (exact name) whose labels contain `label`:
    a list of (labels, value)."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest[:1] not in ("{", " "):
            continue
        labels = rest[1:rest.index("}")] if rest[0] == "{" else ""
        if label is not None and label not in labels:
            continue
        out.append((labels, float(rest.rsplit(" ", 1)[1])))
    return out


def prom1(text, name, label=None):
    s = prom(text, name, label)
    return s[0][1] if len(s) == 1 else None


def metrics(addr):
    st, _, body = get(addr, "/metrics")
    if st != 200:
        raise SystemExit(f"FAIL: /metrics answered {st}")
    return body.decode()


def bench(avflow, url, *args, timeout=300):
    """Run `avflow bench --json`; returns (rc, parsed JSON or None, stderr)."""
    cmd = [avflow, "bench", "--url", url, "--json", "--quiet", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = None
    if j is None:
        print(f"bench {' '.join(cmd)}: rc {p.returncode}\nstdout {p.stdout}\nstderr {p.stderr}")
    return p.returncode, j, p.stderr
