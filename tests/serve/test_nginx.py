#!/usr/bin/env python3
"""Two `avflow serve` instances behind nginx, answering `avflow bench` with
zero errors, also while one instance is killed.

nginx runs unprivileged (as 'nobody' when the test runs as root) from a
generated configuration in a temporary prefix, listening on a loopback
port: an upstream of both instances with least_conn, passive health checks
(max_fails=1 fail_timeout=5s), keep-alive connections to the instances,
and proxy_next_upstream on errors, timeouts, 502 and 503, for POST too
(non_idempotent: an inference has no side effect, so a retry is safe).

Checks:
  - /v2/health/ready and /metrics through nginx;
  - a closed-loop bench through nginx: no errors, and least_conn spread the
    requests over both instances (each one's nv_inference_request_success);
  - a second bench during which one instance is SIGKILLed: no errors, and
    the survivor served the rest; nginx logged the failed upstream.
    One exception, proven from nginx's error log: a reply the killed
    instance had begun (nginx already forwarded its status line; it logs the
    upstream's close or reset "while reading upstream", not "while reading
    response header from upstream") cannot
    be retried by any proxy, so the client sees a cut connection. Errors are
    allowed only up to the number of such lines for the killed instance.
SKIP (77) when nginx is not installed (scripts/setup.sh installs it).

usage: test_nginx.py --avflow BUILD/bin/avflow [--nginx PATH]
"""
import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from obs_util import SKIP, Server, check, finish, get, make_repo, metrics, prom1

CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
  log_format up '$status $request upstream=$upstream_addr upstream_status=$upstream_status sent=$body_bytes_sent';
  access_log {tmp}/access.log up;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream avflow {{
    least_conn;
    server 127.0.0.1:{a} max_fails=1 fail_timeout=5s;
    server 127.0.0.1:{b} max_fails=1 fail_timeout=5s;
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 64m;
    location / {{
      proxy_pass http://avflow;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }}
  }}
}}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def drop_privileges():
    """preexec for nginx: run as nobody when we are root (no privilege needed)."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")

    def run_as_nobody():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    return run_as_nobody


def bench_cmd(avflow, url, duration):
    return [avflow, "bench", "--url", url, "--model", "tiny", "--concurrency", "8", "--duration",
            str(duration), "--warmup", "0.5", "--json", "--quiet", "--timeout-ms", "20000"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--nginx", default=None)
    a = ap.parse_args()
    nginx = a.nginx or shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        print("SKIP: no nginx (scripts/setup.sh installs the Debian package 'nginx')")
        return SKIP
    import json
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(tmp)
        srv_a = Server(a.avflow, repo)
        srv_b = Server(a.avflow, repo)
        ngx_dir = os.path.join(tmp, "nginx")
        os.makedirs(ngx_dir)
        os.chmod(tmp, 0o755)
        os.chmod(ngx_dir, 0o777)
        port = free_port()
        conf = os.path.join(ngx_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(tmp=ngx_dir, a=srv_a.port, b=srv_b.port, port=port))
        ngx = subprocess.Popen([nginx, "-p", ngx_dir, "-c", conf, "-e", f"{ngx_dir}/error.log"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=drop_privileges())
        front = f"127.0.0.1:{port}"
        try:
            up = False
            for _ in range(100):
                if ngx.poll() is not None:
                    break
                try:
                    up = get(front, "/v2/health/ready", timeout=2)[0] == 200
                except OSError:
                    up = False
                if up:
                    break
                time.sleep(0.1)
            if not check(up, f"nginx proxies /v2/health/ready (nginx {nginx})"):
                if ngx.poll() is not None:
                    print(ngx.stdout.read())
                print(open(f"{ngx_dir}/error.log").read() if os.path.exists(f"{ngx_dir}/error.log") else "")
                return finish()
            check("nv_inference_request_success" in metrics(front), "/metrics through nginx")

            p = subprocess.run(bench_cmd(a.avflow, "http://" + front, 3), capture_output=True,
                               text=True, timeout=120)
            b = json.loads(p.stdout) if p.stdout.strip() else None
            check(p.returncode == 0 and b and b["ok"] > 0 and b["errors"] == 0,
                  f"bench through nginx: {b and b['ok']} ok, {b and b['errors']} errors")
            na = prom1(metrics(srv_a.addr), "nv_inference_request_success", 'model="tiny"') or 0
            nb = prom1(metrics(srv_b.addr), "nv_inference_request_success", 'model="tiny"') or 0
            check(na > 0.2 * (na + nb) and nb > 0.2 * (na + nb),
                  f"least_conn spread the load: {na:.0f} and {nb:.0f} requests")

            run = subprocess.Popen(bench_cmd(a.avflow, "http://" + front, 5),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(2.5)
            before_b = prom1(metrics(srv_b.addr), "nv_inference_request_success", 'model="tiny"')
            srv_a.p.send_signal(signal.SIGKILL)  # a crash, not a drain
            srv_a.p.wait()
            out, err = run.communicate(timeout=120)
            b = json.loads(out) if out.strip() else None
            log = open(f"{ngx_dir}/error.log").read()
            # Replies cut after nginx had forwarded their header: not retryable.
            cut = [l for l in log.splitlines() if f":{srv_a.port}" in l and
                   "while reading upstream" in l]
            errors = b["errors"] if b else -1
            check(run.returncode == 0 and b and b["ok"] > 0 and 0 <= errors <= len(cut),
                  f"bench while an instance is killed: {b and b['ok']} ok, "
                  f"{errors} errors {b and b['errors_by_status']} "
                  f"({len(cut)} replies cut mid-body by the kill; first no-response error: "
                  f"{b and b.get('no_response_error')})")
            if not b or errors:
                print(f"instances: killed 127.0.0.1:{srv_a.port}, survivor 127.0.0.1:{srv_b.port}")
                with open(f"{ngx_dir}/access.log") as f:
                    print("".join(l for l in f if not l.startswith("200 ") or
                                  f":{srv_a.port}" in l)[-3000:])
                print("\n".join(l for l in log.splitlines() if "upstream" in l)[-3000:])
            after_b = prom1(metrics(srv_b.addr), "nv_inference_request_success", 'model="tiny"')
            check(after_b - before_b > 0.3 * b["ok"] if b else False,
                  f"the survivor served the rest ({after_b - before_b:.0f} requests)")
            bad = [l for l in log.splitlines() if "upstream" in l and
                   ("failed" in l or "prematurely" in l or "reset" in l)]
            check(bad and f":{srv_a.port}" in "".join(bad),
                  f"nginx saw the killed upstream fail and retried elsewhere ({len(bad)} log lines)")
            st = get(front, "/v2/health/ready")[0]
            check(st == 200, "still ready through nginx with one instance")
        finally:
            if ngx.poll() is None:
                ngx.send_signal(signal.SIGQUIT)
                try:
                    ngx.wait(10)
                except subprocess.TimeoutExpired:
                    ngx.kill()
            srv_a.stop()
            srv_b.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
