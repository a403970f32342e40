"""Make tests/data/rgb: five synthetic colour images (96x96, colonoscopy-like: a shaded
pink wall with folds, one brighter blob with a highlight) and their masks (the blob).
Generated, not taken from any data set. Run once; the results are committed.
usage: make-rgb.py OUT_DIR"""
import os
import sys

import cv2
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(18)
y, x = np.mgrid[0:96, 0:96] / 95.0
for i in range(1, 6):
    cy, cx = rng.uniform(0.3, 0.7, 2)
    ry, rx = rng.uniform(0.1, 0.25, 2)
    t = rng.uniform(0, np.pi)
    dy, dx = y - cy, x - cx
    u, v = dx * np.cos(t) + dy * np.sin(t), -dx * np.sin(t) + dy * np.cos(t)
    r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    blob = np.clip(1.5 - 1.5 * r, 0, 1)                  # soft edge, 1 inside r < 1/3
    light = 1 - 0.6 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)  # vignetting
    folds = 0.08 * np.sin(rng.uniform(8, 20) * (x * np.cos(t) - y * np.sin(t)) + rng.uniform(0, 6))
    rgb = np.stack([0.80 + folds, 0.40 + folds, 0.35 + 0.5 * folds], -1) * light[..., None]
    rgb += blob[..., None] * np.array([0.1, 0.25, 0.15]) * light[..., None]
    hy, hx = cy - ry / 3, cx - rx / 3
    rgb += 0.5 * np.exp(-((y - hy) ** 2 + (x - hx) ** 2) / 0.0008)[..., None]
    rgb += rng.normal(0, 0.004, rgb.shape)
    img = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
    mask = ((r < 0.75) * 255).astype(np.uint8)
    for d, a in (("images", cv2.cvtColor(img, cv2.COLOR_RGB2BGR)), ("masks", mask)):
        os.makedirs(f"{out}/{d}", exist_ok=True)
        cv2.imwrite(f"{out}/{d}/polyp_{i}.png", a, [cv2.IMWRITE_PNG_COMPRESSION, 9])
