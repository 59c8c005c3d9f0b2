#!/usr/bin/env python3
"""Golden test of the OCR application: `avflow ocr --json` against
rapidocr-onnxruntime 1.4.4 (ocr_reference.py) on the same images and
models. Every image must give the same number of lines, each reference line
must be matched by an avflow line with exactly the same text and a box of
polygon IoU >= 0.9. Prints the per-line IoUs and scores.

Besides the given images it checks flat variants of each single-line image
(line_*.png widened with white to 10x its height): rapidocr letterboxes
images with w/h > 8, and so must avflow (--no-derived leaves them out).

Exit 77 (skipped) when the models, images or rapidocr are missing.

usage: test_ocr_golden.py --avflow BIN --models DIR [--device cpu|cuda:N]
                          [--fp16] IMAGE...
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
MIN_IOU = 0.9


def iou(a, b):
    from shapely.geometry import Polygon
    pa, pb = Polygon(a), Polygon(b)
    if not pa.is_valid or not pb.is_valid:
        return 0.0
    u = pa.union(pb).area
    return pa.intersection(pb).area / u if u > 0 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avflow", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--max-side", type=int, default=960)
    ap.add_argument("--no-derived", action="store_true")
    ap.add_argument("images", nargs="*")
    a = ap.parse_args()
    imgs = [f for f in a.images if os.path.exists(f)]
    tmp = tempfile.mkdtemp(prefix="ocr_golden_")
    if imgs and not a.no_derived:
        from PIL import Image
        for f in list(imgs):
            if os.path.basename(f).startswith("line_"):
                im = Image.open(f).convert("RGB")
                flat = Image.new("RGB", (im.height * 10, im.height), (255, 255, 255))
                flat.paste(im, (0, 0))
                out = os.path.join(tmp, "flat_" + os.path.basename(f))
                flat.save(out)
                imgs.append(out)
    need = ["ppocr_v4_det.onnx", "ppocr_v4_rec.onnx", "ppocr_mobile_v2_cls.onnx"]
    if not imgs or not all(os.path.exists(os.path.join(a.models, m)) for m in need):
        print("SKIP: models or images missing (scripts/fetch-models.sh, scripts/make-test-data.sh)")
        return SKIP
    try:
        import rapidocr_onnxruntime  # noqa: F401
        import shapely  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {e} (pip install -r scripts/requirements-test.txt)")
        return SKIP
    sys.path.insert(0, HERE)
    import ocr_reference

    try:
        return compare(a, imgs, ocr_reference)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compare(a, imgs, ocr_reference):
    ref = ocr_reference.run(a.models, a.max_side, imgs)
    cmd = [a.avflow, "ocr", "--json", "--models", a.models, "--device", a.device,
           "--max-side", str(a.max_side)] + (["--fp16"] if a.fp16 else []) + imgs
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        print(f"FAIL: {' '.join(cmd)} exited {p.returncode}")
        return 1
    got = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if len(got) != len(ref):
        print(f"FAIL: {len(got)} results for {len(ref)} images")
        return 1
    fails, ious = 0, []
    for r, g in zip(ref, got):
        name = os.path.basename(r["file"])
        if (g["width"], g["height"]) != (r["width"], r["height"]):
            print(f"FAIL {name}: size {g['width']}x{g['height']} vs {r['width']}x{r['height']}")
            fails += 1
        if len(g["lines"]) != len(r["lines"]):
            print(f"FAIL {name}: {len(g['lines'])} lines, rapidocr {len(r['lines'])}")
            fails += 1
        used = set()
        for rl in r["lines"]:
            best, bi = -1.0, -1
            for i, gl in enumerate(g["lines"]):
                if i not in used:
                    v = iou(rl["box"], gl["box"])
                    if v > best:
                        best, bi = v, i
            if bi < 0:
                print(f"FAIL {name}: no line for '{rl['text']}'")
                fails += 1
                continue
            used.add(bi)
            gl = g["lines"][bi]
            ious.append(best)
            ok = gl["text"] == rl["text"] and best >= MIN_IOU
            print(f"{'ok  ' if ok else 'FAIL'} {name}: iou {best:.3f}  score {gl['score']:.3f} "
                  f"(rapidocr {rl['score']:.3f})  '{gl['text']}'"
                  + ("" if gl["text"] == rl["text"] else f" vs '{rl['text']}'"))
            fails += not ok
    if ious:
        print(f"lines {len(ious)}, IoU min {min(ious):.3f} mean {sum(ious) / len(ious):.3f}")
    print("PASS" if fails == 0 else f"FAIL: {fails} mismatches")
    return 0 if fails == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
