"""Intensity of synthetic images against real ones (benchmark helper).

    /usr/bin/python3 tests/bench/syn_stats.py SYN.ms

SYN.ms is ms-sample's output: real samples followed by their synthetic ones (image
metadata of=<id>). Prints the mean intensity of the real and of the synthetic images,
their difference, and the 5/50/95th percentiles of each (the intensity histogram in
three numbers).
"""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/ref")
from msstream import read  # noqa: E402

real, syn = [], []
with open(sys.argv[1], "rb") as f:
    for name, meta, a in read(f):
        if name == "image":
            (syn if "of" in meta else real).append(np.asarray(a, np.float64).ravel())
r, s = np.concatenate(real), np.concatenate(syn)
print(f"images real {len(real)} synthetic {len(syn)}")
print(f"mean real {r.mean():.4f} synthetic {s.mean():.4f} diff {s.mean() - r.mean():+.4f}")
print("p5/p50/p95 real " + "/".join(f"{v:.3f}" for v in np.percentile(r, [5, 50, 95])) +
      " synthetic " + "/".join(f"{v:.3f}" for v in np.percentile(s, [5, 50, 95])))
