"""Paired comparison of two ms-score tables of the same samples (benchmark helper).

    /usr/bin/python3 tests/bench/paired.py A.tsv[,A2.tsv...] B.tsv[,B2.tsv...] [STREAM.ms]

For dice, iou and hd95: mean of A, mean of B, mean of B - A with a 95% t interval and the
Wilcoxon signed-rank p, over samples scored in both (nan rows dropped per metric).
Several tables on a side (one per training seed, say) are averaged per sample first,
and each table's own mean is printed. With STREAM (holding each sample's `mask`), also
for the smallest third by mask area.
"""
import sys

import numpy as np
from scipy import stats

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/ref")
from msstream import read  # noqa: E402


def table(path):
    rows = {}
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            v = line.rstrip("\n").split("\t")
            if v[0] in ("mean", "std", "median", "n"):
                continue
            rows[v[0]] = {k: float(x) for k, x in zip(head[1:], v[1:])}
    return rows


def tables(arg):
    """the per-sample mean of comma-separated tables (each printed with its mean)"""
    ts = [table(p) for p in arg.split(",")]
    if len(ts) > 1:
        for p, t in zip(arg.split(","), ts):
            print(f"table\t{p}\tdice={np.nanmean([r['dice'] for r in t.values()]):.4f}")
    ids = [i for i in ts[0] if all(i in t for t in ts)]
    return {i: {m: float(np.mean([t[i][m] for t in ts])) for m in ts[0][i]} for i in ids}


def compare(a, b, ids, label):
    for m in ("dice", "iou", "hd95"):
        x = np.array([a[i][m] for i in ids])
        y = np.array([b[i][m] for i in ids])
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        d = y - x
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        p = stats.wilcoxon(d).pvalue if np.any(d != 0) else 1.0
        print(f"{label}\t{m}\tn={len(d)}\tA={x.mean():.4f}\tB={y.mean():.4f}\t"
              f"B-A={d.mean():+.4f} [{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]\t"
              f"wilcoxon_p={p:.3g}")


a, b = tables(sys.argv[1]), tables(sys.argv[2])
ids = [i for i in a if i in b]
compare(a, b, ids, "all")
if len(sys.argv) > 3:
    area = {}
    with open(sys.argv[3], "rb") as f:
        for name, meta, arr in read(f):
            if name == "mask":
                area[meta["id"]] = int(arr.sum())
    small = sorted((i for i in ids if i in area), key=lambda i: area[i])[:len(ids) // 3]
    compare(a, b, small, f"small(area<={max(area[i] for i in small)}px)")
