#!/usr/bin/env python3
"""The host peer of bench_audio: the same synthesised hour of 44.1 kHz
stereo s16 (sample for sample, see synth() in bench_audio.c), decoded to
float, mixed down, resampled to 16 kHz by libsoxr (the `soxr` package, HQ)
and turned into the same log-mel (n_fft 400, hop 160, centred reflect pad,
periodic Hann, 80 Slaney mels with Slaney norm, power_to_db with top_db 80)
in NumPy, on the host. Times each stage with the wall clock; medians over
--repeats. With --compare MEL.f32 (bench_audio --dump) it also reports how
far avflow's mel is from this one (the resamplers differ, so not bit-equal).

  python3 bench/media/peers_audio.py [--seconds 3600] [--repeats 3]
      [--compare mel.f32] [--json out.json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

IN_RATE, OUT_RATE = 44100, 16000
N_FFT, HOP, N_MELS = 400, 160, 80


def hash32(h):
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x45D9F3B)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x45D9F3B)
    h ^= h >> np.uint32(16)
    return h


def synth(frames):
    """bench_audio.c's synth(), vectorised (in blocks to bound memory)."""
    out = np.empty((frames, 2), np.int16)
    minute = 60 * IN_RATE
    f0, f1, T = 50.0, 8000.0, 60.0
    block = 1 << 22
    for s in range(0, frames, block):
        i = np.arange(s, min(frames, s + block), dtype=np.int64)
        t = (i % minute) / IN_RATE
        sweep = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * T)))
        for c in range(2):
            h = hash32((2 * i + c) & 0xFFFFFFFF)
            noise = (h >> np.uint32(8)).astype(np.float64) / float(1 << 23) - 1.0
            tone = np.sin(2 * np.pi * (660.0 if c else 440.0) * (i % minute) / IN_RATE)
            v = 0.25 * (sweep + tone + noise)
            out[i, c] = np.rint(v * 32767.0).astype(np.int16)
    return out


def hz_to_mel(f):
    f = np.asarray(f, np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    m = np.asarray(m, np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr, n_fft, n_mels):
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney)."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w.astype(np.float32)


def logmel(y, fb):
    pad = N_FFT // 2
    yp = np.pad(y, pad, mode="reflect")
    n_frames = 1 + (len(yp) - N_FFT) // HOP
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    out = np.empty((N_MELS, n_frames), np.float32)
    block = 1 << 16  # frames per block: bounds the framed copy's memory
    for s in range(0, n_frames, block):
        e = min(n_frames, s + block)
        idx = (np.arange(s, e) * HOP)[:, None] + np.arange(N_FFT)[None, :]
        spec = np.fft.rfft(yp[idx] * win, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        out[:, s:e] = fb @ power.T
    db = 10.0 * np.log10(np.maximum(out, 1e-10))
    return np.maximum(db, db.max() - 80.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compare")
    ap.add_argument("--json")
    a = ap.parse_args()
    try:
        import soxr
    except ImportError as e:
        print(f"peers_audio: soxr missing ({e}): pip install soxr (scripts/requirements-test.txt)")
        return 77
    frames = int(round(a.seconds * IN_RATE))
    t = time.perf_counter()
    pcm = synth(frames)
    print(f"peers_audio: {a.seconds:.0f} s of 44.1 kHz stereo s16 (synthesised in "
          f"{time.perf_counter() - t:.1f} s), numpy {np.__version__}, soxr {soxr.__version__}, "
          f"{os.cpu_count()} host cores, {a.repeats} repeats")
    fb = mel_filterbank(OUT_RATE, N_FFT, N_MELS)
    stages = {"decode+mixdown": [], "resample": [], "logmel": [], "total": []}
    mel = None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        mono = (pcm[:, 0].astype(np.float32) + pcm[:, 1]) * np.float32(0.5 / 32768.0)
        t1 = time.perf_counter()
        y = soxr.resample(mono, IN_RATE, OUT_RATE, quality="HQ")
        t2 = time.perf_counter()
        mel = logmel(y.astype(np.float32), fb)
        t3 = time.perf_counter()
        for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            stages[k].append(v)
    med = {k: float(np.median(v)) for k, v in stages.items()}
    for k, v in med.items():
        print(f"{k:16s} {1000 * v:10.1f} ms")
    print(f"x realtime (host, libsoxr + NumPy): {a.seconds / med['total']:.1f}")
    res = {"seconds": a.seconds, "repeats": a.repeats, "stages_ms": {k: 1000 * v for k, v in med.items()},
           "x_realtime": a.seconds / med["total"], "host_cores": os.cpu_count(),
           "mel_frames": int(mel.shape[1])}
    if a.compare and os.path.exists(a.compare):
        av = np.fromfile(a.compare, np.float32)
        if av.size > mel.size and av.size % N_MELS == 0:
            # avflow's run was longer (the signal repeats every minute, so
            # the clip's max, top_db's reference, is the same): compare the
            # frames both have, except the last few, which see this run's end
            av = av.reshape(N_MELS, -1)[:, : mel.shape[1]]
            mel = mel[:, :-4]
            av = av[:, : mel.shape[1]].copy()
        if av.size == mel.size:
            av = av.reshape(mel.shape)
            d = np.abs(av - mel)
            # frames near the signal's edges see each resampler's edge handling
            inner = d[:, 4:-4]
            # the sweep reaches 8 kHz, the new Nyquist: there the two
            # resamplers' transition bands differ by design (avflow's cutoff
            # is 0.95 of Nyquist, soxr HQ's ~0.91-0.99); bands whose upper
            # edge is below 7 kHz are where they must agree
            edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(OUT_RATE / 2.0), N_MELS + 2))
            low = edges[2:] < 7000
            print(f"vs avflow mel: max |diff| {d.max():.3f} dB (all bands), "
                  f"{inner[low].max():.3f} dB (bands below 7 kHz, inner frames), mean {d.mean():.4f} dB")
            res["vs_avflow_db"] = {"max": float(d.max()), "max_below_7khz": float(inner[low].max()),
                                   "mean": float(d.mean())}
        else:
            print(f"vs avflow mel: sizes differ ({av.size} vs {mel.size})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
