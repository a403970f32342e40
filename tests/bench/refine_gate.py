"""Refine only where the prior is unsure: mean Dice of a gated refinement as the gate
opens, from one ms-refine output stream (records mask, prob, prior, uncertainty).

    /usr/bin/python3 tests/bench/refine_gate.py REFINED.ms

Gate g on the prior: a pixel takes the refiner's prob where |prior - 0.5| < g and keeps
the prior elsewhere (g = 0: the segmentor alone; g = 0.5: the refiner everywhere).
Gate u on the refiner's spread: the refiner's prob where its uncertainty (the standard
deviation over the K runs) is at most u, the prior elsewhere. Each line: the gate, mean
Dice over the samples (an empty mask and an empty prediction score 1), the fraction of
pixels whose prediction differs from the prior's. Choose a gate on a validation split.
"""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/ref")
from msstream import read  # noqa: E402


def dice(a, b):
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2.0 * (a & b).sum() / s


samples = {}
for name, meta, a in read(open(sys.argv[1], "rb")):
    samples.setdefault(meta.get("id"), {})[name] = a.reshape(a.shape[-2:])
rows = [s for s in samples.values() if all(k in s for k in ("mask", "prob", "prior"))]
if not rows:
    sys.exit("refine_gate.py: no sample has mask, prob and prior")
print(f"samples {len(rows)}")


def report(label, gate):
    d, changed, n = [], 0, 0
    for s in rows:
        y, prior = s["mask"] > 0, s["prior"] > 0.5
        pred = np.where(gate(s), s["prob"] > 0.5, prior)
        d.append(dice(pred, y))
        changed += (pred != prior).sum()
        n += y.size
    print(f"{label}\tdice {np.mean(d):.4f}\tchanged {changed / n:.4f}")


for g in (0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5):
    report(f"prior gate {g}", lambda s, g=g: np.abs(s["prior"] - 0.5) < g)
if all("uncertainty" in s for s in rows):
    for u in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5):
        report(f"spread gate {u}", lambda s, u=u: s["uncertainty"] <= u)
