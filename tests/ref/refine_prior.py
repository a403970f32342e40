"""Appends a synthetic prior to every sample with a mask: prob = a blurred, noisy mask
(sigmoid of a smoothed logit, deterministic for a seed), and pred = prob > 0.5, as
ms-segment -m would. Usage: refine_prior.py [SEED] <in.ms >out.ms"""
import sys

import numpy as np
from scipy.ndimage import gaussian_filter

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from msstream import read, write  # noqa: E402

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
out = sys.stdout.buffer
recs = list(read(sys.stdin.buffer))
i = 0
while i < len(recs):
    sid = recs[i][1].get("id", "")
    j = i
    while j < len(recs) and recs[j][1].get("id", "") == sid:
        j += 1
    mask = None
    for name, meta, a in recs[i:j]:
        write(out, name, meta, a)
        if name == "mask":
            mask = a
    if mask is not None:
        z = 4.0 * (mask[0].astype(np.float64) - 0.5) + rng.normal(0, 1.5, mask.shape[1:])
        p = 1 / (1 + np.exp(-gaussian_filter(z, 1.0)))
        write(out, "prob", {"id": sid}, p[None].astype(np.float32))
        write(out, "pred", {"id": sid}, (p[None] > 0.5).astype(np.uint8))
    i = j
