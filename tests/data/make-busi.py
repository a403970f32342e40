"""Make tests/data/busi from BUSI (MS_DATA/busi, 256x256): each image and mask reduced to
96x96 (images area-averaged, masks area-averaged then thresholded at 128). Run once; the
results are committed. usage: make-busi.py DATA_DIR OUT_DIR"""
import os
import sys

import cv2

STEMS = ["benign_1", "benign_2", "benign_100", "malignant_10", "malignant_100",
         "malignant_115", "malignant_121"]
src, out = sys.argv[1], sys.argv[2]
for s in STEMS:
    im = cv2.imread(f"{src}/images/{s}.png", cv2.IMREAD_GRAYSCALE)
    m = cv2.imread(f"{src}/masks/{s}.png", cv2.IMREAD_GRAYSCALE)
    im = cv2.resize(im, (96, 96), interpolation=cv2.INTER_AREA)
    m = cv2.resize(m, (96, 96), interpolation=cv2.INTER_AREA)
    m = ((m >= 128) * 255).astype("uint8")
    for d, a in (("images", im), ("masks", m)):
        os.makedirs(f"{out}/{d}", exist_ok=True)
        cv2.imwrite(f"{out}/{d}/{s}.png", a, [cv2.IMWRITE_PNG_COMPRESSION, 9])
