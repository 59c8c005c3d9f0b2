#!/usr/bin/env python3
"""The OCR golden test's reference: rapidocr-onnxruntime 1.4.4 on the same
ONNX models avflow loads, with the det input limited the way avflow's
default is (the longer side at most --max-side, limit_type "max"; rapidocr's
own default upscales the shorter side to 736). Prints one JSON object per
image: {"file", "width", "height", "lines": [{"text", "score", "box"}]}.

usage: ocr_reference.py --models DIR [--max-side 960] IMAGE...
"""
import argparse
import json
import os
import sys


def run(models, max_side, files):
    from rapidocr_onnxruntime import RapidOCR
    import cv2

    eng = RapidOCR(
        det_model_path=os.path.join(models, "ppocr_v4_det.onnx"),
        rec_model_path=os.path.join(models, "ppocr_v4_rec.onnx"),
        cls_model_path=os.path.join(models, "ppocr_mobile_v2_cls.onnx"),
        det_limit_type="max",
        det_limit_side_len=max_side,
    )
    out = []
    for f in files:
        img = cv2.imread(f)
        res, _ = eng(img)
        lines = []
        for box, text, score in res or []:
            lines.append({"text": text, "score": float(score),
                          "box": [[float(x), float(y)] for x, y in box]})
        out.append({"file": f, "width": int(img.shape[1]), "height": int(img.shape[0]),
                    "lines": lines})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True)
    ap.add_argument("--max-side", type=int, default=960)
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    for r in run(a.models, a.max_side, a.images):
        print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
