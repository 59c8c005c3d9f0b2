#!/usr/bin/env python3
"""The PyTorch peer of bench_video's preprocess: the same decoded 1080p NV12
frames (bench_video --dump-frames: NVDEC's output, downloaded once),
uploaded once to the GPU, then per batch of B frames the same work avflow's
fused preprocess does in one launch, written the way a PyTorch pipeline
would: NV12 -> RGB (BT.709 limited range, chroma sample (x/2, y/2)),
bilinear resize (align_corners=False, no antialias) into a 640x640
letterbox (content 640x360, pad 114), x 1/255, NCHW f16.

Reports frames/s of the preprocess alone (CUDA events, median of --repeats
timed loops of --iters batches each), eager and, with --compile, through
torch.compile (not by default: compiling takes longer than the rest).

  python3 bench/media/peers_video.py --frames nv12.raw [--width 1920 --height 1080]
      [--batch 16] [--size 640] [--iters 20] [--repeats 5] [--compile] [--json out.json]
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", required=True)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    ap.add_argument("--json")
    a = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"peers_video: no PyTorch here ({e})")
        return 77
    if not torch.cuda.is_available():
        print("peers_video: PyTorch has no CUDA device here")
        return 77
    W, H, B, S = a.width, a.height, a.batch, a.size
    fb = W * H * 3 // 2
    dev = torch.device("cuda:0")
    raw = np.fromfile(a.frames, np.uint8) if os.path.exists(a.frames) else np.zeros(0, np.uint8)
    n = raw.size // fb
    if n >= 1:
        frames = torch.from_numpy(raw[: n * fb].reshape(n, H * 3 // 2, W)).to(dev)  # the one upload
        source = f"{n} decoded frames from {a.frames}"
    else:
        # no dump (bench_video failed?): the work does not depend on the
        # pixels, so time it on random NV12 and say so
        n = B
        frames = torch.randint(16, 236, (n, H * 3 // 2, W), dtype=torch.uint8, device=dev)
        source = f"SYNTHETIC random frames ({a.frames} missing or short)"
    idx = torch.arange(B, device=dev) % n
    batch_in = frames[idx].contiguous()  # [B, 1.5H, W] u8 on the GPU
    scale = min(S / W, S / H)
    cw, ch = max(1, round(W * scale)), max(1, round(H * scale))
    left, top = (S - cw) // 2, (S - ch) // 2
    kr, kb = 0.2126, 0.0722
    kg = 1 - kr - kb

    def preprocess(x):
        y = x[:, :H, :].float()
        uv = x[:, H:, :].view(B, H // 2, W // 2, 2).float()
        u = uv[..., 0].repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
        v = uv[..., 1].repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
        yy = (y - 16.0) * (255.0 / 219.0)
        cb = (u - 128.0) * (255.0 / 224.0)
        cr = (v - 128.0) * (255.0 / 224.0)
        r = yy + 2 * (1 - kr) * cr
        g = yy - (2 * kb * (1 - kb) / kg) * cb - (2 * kr * (1 - kr) / kg) * cr
        b = yy + 2 * (1 - kb) * cb
        rgb = torch.stack((r, g, b), dim=1).clamp_(0, 255)  # [B, 3, H, W]
        small = F.interpolate(rgb, size=(ch, cw), mode="bilinear", align_corners=False)
        out = torch.full((B, 3, S, S), 114.0, device=dev)
        out[:, :, top:top + ch, left:left + cw] = small
        return (out * (1.0 / 255.0)).half()

    def bench(fn):
        for _ in range(3):
            fn(batch_in)
        torch.cuda.synchronize()
        st, en = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        fps = []
        for _ in range(a.repeats):
            st.record()
            for _ in range(a.iters):
                out = fn(batch_in)
            en.record()
            en.synchronize()
            fps.append(B * a.iters / (st.elapsed_time(en) / 1000.0))
        return statistics.median(fps), out

    res = {"frames_file": a.frames, "distinct_frames": n, "batch": B, "size": S,
           "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}
    fps, out = bench(preprocess)
    o = out.float()
    res["source"] = source
    print(f"peers_video: {source}, {W}x{H} NV12, on {res['gpu']}, torch {torch.__version__}, "
          f"batch {B} -> [{B}, 3, {S}, {S}] f16 letterbox")
    print(f"torch eager:   {fps:10.1f} frames/s ({1e6 / fps:.2f} us/frame); "
          f"check: pad {o[0, 0, 0, 0].item():.4f}, mean {o.mean().item():.4f}")
    res["eager_fps"] = fps
    if a.compile:
        try:
            comp = torch.compile(preprocess)
            cfps, _ = bench(comp)
            print(f"torch.compile: {cfps:10.1f} frames/s ({1e6 / cfps:.2f} us/frame)")
            res["compile_fps"] = cfps
        except Exception as e:  # no compiler toolchain on the machine, etc.
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            print(f"torch.compile: not run ({msg})")
            res["compile_error"] = msg
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
