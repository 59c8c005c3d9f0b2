#!/usr/bin/env python3
"""Golden test of the VAD pipeline: `avflow vad --json` against the reference
(vad_reference.py: ONNX Runtime + silero-vad's get_speech_timestamps).

One avflow invocation = one batch holding every clip: the data/speech clips at
16 kHz, copies made here with sox at 44.1 kHz stereo (the channels differ),
48 kHz stereo and 8 kHz, a 31 s concatenation and two tiny clips, so the batch
mixes lengths, rates and channel counts, plus broken files (empty, a cut
header, random bytes) that must fail alone. Run twice: default options, then
options that exercise the other branches (max_speech splitting, padding
that shares gaps). Segments are compared in 16 kHz samples; the 16 kHz clips
must match exactly. Resampled clips go through different resamplers (avflow's
polyphase kernel on one side, libsoxr on the other), so a boundary may move
by a chunk where a probability sits at a threshold: they must match within
--resampled-tol samples (default 512, one chunk), and the maximum difference is
printed either way.

Exit: 0 pass, 1 fail, 77 skipped (model, data or sox missing).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RATE = 16000

OPTION_SETS = [
    [],
    ["--threshold", "0.6", "--min-silence-ms", "300", "--speech-pad-ms", "100",
     "--min-speech-ms", "100", "--max-speech-s", "1.5"],
]


def ref_args(opts):
    """The same options for the reference script (same flag names)."""
    return list(opts)


def sox(*args):
    subprocess.run(["sox", *args], check=True)


def make_clips(data, tmp):
    base = [os.path.join(data, f) for f in sorted(os.listdir(data)) if f.endswith(".wav")]
    made = []  # (path, resampled)
    for b in base:
        made.append((b, False))
    def p(name):
        return os.path.join(tmp, name)
    sox(os.path.join(data, "en_numbers.wav"), "-b", "16", p("numbers_44k_stereo.wav"),
        "remix", "1", "1v0.5", "rate", "-v", "44100")
    sox(os.path.join(data, "en_weather.wav"), "-b", "16", p("weather_48k_stereo.wav"),
        "remix", "1v0.7", "1", "rate", "-v", "48000")
    sox(os.path.join(data, "en_fox.wav"), "-b", "16", p("fox_8k.wav"), "rate", "-v", "8000")
    mix = os.path.join(data, "vad_mix.wav")
    sox(mix, mix, mix, "-b", "16", p("mix_x3.wav"))
    sox(mix, "-b", "16", p("tiny_1600.wav"), "trim", "0", "1600s")
    sox(mix, "-b", "16", p("tiny_100.wav"), "trim", "16000s", "100s")
    made += [(p("numbers_44k_stereo.wav"), True), (p("weather_48k_stereo.wav"), True),
             (p("fox_8k.wav"), True), (p("mix_x3.wav"), False), (p("tiny_1600.wav"), False),
             (p("tiny_100.wav"), False)]
    # broken inputs: each must fail alone
    open(p("empty.wav"), "wb").close()
    with open(mix, "rb") as f:
        head = f.read(20)
    with open(p("cut_header.wav"), "wb") as f:
        f.write(head)
    rnd = random.Random(7)
    with open(p("random.bin"), "wb") as f:
        f.write(bytes(rnd.randrange(256) for _ in range(4096)))
    broken = [p("empty.wav"), p("cut_header.wav"), p("random.bin")]
    return made, broken


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="directory of 16 kHz speech WAVs")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--resampled-tol", type=int, default=512)
    a = ap.parse_args()
    if not os.path.exists(a.model) or not os.path.isdir(a.data):
        print(f"SKIP: {a.model} or {a.data} missing (scripts/fetch-models.sh, make data)")
        return 77
    if not shutil.which("sox"):
        print("SKIP: sox is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="avf_vad_golden_")
    try:
        clips, broken = make_clips(a.data, tmp)
        ok = True
        for opts in OPTION_SETS:
            files = [c for c, _ in clips]
            # broken files in the middle of the batch
            batch = files[:2] + broken + files[2:]
            r = subprocess.run([a.avflow, "vad", "--json", "--model", a.model, "--device",
                                a.device, *opts, *batch], capture_output=True, text=True)
            if r.returncode != 1:  # 1: some files failed (the broken ones)
                print(f"FAIL: avflow vad exited {r.returncode}\n{r.stderr}")
                return 1
            got = {f["file"]: f for f in json.loads(r.stdout)["files"]}
            for b in broken:
                if "error" not in got[b]:
                    print(f"FAIL: {b} gave no error: {got[b]}")
                    ok = False
                else:
                    print(f"ok   broken {os.path.basename(b)}: {got[b]['error']}")
            ref = subprocess.run([a.python, os.path.join(HERE, "vad_reference.py"), "--model",
                                  a.model, *ref_args(opts), *files],
                                 capture_output=True, text=True, check=True)
            want = {f["file"]: f for f in json.loads(ref.stdout)["files"]}
            worst = {False: 0, True: 0}
            for f, resampled in clips:
                g = got[f]
                if "error" in g:
                    print(f"FAIL: {f}: {g['error']}")
                    ok = False
                    continue
                gs = [[round(s["start_s"] * RATE), round(s["end_s"] * RATE)]
                      for s in g["segments"]]
                ws = want[f]["segments"]
                if len(gs) != len(ws):
                    print(f"FAIL {opts}: {f}: {len(gs)} segments, reference {len(ws)}\n"
                          f"  avflow    {gs}\n  reference {ws}")
                    ok = False
                    continue
                d = max([abs(x - y) for s, t in zip(gs, ws) for x, y in zip(s, t)] or [0])
                worst[resampled] = max(worst[resampled], d)
                tol = a.resampled_tol if resampled else 0
                status = "ok  " if d <= tol else "FAIL"
                if d > tol:
                    ok = False
                print(f"{status} {os.path.basename(f)}: {len(gs)} segments, "
                      f"max boundary difference {d} samples")
            print(f"options {opts or 'default'}: max boundary difference "
                  f"{worst[False]} samples (16 kHz clips), {worst[True]} (resampled clips)")
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
