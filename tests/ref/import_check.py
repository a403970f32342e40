#!/usr/bin/python3
"""Check the records ms-import wrote (stream on stdin) against OpenCV / numpy.

usage: import_check.py IMAGE.png [MASK.png] [--size WxH] [--clip LO,HI]
The stream must hold one sample: an image record equal (within 1e-5) to the PNG read by
OpenCV (alpha dropped, grey kept grey, v / 255 or v / 65535), percentile-clipped with
numpy.percentile and rescaled to [0,1] when --clip is given, then resized with
cv2.INTER_LINEAR when --size is given; and, with MASK, a mask record equal to the mask's
nonzero pixels (any channel) resized with PyTorch's nearest-exact. Exit 1 on mismatch.
"""
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msstream  # noqa: E402


def read_stream(f):
    return [(name, arr, meta) for name, meta, arr in msstream.read(f)]


def load(path, grey_ok=True):
    im = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    ctype = open(path, "rb").read(26)[25]
    if im.ndim == 3:
        im = im[:, :, 0] if ctype in (0, 4) else im[:, :, 2::-1]
    return im


def nearest(m, size):
    """PyTorch's nearest-exact (source floor((x + 0.5) * in / out)); OpenCV's
    INTER_NEAREST_EXACT breaks ties the other way"""
    try:
        import torch
        import torch.nn.functional as F
        t = torch.from_numpy(m.astype(np.float32))[None, None]
        t = F.interpolate(t, size=(size[1], size[0]), mode="nearest-exact")
        return t[0, 0].numpy().astype(np.uint8)
    except ImportError:
        h, w = m.shape
        ys = np.minimum(np.floor((np.arange(size[1]) + 0.5) * h / size[1]), h - 1)
        xs = np.minimum(np.floor((np.arange(size[0]) + 0.5) * w / size[0]), w - 1)
        return m[ys.astype(int)][:, xs.astype(int)]


def main():
    args = sys.argv[1:]
    size = clip = None
    if "--size" in args:
        i = args.index("--size")
        size = tuple(int(v) for v in args[i + 1].split("x"))
        del args[i:i + 2]
    if "--clip" in args:
        i = args.index("--clip")
        clip = tuple(float(v) for v in args[i + 1].split(","))
        del args[i:i + 2]
    recs = read_stream(sys.stdin.buffer)
    byname = {name: arr for name, arr, _ in recs}
    im = load(args[0])
    a = im.astype(np.float32) / (65535 if im.dtype == np.uint16 else 255)
    if clip:
        lo, hi = np.percentile(a, clip)
        a = (np.clip(a, lo, hi) - lo) / (hi - lo)
    if size:
        a = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    got = byname["image"]
    bad = 0
    if got.shape != a.shape:
        print("image shape %s, want %s" % (got.shape, a.shape))
        bad = 1
    elif abs(got - a).max() > 1e-5:
        print("image differs by %g" % abs(got - a).max())
        bad = 1
    if len(args) > 1:
        m = load(args[1])
        m = (m.reshape(m.shape[0], m.shape[1], -1) != 0).any(axis=2).astype(np.uint8)
        if size:
            m = nearest(m, size)
        got = byname.get("mask")
        if got is None or got.shape != (1,) + m.shape or (got[0] != m).any():
            print("mask differs")
            bad = 1
    print("image%s: %s" % (" and mask" if len(args) > 1 else "", "FAIL" if bad else "ok"))
    return bad


if __name__ == "__main__":
    sys.exit(main())
