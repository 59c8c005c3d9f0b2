#!/usr/bin/env python3
"""The /v1 application endpoints of `avflow serve --apps DIR`, end to end:
a real server on a free port, real audio and images from data/.

What it asserts (every failure is counted; exit 1 if any):
  - POST /v1/audio/vad with data/speech/vad_mix.wav (1 s silence, a
    sentence, 1 s silence, a sentence, 1 s silence) answers 200 with
    exactly the segments `avflow vad --json` finds offline on the same file
    and device, two of them, the first starting after ~0.7 s;
  - the same clip as 44.1 kHz stereo FLAC (sox) gives segments within 40 ms;
  - POST /v1/image/ocr with each data/ocr line image answers 200 with
    the text `avflow ocr --json` reads offline, and that text contains the
    rendered string's words;
  - bad input: an empty body, random bytes, a WAV cut inside its header and a truncated
    PNG -> 400 with a JSON error, a bad query argument -> 400 naming it,
    GET -> 405; the server keeps answering afterwards;
  - 32 concurrent VAD and 32 concurrent OCR requests all answer 200 with the
    single-request results, and at least one reply reports batch > 1
    (requests were batched across connections);
  - with --devices (e.g. cpu:0,cpu:1, simulated devices): every reply names
    one of them, and the concurrent requests ran on each of them (one
    pipeline per device, batches to the least busy);
  - SIGTERM: the server drains and exits 0.
If the server does not start, that is a failure, never a skip.

usage: test_http_apps.py --avflow BUILD/bin/avflow --models DIR --data DIR [--device D]
                         [--devices D1,D2]
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def post(port, path, body, ctype="application/octet-stream", method="POST"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        js = json.loads(data) if data else None
    except ValueError:
        js = None
    return r.status, js, data


def start_server(avflow, models, device, devices):
    repo = tempfile.mkdtemp(prefix="avf-apps-repo-")
    where = ["--devices", devices] if devices else ["--device", device]
    p = subprocess.Popen([avflow, "serve", "--model-repository", repo, "--apps", models,
                          "--port", "0", "--app-delay-us", "5000"] + where,
                         stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    line = p.stdout.readline()
    if "listening on http://" not in line:
        p.kill()
        return None, None, repo
    port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
    print(line.strip(), "|", p.stdout.readline().strip(), flush=True)
    return p, port, repo


def offline(avflow, cmd, path, device, models):
    m = (["--model", os.path.join(models, "silero_vad.onnx")] if cmd == "vad" else
         ["--models", models])
    r = subprocess.run([avflow, cmd, "--json", "--device", device] + m + [path],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return None
    return json.loads(r.stdout)


def first(js):
    """`avflow vad/ocr --json FILE` prints one result or a list of one."""
    if isinstance(js, list):
        return js[0] if js else None
    for key in ("results", "files", "images"):
        if isinstance(js, dict) and isinstance(js.get(key), list):
            return js[key][0] if js[key] else None
    return js


def segs(js):
    return [(round(s["start_s"], 3), round(s["end_s"], 3)) for s in (js or {}).get("segments", [])]


def texts(js):
    return [l["text"] for l in (js or {}).get("lines", [])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--devices", default=None,
                    help="serve on these devices (the offline references use --device)")
    a = ap.parse_args()
    served_on = a.devices.split(",") if a.devices else [a.device]
    wav = os.path.join(a.data, "speech", "vad_mix.wav")
    pngs = sorted(os.path.join(a.data, "ocr", f) for f in os.listdir(os.path.join(a.data, "ocr"))
                  if f.startswith("line_") and f.endswith(".png"))
    if not os.path.exists(wav) or not pngs or not os.path.exists(
            os.path.join(a.models, "silero_vad.onnx")):
        print("FAIL: models or data missing (make models data)")
        return 1

    p, port, repo = start_server(a.avflow, a.models, a.device, a.devices)
    check(p is not None, "server starts with --apps and prints its address")
    if p is None:
        return 1
    try:
        body = open(wav, "rb").read()
        st, js, _ = post(port, "/v1/audio/vad", body, "audio/wav")
        check(st == 200, f"VAD 200 (got {st})")
        vad_segs = segs(js)
        ref = first(offline(a.avflow, "vad", wav, a.device, a.models))
        check(ref is not None, "avflow vad --json runs")
        check(segs(js) == segs(ref), f"VAD over HTTP = offline: {segs(js)} vs {segs(ref)}")
        dur = (js or {}).get("duration_s", 0)
        check(len(segs(js)) >= 2 and segs(js)[0][0] > 0.7 and segs(js)[-1][1] < dur - 0.7,
              f"speech in both sentences, none in the first or last 0.7 s of silence: "
              f"{segs(js)} of {dur:.2f} s")
        if shutil.which("sox"):
            flac = tempfile.mktemp(suffix=".flac")
            subprocess.run(["sox", wav, "-r", "44100", "-c", "2", flac], check=True)
            st, js2, _ = post(port, "/v1/audio/vad", open(flac, "rb").read(), "audio/flac")
            os.unlink(flac)
            s1, s2 = segs(js), segs(js2)
            close = st == 200 and len(s1) == len(s2) and all(
                abs(x[0] - y[0]) <= 0.04 and abs(x[1] - y[1]) <= 0.04 for x, y in zip(s1, s2))
            check(close, f"44.1 kHz stereo FLAC: {s2} within 40 ms of {s1}")

        ocr_ref = {}
        for png in pngs:
            st, js, _ = post(port, "/v1/image/ocr", open(png, "rb").read(), "image/png")
            ref = first(offline(a.avflow, "ocr", png, a.device, a.models))
            ocr_ref[png] = texts(js)
            check(st == 200 and ref is not None and texts(js) == texts(ref),
                  f"OCR {os.path.basename(png)} over HTTP = offline: {texts(js)} vs "
                  f"{texts(ref)}")
            check(len(texts(js)) >= 1, f"OCR {os.path.basename(png)} finds text: {texts(js)}")
        hello = [t for p_, t in ocr_ref.items() if p_.endswith("line_hello.png")]
        if hello:
            joined = " ".join(hello[0]).lower()
            check("hello" in joined and "world" in joined, f"line_hello reads 'Hello, world': {hello[0]}")

        # Bad input: a clean 400 each, and the server carries on.
        bad = [("/v1/audio/vad", b""), ("/v1/audio/vad", os.urandom(4096)),
               ("/v1/audio/vad", body[:30]), ("/v1/image/ocr", b""),
               ("/v1/image/ocr", os.urandom(4096)),
               ("/v1/image/ocr", open(pngs[0], "rb").read()[:100])]
        for path, b in bad:
            st, js, raw = post(port, path, b)
            check(st == 400 and isinstance(js, dict) and js.get("error"),
                  f"{path} with {len(b)} bad bytes -> 400 with an error (got {st} {raw[:120]!r})")
        st, js, raw = post(port, "/v1/audio/vad?threshold=7", body)
        check(st == 400 and b"threshold" in raw, f"bad threshold -> 400 naming it (got {st})")
        st, _, _ = post(port, "/v1/audio/vad", None, method="GET")
        check(st in (405, 404), f"GET /v1/audio/vad -> 405 (got {st})")

        # Concurrency: batched across connections, each its own answer.
        with cf.ThreadPoolExecutor(64) as ex:
            fv = [ex.submit(post, port, "/v1/audio/vad", body, "audio/wav") for _ in range(32)]
            fo = [ex.submit(post, port, "/v1/image/ocr", open(pngs[i % len(pngs)], "rb").read(),
                            "image/png") for i in range(32)]
            rv = [f.result() for f in fv]
            ro = [f.result() for f in fo]
        check(all(r[0] == 200 and segs(r[1]) == vad_segs for r in rv),
              "32 concurrent VAD requests: all 200 with the same segments")
        check(all(r[0] == 200 and texts(r[1]) == ocr_ref[pngs[i % len(pngs)]]
                  for i, r in enumerate(ro)), "32 concurrent OCR requests: all 200, same texts")
        bv = max((r[1] or {}).get("batch", 1) for r in rv)
        bo = max((r[1] or {}).get("batch", 1) for r in ro)
        check(bv > 1 and bo > 1, f"requests batched across connections (max batch VAD {bv}, OCR {bo})")
        canon = lambda d: "cpu:0" if d == "cpu" else d  # avflow names cpu:0 "cpu"
        dv = sorted({canon((r[1] or {}).get("device")) for r in rv}, key=str)
        do = sorted({canon((r[1] or {}).get("device")) for r in ro}, key=str)
        want = sorted({canon(d) for d in served_on})
        check(dv == want and do == want,
              f"replies name the devices they ran on, and every device ran some: VAD {dv}, "
              f"OCR {do} (serving on {want})")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -9
        check(rc == 0, f"SIGTERM: drains and exits 0 (rc {rc})")
        shutil.rmtree(repo, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
