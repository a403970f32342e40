"""Reference binary morphology from OpenCV for tests/unit/test_image_morph (morph.h).

Prints, per case, a line "H W K" and then four lines of H*W digits 0/1: the input mask,
cv2.dilate, cv2.erode and cv2.morphologyEx(MORPH_OPEN) with
cv2.getStructuringElement(MORPH_ELLIPSE, (K, K)) and default anchor and borders; then
"ellipse K" lines with the element's rows as digits. Fixed seed, no arguments.
"""
import sys

import cv2
import numpy as np

rng = np.random.default_rng(20)
cases = [(7, 9, 1), (12, 12, 3), (16, 20, 4), (16, 16, 5), (30, 25, 8), (40, 40, 10),
         (64, 64, 20), (64, 48, 16), (5, 5, 9)]
out = sys.stdout
for H, W, K in cases:
    # blobs plus specks: smooth random field thresholded, then salt
    f = rng.standard_normal((H, W)).astype(np.float32)
    f = cv2.GaussianBlur(f, (0, 0), 2.0)
    m = (f > 0.1).astype(np.uint8)
    m[rng.random((H, W)) < 0.03] = 1
    el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (K, K))
    res = [m, cv2.dilate(m, el), cv2.erode(m, el), cv2.morphologyEx(m, cv2.MORPH_OPEN, el)]
    out.write(f"{H} {W} {K}\n")
    for a in res:
        out.write("".join("1" if v else "0" for v in a.ravel()) + "\n")
for K in (1, 2, 3, 4, 5, 8, 16, 20):
    el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (K, K))
    out.write(f"ellipse {K} " + " ".join("".join(str(v) for v in row) for row in el) + "\n")
