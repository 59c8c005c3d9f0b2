#!/usr/bin/env python3
"""The dashboard (GET /) rendered by headless Chromium against a live server
under load, with the fake NVML so the GPU charts have figures:

  - a screenshot (PNG, decoded with Pillow) shows, inside each chart's
    canvas, pixels of the chart's first series colour: a drawn line, not
    just axes or an empty frame; the chart positions come from the page's own
    LAYOUT constant, so page and test cannot drift apart;
  - the DOM after the page ran (--dump-dom) holds the figures: the request
    count, the tiny model's row, no "status unavailable" error.
SKIP (77) when Chromium is not installed (scripts/setup.sh installs it).

usage: test_dashboard.py --avflow BUILD/bin/avflow --fake-nvml LIB [--chromium PATH] [--out DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from obs_util import SKIP, Server, check, finish, get, make_repo

WINDOW = (1400, 900)


def chromium_cmd(binary, url, tmp, *what):
    return [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp}/chromium-profile",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=6000", *what, url]


def near(px, rgb, tol=60):
    return sum(abs(a - b) for a, b in zip(px[:3], rgb)) <= tol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--fake-nvml", required=True)
    ap.add_argument("--chromium", default=None)
    ap.add_argument("--out", default=None, help="keep the screenshot here")
    a = ap.parse_args()
    chromium = a.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: no chromium (scripts/setup.sh installs the Debian package 'chromium')")
        return SKIP
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(tmp)
        srv = Server(a.avflow, repo, {"AVF_NVML_LIBRARY": a.fake_nvml})
        load = None
        try:
            st, _, body = get(srv.addr, "/")
            page = body.decode()
            layout = json.loads(re.search(r"const LAYOUT = (\{[^}]*\});", page).group(1))
            ids = re.findall(r'\{id: "(\w+)"', page)
            colors = re.search(r"const COLORS = \[([^\]]*)\]", page).group(1)
            first = re.findall(r'"#([0-9a-f]{6})"', colors)[0]
            rgb = tuple(int(first[i:i + 2], 16) for i in (0, 2, 4))
            check(st == 200 and len(ids) >= 8, f"the page declares {len(ids)} charts")
            # Load during the whole capture: the charts show live traffic.
            load = subprocess.Popen([a.avflow, "bench", "--url", srv.url, "--model", "tiny",
                                     "--concurrency", "2", "--duration", "60", "--warmup", "0",
                                     "--quiet", "--no-metrics"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = srv.url + "/?interval=250"
            png = os.path.join(tmp, "dashboard.png")
            p = subprocess.run(chromium_cmd(chromium, url, tmp, f"--screenshot={png}"),
                               capture_output=True, text=True, timeout=120)
            if not check(os.path.exists(png), f"chromium wrote a screenshot (rc {p.returncode})"):
                print(p.stderr[-2000:])
                return finish()
            dom = subprocess.run(chromium_cmd(chromium, url, tmp, "--dump-dom"),
                                 capture_output=True, text=True, timeout=120).stdout
        finally:
            if load:
                load.terminate()
                load.wait()
            srv.stop()
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            shutil.copy(png, os.path.join(a.out, "dashboard.png"))
        img = Image.open(png).convert("RGB")
        check(img.size == WINDOW, f"screenshot is {img.size}")
        px = img.load()
        L, T, W, H, G, C, TT = (layout[k] for k in
                                ("left", "top", "width", "height", "gap", "cols", "title"))
        for i, cid in enumerate(ids):
            x0 = L + (i % C) * (W + G)
            y0 = T + (i // C) * (H + G) + TT + 1   # the canvas, below the card's title
            n = sum(1 for y in range(y0, y0 + H - TT - 2) for x in range(x0 + 1, x0 + W - 1)
                    if near(px[x, y], rgb))
            bg = sum(1 for y in range(y0, y0 + H - TT - 2, 4) for x in range(x0 + 1, x0 + W - 1, 4)
                     if px[x, y] != (255, 255, 255))
            check(n >= 20 and bg > 0, f"chart {cid}: {n} pixels of its first series drawn")
        err = re.search(r'<span id="err">([^<]*)</span>', dom)
        check(err is not None and err.group(1) == "",
              f"the page read /api/performance/status ({err.group(1) if err else 'no #err'})")
        m = re.search(r"requests (\d+) \(failed (\d+)\)", dom)
        check(m is not None and int(m.group(1)) > 0 and m.group(2) == "0",
              f"the header shows the request count ({m.group(0) if m else None})")
        check("<td>tiny</td>" in dom and "READY" in dom, "the models table lists tiny, READY")
        cpu = re.search(r'<span id="cpu">([^<]*)</span>', dom)
        check(cpu is not None and "ms/request" in cpu.group(1) and "NVML absent" not in cpu.group(1),
              f"CPU per request shown, and GPU figures (fake NVML): {cpu.group(1) if cpu else None}")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
