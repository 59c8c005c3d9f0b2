#!/usr/bin/env python3
"""Reference values for tests/ops/test_spectral.c, from NumPy only.

Written from librosa's documented conventions (filters.mel, stft with
center=True/pad_mode='reflect', power_to_db) without librosa itself:
np.fft.rfft is the independent FFT, np.pad(mode='reflect') the padding,
np.linspace / np.subtract.outer the filterbank construction. Prints C
initializers that the test embeds; rerun with
    .venv/bin/python scripts/spectral_reference.py
(after `.venv/bin/pip install numpy`) to regenerate them.
"""
import numpy as np


def hz_to_mel(f, htk):
    f = np.asanyarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep, mels)


def mel_to_hz(m, htk):
    m = np.asanyarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr, n_fft, n_mels, fmin=0.0, fmax=None, htk=False, slaney=True):
    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    pts = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    fdiff = np.diff(pts)
    ramps = np.subtract.outer(pts, fftfreqs)
    w = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    if slaney:
        w *= (2.0 / (pts[2:n_mels + 2] - pts[:n_mels]))[:, None]
    return w


def hann_periodic(n):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft(x, n_fft, hop, win_length=None, center=True, pad_mode="reflect"):
    win_length = n_fft if win_length is None else win_length
    w = np.zeros(n_fft)
    lp = (n_fft - win_length) // 2
    w[lp:lp + win_length] = hann_periodic(win_length)
    if center:
        x = np.pad(x, n_fft // 2, mode=pad_mode)
    nt = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[t * hop:t * hop + n_fft] * w for t in range(nt)], axis=1)
    return np.fft.rfft(frames, axis=0)  # [n_fft/2+1, frames]


def power_to_db(s, amin=1e-10, ref=1.0, top_db=80.0):
    db = 10.0 * np.log10(np.maximum(amin, s)) - 10.0 * np.log10(max(amin, ref))
    return np.maximum(db, db.max() - top_db) if top_db else db


def test_signal(n, sr):
    """The fixed input; test_spectral.c builds the same one in double."""
    i = np.arange(n, dtype=np.float64)
    return (np.sin(2 * np.pi * 440.0 * i / sr) + 0.5 * np.sin(2 * np.pi * 3000.0 * i / sr + 0.3)
            + 0.25 * np.cos(0.0007 * i * i / sr * 100.0))


def fmt(vals):
    return ", ".join("%.9g" % v for v in vals)


def main():
    sr, n_fft, hop = 16000, 400, 160
    fb = mel_filterbank(sr, n_fft, 80)
    picks = [(m, k) for m in (0, 10, 40, 79) for k in (int(np.argmax(fb[m])), int(np.argmax(fb[m])) + 1)]
    print("/* mel sr=16000 n_fft=400 n_mels=80 Slaney, norm=slaney: (mel, bin, value) */")
    print("{" + ", ".join("{%d, %d, %.12g}" % (m, k, fb[m, k]) for m, k in picks) + "}")
    fbh = mel_filterbank(22050, 1024, 40, fmin=20.0, fmax=8000.0, htk=True, slaney=False)
    picks_h = [(m, k) for m in (0, 5, 20, 39) for k in (int(np.argmax(fbh[m])), int(np.argmax(fbh[m])) - 1)]
    print("/* mel sr=22050 n_fft=1024 n_mels=40 fmin=20 fmax=8000 HTK, norm=None */")
    print("{" + ", ".join("{%d, %d, %.12g}" % (m, k, fbh[m, k]) for m, k in picks_h) + "}")

    x = test_signal(2000, sr)
    X = stft(x, n_fft, hop)
    print("/* STFT n_fft=400 hop=160 centred reflect of test_signal(2000): (bin, frame, re, im) */")
    sp = [(11, 0), (11, 6), (75, 3), (0, 12), (40, 5), (74, 12)]
    print("{" + ", ".join("{%d, %d, %.9g, %.9g}" % (f, t, X[f, t].real, X[f, t].imag)
                          for f, t in sp) + "}")
    S = fb @ (np.abs(X) ** 2)
    db = power_to_db(S)
    print("/* log-mel dB (top_db 80) of the same: frames=%d (mel, frame, value) */" % S.shape[1])
    lp = [(0, 0), (5, 6), (20, 3), (40, 11), (55, 9), (79, 2)]
    print("{" + ", ".join("{%d, %d, %.9g}" % (m, t, db[m, t]) for m, t in lp) + "}")
    L = np.log10(np.maximum(S[:, :-1], 1e-10))
    L = (np.maximum(L, L.max() - 8.0) + 4.0) / 4.0
    print("/* Whisper log-mel of the same (last frame dropped): (mel, frame, value) */")
    print("{" + ", ".join("{%d, %d, %.9g}" % (m, t, L[m, t]) for m, t in lp) + "}")


if __name__ == "__main__":
    main()
