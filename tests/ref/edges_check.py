"""Run ms-edges and check its output against independent references (numpy, scipy, OpenCV).

usage: edges_check.py [--min-f1 F] [--tol T] [--expect-fail] IN CASE...
Each CASE is a string of ms-edges options (-m/--method, -s/--sigma, --operator, --low,
--high, --l2), optionally followed by "! OPTIONS" for the reference when it should differ.
ms-edges (from PATH) runs on the stream IN with those options; its output is compared
with the reference: canny against cv2.Canny of the same smoothed 8-bit image (F1 of edge
pixels >= F, default 0.95), mask exactly against scipy's convolve2d, soft and diffboost
against scipy to T (default 1e-5). Also checked: the output is IN with one `edges`
record appended at the end of every sample that has an image, the rest unchanged.
Prints one line per sample and case; exit 1 if a case fails (with --expect-fail: if
any case passes).

usage: edges_check.py --strip NAME IN OUT   write IN without records named NAME (raw bytes)
"""
import argparse
import io
import math
import os
import shlex
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from msstream import raw_records, read  # noqa: E402
# scipy and cv2 are imported where used, so that --strip starts fast

def luma(img):
    img = img.astype(np.float64)
    if img.shape[0] == 3:
        return 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]
    return img[0]


def smooth(x, sigma):
    from scipy import ndimage
    if sigma <= 0:
        return x
    return ndimage.gaussian_filter(x, sigma, mode="reflect", radius=math.ceil(3 * sigma))


def soft(img, a):
    from scipy import ndimage
    s = smooth(luma(img), a.sigma)
    if a.operator == "scharr":
        kx = np.array([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]], np.float64)
        gx = ndimage.correlate(s, kx, mode="reflect")
        gy = ndimage.correlate(s, kx.T, mode="reflect")
    else:
        gx = ndimage.sobel(s, axis=1, mode="reflect")
        gy = ndimage.sobel(s, axis=0, mode="reflect")
    m = np.hypot(gx, gy)
    return m / m.max() if m.max() > 0 else m


def band(mask):
    from scipy import signal
    k = np.array([[-3 - 3j, -10j, 3 - 3j], [-10, 0, 10], [-3 + 3j, 10j, 3 + 3j]])
    g = signal.convolve2d(mask[0].astype(np.float64), k, boundary="symm", mode="same")
    return (np.abs(g) != 0).astype(np.float64)


def canny(img, a):
    import cv2
    s = smooth(luma(img), a.sigma)
    q = np.floor(np.clip(s * 255 + 0.5, 0, 255)).astype(np.uint8)
    return cv2.Canny(q, a.low, a.high, L2gradient=a.l2) > 0


def f1(ours, ref):
    tp = np.sum(ours & ref)
    n = ours.sum() + ref.sum()
    return 1.0 if n == 0 else 2 * tp / n


def samples(recs):
    out, cur = [], None
    for r in recs:
        sid = r[1].get("id", "")
        if cur is None or sid != cur:
            out.append([])
            cur = sid
        out[-1].append(r)
    return out


def edges_options(words):
    ap = argparse.ArgumentParser(prog="ms-edges")
    ap.add_argument("-m", "--method", default="diffboost")
    ap.add_argument("-s", "--sigma", type=float, default=1.0)
    ap.add_argument("--operator", default="sobel")
    ap.add_argument("--low", type=float, default=50)
    ap.add_argument("--high", type=float, default=150)
    ap.add_argument("--l2", action="store_true")
    ap.add_argument("--near", type=int, default=0)
    return ap.parse_args(words)


def near(mask, r):
    """pixels within r (Chebyshev) of the band: its dilation by a (2r+1)^2 square"""
    from scipy import ndimage
    return ndimage.binary_dilation(band(mask) > 0, structure=np.ones((2 * r + 1, 2 * r + 1)))


def check_case(inp_bytes, case, a):
    words = shlex.split(case)
    ours, _, refw = case.partition("!")
    ours = shlex.split(ours)
    o = edges_options(ours)
    r = edges_options(shlex.split(refw)) if refw else o
    out = subprocess.run(["ms-edges"] + ours, input=inp_bytes, capture_output=True, check=True).stdout
    print(f"== ms-edges {' '.join(words)}")
    return check(list(read(io.BytesIO(inp_bytes))), list(read(io.BytesIO(out))), o, r, a)


def check(inp, outp, o, r, a):
    method = o.method
    ok = True
    inp = samples(inp)
    outp = samples(outp)
    if len(inp) != len(outp):
        print(f"FAIL: {len(inp)} samples in, {len(outp)} out")
        return False
    for si, so in zip(inp, outp):
        d = {n: x for n, _, x in si}
        sid = si[0][1].get("id", "")
        if "image" not in d or (o.near and "mask" not in d):
            if len(so) != len(si):
                print(f"FAIL {sid}: sample without image (or, with --near, mask) changed")
                ok = False
            continue
        name, meta, e = so[-1]
        if len(so) != len(si) + 1 or name != "edges" or meta.get("id", "") != sid or \
                meta.get("edges") != method:
            print(f"FAIL {sid}: expected an edges record at the end of the sample, got {name} {meta}")
            ok = False
            continue
        for (n1, m1, x1), (n2, m2, x2) in zip(si, so):
            if n1 != n2 or m1 != m2 or x1.dtype != x2.dtype or not np.array_equal(x1, x2):
                print(f"FAIL {sid}: record {n1} changed")
                ok = False
        img = d["image"]
        if e.shape != (1,) + img.shape[1:] or e.dtype != np.float32:
            print(f"FAIL {sid}: edges shape {e.shape} {e.dtype}")
            ok = False
            continue
        e = e[0].astype(np.float64)
        if r.method == "canny":
            if not np.all((e == 0) | (e == 1)):
                print(f"FAIL {sid}: canny output not binary")
                ok = False
            ref = canny(img, r)
            if r.near:
                ref &= near(d["mask"], r.near)
            v = f1(e > 0, ref)
            print(f"{sid}\tF1 {v:.5f}\tedge pixels ours {int((e > 0).sum())} opencv {int(ref.sum())}")
            ok &= v >= a.min_f1
        elif r.method == "mask":
            ref = band(d["mask"])
            if r.near:
                ref *= near(d["mask"], r.near)
            v = int(np.sum(e != ref))
            print(f"{sid}\tpixels differing {v} of {e.size}, band {int(ref.sum())}")
            ok &= v == 0
        else:
            ref = soft(img, r)
            if r.method == "diffboost" and "mask" in d:
                ref = np.minimum(1, ref + band(d["mask"]))
            if r.near and "mask" in d:
                ref = ref * near(d["mask"], r.near)
            v = float(np.abs(e - ref).max())
            print(f"{sid}\tmax abs difference {v:.3g}")
            ok &= v <= a.tol
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strip")
    ap.add_argument("--min-f1", type=float, default=0.95)
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--expect-fail", action="store_true")
    ap.add_argument("inp")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    if a.strip:
        data = open(a.inp, "rb").read()
        with open(a.cases[0], "wb") as f:
            for name, raw in raw_records(data):
                if name != a.strip:
                    f.write(raw)
        return 0
    data = open(a.inp, "rb").read()
    res = [check_case(data, c, a) for c in a.cases]
    if a.expect_fail:
        return 1 if any(res) else 0
    return 0 if all(res) else 1


sys.exit(main())
