#!/usr/bin/python3
"""Check ms-import's slices of a NIfTI volume (stream on stdin) against nibabel.

usage: import_nifti.py [--clip LO,HI] VOLUME AXIS [MASK]
Every image record must equal the nibabel slice (file order: along z [y][x], along y
[z][x], along x [z][y]) min-max scaled over its 3-D volume (or clipped to numpy's
percentiles LO, HI of the volume and rescaled), within 1e-5, with the id,
slice, axis and spacing metadata ms-import(1) documents; with MASK every mask record must
be the mask volume's nonzero voxels. Exit 1 on mismatch.
"""
import os
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from import_check import read_stream  # noqa: E402


def main():
    args = sys.argv[1:]
    clip = None
    if args[0] == "--clip":
        clip = [float(v) for v in args[1].split(",")]
        args = args[2:]
    path, axis = args[0], args[1]
    ax = "xyz".index(axis)
    img = nib.load(path)
    vol = np.asarray(img.get_fdata(), dtype=np.float64)
    if vol.ndim == 3:
        vol = vol[..., None]
    zooms = [abs(float(z)) for z in img.header.get_zooms()[:3]]
    mask = None
    if len(args) > 2:
        mask = np.asarray(nib.load(args[2]).get_fdata())
        if mask.ndim == 3:
            mask = mask[..., None]
    stem = os.path.basename(path).split(".nii")[0]
    want = []
    nt = vol.shape[3]
    for t in range(nt):
        v = vol[..., t]
        lo, hi = np.percentile(v, clip) if clip else (v.min(), v.max())
        for k in range(v.shape[ax]):
            s = np.take(v, k, axis=ax).T
            s = (np.clip(s, lo, hi) - lo) / (hi - lo) if hi > lo else np.zeros_like(s)
            rest = [i for i in range(3) if i != ax]
            sp = "%.6g,%.6g" % (zooms[rest[1]], zooms[rest[0]])
            sid = "%s_t%d_s%d" % (stem, t, k) if nt > 1 else "%s_s%d" % (stem, k)
            want.append(("image", s, sid, k, sp))
            if mask is not None:
                m = np.take(mask[..., t if mask.shape[3] > 1 else 0], k, axis=ax).T
                want.append(("mask", (m != 0).astype(np.uint8), sid, k, sp))
    got = read_stream(sys.stdin.buffer)
    if len(got) != len(want):
        print("%d records, want %d" % (len(got), len(want)))
        return 1
    bad = 0
    for (name, arr, kv), (wname, w, sid, k, sp) in zip(got, want):
        ok = (name == wname and arr.shape == (1,) + w.shape and kv.get("id") == sid and
              kv.get("slice") == str(k) and kv.get("axis") == axis and kv.get("spacing") == sp)
        if ok:
            ok = abs(arr[0].astype(np.float64) - w).max() <= 1e-5
        if not ok:
            bad += 1
            print("MISMATCH %s %s %s: %s %s" % (sid, name, arr.shape, kv, sp))
    print("%d of %d records agree" % (len(want) - bad, len(want)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
