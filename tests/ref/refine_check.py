"""Checks ms-refine -m output against its input: per sample with image and prob, the
records are the input's in order with prob and pred replaced (pred = prob > 0.5, added
when absent), then uncertainty, prior (= the input prob), prior_pred (= the input pred);
prob in [0,1], uncertainty in [0,0.5]; every other record unchanged; samples without
prob unchanged. Usage: refine_check.py IN OUT K; prints "ok N" (N samples refined)."""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from msstream import read  # noqa: E402


def samples(path):
    s, cur = [], None
    for name, meta, a in read(open(path, "rb")):
        sid = meta.get("id", "")
        if not s or sid != cur:
            s.append([])
            cur = sid
        s[-1].append((name, meta, a))
    return s


inp, outp, K = samples(sys.argv[1]), samples(sys.argv[2]), int(sys.argv[3])
assert len(inp) == len(outp), "sample count"
refined = 0
for a, b in zip(inp, outp):
    names = [n for n, _, _ in a]
    if "image" not in names or "prob" not in names:
        assert len(a) == len(b) and all(x[0] == y[0] and np.array_equal(x[2], y[2])
                                        for x, y in zip(a, b)), "pass-through"
        continue
    refined += 1
    tail = ["uncertainty", "prior"] + (["prior_pred"] if "pred" in names else [])
    want = names + ([] if "pred" in names else ["pred"]) + tail
    assert [n for n, _, _ in b] == want, (want, [n for n, _, _ in b])
    got = {n: (m, x) for n, m, x in b}
    old = {n: x for n, _, x in a}
    p, u, pr = got["prob"][1], got["uncertainty"][1], got["pred"][1]
    assert p.dtype == np.float32 and p.shape == old["prob"].shape
    assert p.min() >= 0 and p.max() <= 1, "prob range"
    assert u.min() >= 0 and u.max() <= 0.5 + 1e-6, "uncertainty range"
    if K == 1:
        assert u.max() == 0, "one sample has no spread"
    assert pr.dtype == np.uint8 and np.array_equal(pr, (p > 0.5).astype(np.uint8)), "pred"
    assert np.array_equal(got["prior"][1], old["prob"]), "prior"
    if "pred" in names:
        assert np.array_equal(got["prior_pred"][1], old["pred"]), "prior_pred"
    for n, m, x in a:
        if n not in ("prob", "pred"):
            assert np.array_equal(got[n][1], x) and got[n][0] == m, n
print("ok", refined)
