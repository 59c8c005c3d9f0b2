#!/usr/bin/env python3
"""Render the OCR images and write the model-ready .npy inputs of the golden
check, into DATA/ (run by scripts/make-test-data.sh after the WAVs exist).

Layout: DATA/npy/<model>/<case>/<input name>.npy, one directory a case; for
Silero VAD a case is a whole clip: chunk_NNNN.npy (the model's `input`, one a
chunk), state.npy (the initial `state`, zeros) and sr.npy (int64 16000).

Preprocessing follows the reference pipelines:
  silero_vad   silero-vad 5.x OnnxWrapper at 16 kHz: 512 new samples a chunk,
               each fed with the 64 samples before it as context (576 in all,
               zeros before the clip), the last chunk zero-padded; s16/32768
  ppocr det    BGR, (x/255 - mean)/std, mean 0.485,0.456,0.406 std
               0.229,0.224,0.225, each side resized to a multiple of 32
  ppocr rec    height 48 keeping the aspect (width at most 320), (x/255-0.5)/0.5,
               right-padded with 0 to width 320
  ppocr cls    the same at 48x192
Idempotent: a case whose directory exists is kept.
"""
import argparse
import math
import os
import wave

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

LINES = {
    "line_hello": "Hello, world! 2024",
    "line_invoice": "Invoice No. 8841-B",
    "line_total": "Total: $1,299.95",
    "line_fox": "quick brown fox",
}
PAGE = [
    "GPU inference runtime",
    "Silero VAD and PaddleOCR",
    "Meeting at 10:30 in room 4B",
    "Call 555-0123 before noon.",
    "The quick brown fox jumps.",
]


def save_npy(path, arr):
    tmp = path + ".part.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def render_line(text, size=32, pad=8):
    font = ImageFont.truetype(FONT, size)
    l, t, r, b = font.getbbox(text)
    img = Image.new("RGB", (r - l + 2 * pad, b - t + 2 * pad), "white")
    ImageDraw.Draw(img).text((pad - l, pad - t), text, fill="black", font=font)
    return img


def render_page(lines, size=28, width=640, gap=22, margin=24):
    font = ImageFont.truetype(FONT, size)
    height = margin * 2 + len(lines) * (size + gap)
    img = Image.new("RGB", (width, height), (250, 248, 240))
    d = ImageDraw.Draw(img)
    y = margin
    for i, text in enumerate(lines):
        d.text((margin + 12 * (i % 3), y), text, fill=(20, 20, 30), font=font)
        y += size + gap
    return img


def bgr(img):  # PIL RGB -> float32 HWC BGR in [0, 255]
    return np.asarray(img.convert("RGB"), dtype=np.float32)[:, :, ::-1]


def det_input(img):
    w, h = img.size
    rw, rh = max(32, round(w / 32) * 32), max(32, round(h / 32) * 32)
    x = bgr(img.resize((rw, rh), Image.BILINEAR)) / 255.0
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def rec_like(img, H, W):  # PaddleOCR resize_norm_img: keep aspect, pad right with 0
    w, h = img.size
    rw = min(W, int(math.ceil(H * w / h)))
    x = bgr(img.resize((rw, H), Image.BILINEAR)) / 255.0
    x = (x - 0.5) / 0.5
    out = np.zeros((3, H, W), np.float32)
    out[:, :, :rw] = x.transpose(2, 0, 1)
    return out[None]


def read_wav(path):
    with wave.open(path, "rb") as f:
        assert f.getframerate() == 16000 and f.getnchannels() == 1 and f.getsampwidth() == 2, path
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def vad_case(out_dir, wav):
    if os.path.isdir(out_dir):
        return
    audio = read_wav(wav)
    n = (len(audio) + 511) // 512
    audio = np.concatenate([np.zeros(64, np.float32), audio, np.zeros(n * 512 - len(audio), np.float32)])
    tmp = out_dir + ".part"
    os.makedirs(tmp, exist_ok=True)
    for i in range(n):
        save_npy(f"{tmp}/chunk_{i:04d}.npy", audio[i * 512:i * 512 + 576][None].copy())
    save_npy(f"{tmp}/state.npy", np.zeros((2, 1, 128), np.float32))
    save_npy(f"{tmp}/sr.npy", np.array(16000, np.int64))
    os.replace(tmp, out_dir)
    print(f"make-test-data: npy/silero_vad/{os.path.basename(out_dir)} ({n} chunks)")


def case(data, model, name, inputs):
    d = f"{data}/npy/{model}/{name}"
    if os.path.isdir(d):
        return
    tmp = d + ".part"
    os.makedirs(tmp, exist_ok=True)
    for k, v in inputs.items():
        save_npy(f"{tmp}/{k}.npy", v)
    os.replace(tmp, d)
    print(f"make-test-data: npy/{model}/{name} " + " ".join(f"{k}{list(v.shape)}" for k, v in inputs.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    data = ap.parse_args().data
    os.makedirs(f"{data}/ocr", exist_ok=True)

    imgs = {}
    for name, text in LINES.items():
        p = f"{data}/ocr/{name}.png"
        if not os.path.exists(p):
            render_line(text).save(p)
        imgs[name] = Image.open(p).convert("RGB")
    p = f"{data}/ocr/page.png"
    if not os.path.exists(p):
        render_page(PAGE).save(p)
    page = Image.open(p).convert("RGB")

    # Silero VAD: every clip in data/speech.
    for wav in sorted(os.listdir(f"{data}/speech")):
        if wav.endswith(".wav") and not wav.startswith("."):
            vad_case(f"{data}/npy/silero_vad/{wav[:-4]}", f"{data}/speech/{wav}")

    # Detection: the page and one line.
    case(data, "ppocr_v4_det", "page", {"x": det_input(page)})
    case(data, "ppocr_v4_det", "line_invoice", {"x": det_input(imgs["line_invoice"])})

    # Recognition: each line, and all of them as one batch.
    for name, img in imgs.items():
        case(data, "ppocr_v4_rec", name, {"x": rec_like(img, 48, 320)})
    case(data, "ppocr_v4_rec", "batch4", {"x": np.concatenate([rec_like(i, 48, 320) for i in imgs.values()])})

    # Orientation: each line upright and rotated 180 degrees, and a batch of both.
    both = []
    for name, img in imgs.items():
        up, down = rec_like(img, 48, 192), rec_like(img.rotate(180), 48, 192)
        case(data, "ppocr_mobile_v2_cls", name, {"x": up})
        case(data, "ppocr_mobile_v2_cls", name + "_rot180", {"x": down})
        both += [up, down]
    case(data, "ppocr_mobile_v2_cls", "batch8", {"x": np.concatenate(both)})


if __name__ == "__main__":
    main()
