"""Write an ms stream from PNG files for the ms-edges tests (independent of ms-import).

usage: edges_make.py [--extra] [--compress] [--size N] OUT IMAGE[:MASK]...
Each IMAGE becomes an `image` record (f32 [C,H,W], value/255, C = 1 or 3) with id = file
stem; MASK (if given) a `mask` record (u8 [1,H,W], 0/1). --extra adds a `note` record
(i32) before the image and an `aux` record (f32, zlib) after it to test pass-through.
--size N resizes images (and masks, nearest) to N x N.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from msstream import write  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", action="store_true")
    ap.add_argument("--compress", action="store_true")
    ap.add_argument("--size", type=int)
    ap.add_argument("out")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    with open(a.out, "wb") as f:
        for arg in a.files:
            img_path, _, mask_path = arg.partition(":")
            sid = os.path.splitext(os.path.basename(img_path))[0]
            im = cv2.imread(img_path, cv2.IMREAD_UNCHANGED)
            if im is None:
                sys.exit(f"cannot read {img_path}")
            if a.size:
                im = cv2.resize(im, (a.size, a.size), interpolation=cv2.INTER_CUBIC)
            if im.ndim == 2:
                chw = im[None]
            else:
                chw = cv2.cvtColor(im, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
            meta = {"id": sid, "source": img_path}
            if a.extra:
                write(f, "note", {"id": sid}, np.arange(5, dtype=np.int32))
            write(f, "image", meta, chw.astype(np.float32) / 255, compress=a.compress)
            if mask_path:
                m = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
                if a.size:
                    m = cv2.resize(m, (a.size, a.size), interpolation=cv2.INTER_NEAREST)
                write(f, "mask", {"id": sid}, (m > 127).astype(np.uint8)[None])
            if a.extra:
                write(f, "aux", {"id": sid, "k": "v"}, np.full((2, 3), 0.5, np.float32),
                      compress=True)


main()
