#!/usr/bin/env python3
"""Reference speech segments for the VAD golden test (tests/apps/vad_golden.py).

silero-vad's own Python helpers (utils_vad.py: OnnxWrapper and
get_speech_timestamps) import torch and torchaudio at module level; torch is
~800 MB and has no place in CI. So this script computes the same thing with
ONNX Runtime and NumPy: the model call exactly as OnnxWrapper makes it (a 64
sample context from the previous chunk prepended to each 512-sample chunk,
state [2, 1, 128] carried over, sr = 16000, the last chunk zero-padded), and
get_speech_timestamps of silero-vad 5.1.2 restated line for line below
(same variables, same branches, same float/int arithmetic).

Audio: 16-bit PCM WAV via the wave module; channels averaged; other rates
resampled to 16 kHz with libsoxr (VHQ), as silero-vad's read_audio resamples
with sox. Prints JSON: {"files": [{"file", "n_samples", "segments":
[[start, end], ...] in 16 kHz samples}]}.
"""
import argparse
import json
import math
import sys
import wave

import numpy as np

RATE = 16000
WINDOW = 512
CONTEXT = 64


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: only 16-bit PCM WAV is read here")
        ch, sr, n = w.getnchannels(), w.getframerate(), w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float32) / 32768.0
    x = x.reshape(-1, ch).mean(axis=1, dtype=np.float64).astype(np.float32)
    if sr != RATE:
        import soxr
        x = soxr.resample(x, sr, RATE, quality="VHQ").astype(np.float32)
    return x


class Silero:
    """OnnxWrapper.__call__ for 16 kHz, batch 1."""

    def __init__(self, path):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.inter_op_num_threads = 1
        o.intra_op_num_threads = 1
        self.s = ort.InferenceSession(path, providers=["CPUExecutionProvider"], sess_options=o)

    def probs(self, audio):
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, CONTEXT), np.float32)
        out = []
        for start in range(0, len(audio), WINDOW):
            chunk = audio[start:start + WINDOW]
            if len(chunk) < WINDOW:
                chunk = np.pad(chunk, (0, WINDOW - len(chunk)))
            x = np.concatenate([context, chunk[None, :]], axis=1)
            p, state = self.s.run(None, {"input": x, "state": state,
                                         "sr": np.array(RATE, dtype=np.int64)})
            context = x[:, -CONTEXT:]
            out.append(float(p[0, 0]))
        return out


def get_speech_timestamps(speech_probs, audio_length_samples, threshold=0.5,
                          min_speech_duration_ms=250, max_speech_duration_s=float("inf"),
                          min_silence_duration_ms=100, speech_pad_ms=30, neg_threshold=None):
    """silero-vad 5.1.2 get_speech_timestamps after the model loop, 16 kHz."""
    sampling_rate = RATE
    window_size_samples = WINDOW
    min_speech_samples = sampling_rate * min_speech_duration_ms / 1000
    speech_pad_samples = sampling_rate * speech_pad_ms / 1000
    max_speech_samples = (sampling_rate * max_speech_duration_s - window_size_samples
                          - 2 * speech_pad_samples)
    min_silence_samples = sampling_rate * min_silence_duration_ms / 1000
    min_silence_samples_at_max_speech = sampling_rate * 98 / 1000

    triggered = False
    speeches = []
    current_speech = {}
    if neg_threshold is None:
        neg_threshold = threshold - 0.15
    temp_end = 0
    prev_end = next_start = 0

    for i, speech_prob in enumerate(speech_probs):
        if (speech_prob >= threshold) and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = window_size_samples * i

        if (speech_prob >= threshold) and not triggered:
            triggered = True
            current_speech['start'] = window_size_samples * i
            continue

        if triggered and (window_size_samples * i) - current_speech['start'] > max_speech_samples:
            if prev_end:
                current_speech['end'] = prev_end
                speeches.append(current_speech)
                current_speech = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    current_speech['start'] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current_speech['end'] = window_size_samples * i
                speeches.append(current_speech)
                current_speech = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue

        if (speech_prob < neg_threshold) and triggered:
            if not temp_end:
                temp_end = window_size_samples * i
            if ((window_size_samples * i) - temp_end) > min_silence_samples_at_max_speech:
                prev_end = temp_end
            if (window_size_samples * i) - temp_end < min_silence_samples:
                continue
            else:
                current_speech['end'] = temp_end
                if (current_speech['end'] - current_speech['start']) > min_speech_samples:
                    speeches.append(current_speech)
                current_speech = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue

    if current_speech and (audio_length_samples - current_speech['start']) > min_speech_samples:
        current_speech['end'] = audio_length_samples
        speeches.append(current_speech)

    for i, speech in enumerate(speeches):
        if i == 0:
            speech['start'] = int(max(0, speech['start'] - speech_pad_samples))
        if i != len(speeches) - 1:
            silence_duration = speeches[i + 1]['start'] - speech['end']
            if silence_duration < 2 * speech_pad_samples:
                speech['end'] += int(silence_duration // 2)
                speeches[i + 1]['start'] = int(max(0, speeches[i + 1]['start']
                                                   - silence_duration // 2))
            else:
                speech['end'] = int(min(audio_length_samples, speech['end'] + speech_pad_samples))
                speeches[i + 1]['start'] = int(max(0, speeches[i + 1]['start']
                                                   - speech_pad_samples))
        else:
            speech['end'] = int(min(audio_length_samples, speech['end'] + speech_pad_samples))
    return speeches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--neg-threshold", type=float, default=None)
    ap.add_argument("--min-speech-ms", type=int, default=250)
    ap.add_argument("--min-silence-ms", type=int, default=100)
    ap.add_argument("--speech-pad-ms", type=int, default=30)
    ap.add_argument("--max-speech-s", type=float, default=0.0, help="0: unlimited")
    ap.add_argument("--probs", action="store_true", help="also print the probabilities")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    model = Silero(a.model)
    out = []
    for f in a.files:
        audio = read_wav(f)
        p = model.probs(audio)
        segs = get_speech_timestamps(
            p, len(audio), threshold=a.threshold, neg_threshold=a.neg_threshold,
            min_speech_duration_ms=a.min_speech_ms, min_silence_duration_ms=a.min_silence_ms,
            speech_pad_ms=a.speech_pad_ms,
            max_speech_duration_s=a.max_speech_s if a.max_speech_s > 0 else float("inf"))
        d = {"file": f, "n_samples": len(audio),
             "segments": [[s["start"], s["end"]] for s in segs]}
        if a.probs:
            d["probs"] = p
        out.append(d)
    json.dump({"files": out}, sys.stdout)
    print()


if __name__ == "__main__":
    sys.exit(main())
