#!/usr/bin/python3
"""Independent check of ms-import | ms-export round trips, decoding with OpenCV.

usage: png_roundtrip.py BITS ORIG EXPORTED [ORIG EXPORTED ...]
BITS is 8 (default export) or 16 (ms-export --16). For each pair: the exported file must
be grey for grey / grey+alpha originals and RGB for RGB / RGBA / palette originals, and
hold the original's pixels (alpha dropped): exactly for 8-bit and smaller depths (grey
below 8 bits scaled to 0..255) and for 16-bit with BITS 16; round(v / 257) for 16-bit
originals with BITS 8. Prints one line per mismatch and a summary; exit 1 on mismatch.
"""
import sys

import cv2
import numpy as np


def ihdr(path):
    b = open(path, "rb").read(26)
    return b[24], b[25]          # bit depth, colour type


def rgb_or_grey(im, grey):
    if im.ndim == 3:
        im = im[:, :, 0] if grey else im[:, :, 2::-1]   # BGR(A) -> RGB
    return im


def main():
    bits = int(sys.argv[1])
    pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))
    bad = 0
    for orig, out in pairs:
        depth, ctype = ihdr(orig)
        grey = ctype in (0, 4)
        a = rgb_or_grey(cv2.imread(orig, cv2.IMREAD_UNCHANGED), grey).astype(np.int64)
        if depth == 16 and bits == 8:
            a = np.floor(a / 257 + 0.5).astype(np.int64)
        want_depth = 16 if depth == 16 and bits == 16 else 8
        odepth, octype = ihdr(out)
        b = cv2.imread(out, cv2.IMREAD_UNCHANGED)
        why = None
        if octype != (0 if grey else 2):
            why = "colour type %d for original type %d" % (octype, ctype)
        elif odepth != want_depth:
            why = "bit depth %d, want %d" % (odepth, want_depth)
        else:
            b = rgb_or_grey(b, grey).astype(np.int64)
            if a.shape != b.shape:
                why = "shape %s, want %s" % (b.shape, a.shape)
            elif (a != b).any():
                why = "%d pixels differ (max %d)" % ((a != b).sum(), abs(a - b).max())
        if why:
            bad += 1
            print("MISMATCH %s -> %s: %s" % (orig, out, why))
    print("%d of %d round trips exact" % (len(pairs) - bad, len(pairs)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
