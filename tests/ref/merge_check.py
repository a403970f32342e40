"""Independent checks of ms-merge-mask output (reads streams with msstream.py).

    merge_check.py cells OUT [--patch P] [--flips]   cells P x P, aligned, cropped
    merge_check.py binom [--patch P] OUT ALPHA...    real-cell fraction in a 99% interval
    merge_check.py same A B                          per-id grids equal (any order)
    merge_check.py differ A B                        grids differ between the streams
    merge_check.py subset A B                        A holds whole samples of B, bytes equal
    merge_check.py apply IN OUT SYNTH                image == M*real + (1-M)*synth
    merge_check.py passthrough IN OUT [--name N] [--except R]
                                                     other records byte for byte

Without --patch the patch is the documented default ceil(min(H,W)/6). Exit 1 on failure.
"""
import argparse
import math
import sys

import numpy as np

import msstream
from msstream import read

HEAD = msstream.HEAD


def fail(msg):
    sys.exit(f"merge_check: {msg}")


def samples(path, name="merge"):
    """[(id, {record name: array}, [names in order])] in stream order"""
    out = []
    with open(path, "rb") as f:
        for rname, meta, a in read(f):
            rid = meta.get("id", "")
            if not out or out[-1][0] != rid:
                out.append((rid, {}, []))
            out[-1][1].setdefault(rname, a)
            out[-1][2].append(rname)
    return out


def grids(path, name="merge"):
    g = {}
    for rid, recs, names in samples(path):
        if name in recs:
            g[rid] = recs[name]
    return g


def patch_of(H, W, p):
    return p if p else max(1, math.ceil(min(H, W) / 6))


def cell_values(m, P):
    """the cells of one [1,H,W] grid, checking that every pixel equals the top-left pixel
    of its P x P cell (cells cropped at the border); returns a 2-D array of cells"""
    _, H, W = m.shape
    cells = m[0, ::P, ::P]
    up = np.repeat(np.repeat(cells, P, axis=0), P, axis=1)[:H, :W]
    bad = np.argwhere(up != m[0])
    if len(bad):
        y, x = bad[0]
        fail(f"pixel ({y},{x}) differs from its {P}x{P} cell ({y // P},{x // P})")
    return cells


def cmd_cells(a):
    seen = 0
    flips = {}
    for rid, recs, names in samples(a.out):
        size = next((recs[n].shape for n in names if n in ("image", "mask")), None)
        if size is None:
            if "merge" in recs:
                fail(f"sample {rid}: merge record without image or mask")
            continue
        if names[-1] != "merge" or names.count("merge") != 1:
            fail(f"sample {rid}: merge is not the one last record: {names}")
        m = recs["merge"]
        H, W = size[1], size[2]
        if m.dtype != np.uint8 or m.shape != (1, H, W):
            fail(f"sample {rid}: merge is {m.dtype} {m.shape}, want uint8 (1,{H},{W})")
        if not set(np.unique(m)) <= {0, 1}:
            fail(f"sample {rid}: values other than 0/1")
        P = patch_of(H, W, a.patch)
        c = cell_values(m, P)
        # neighbouring cells must differ somewhere, or cells could be larger than P
        f = flips.setdefault((H, W, P), [np.zeros(c.shape[0] - 1, bool),
                                         np.zeros(c.shape[1] - 1, bool)])
        f[0] |= (c[1:] != c[:-1]).any(axis=1)
        f[1] |= (c[:, 1:] != c[:, :-1]).any(axis=0)
        seen += 1
    if a.flips:
        for key, (fr, fc) in flips.items():
            if not (fr.all() and fc.all()):
                fail(f"size/patch {key}: some cell boundary never changes value")
    print(f"cells: {seen} grids ok")


def cmd_binom(a):
    from scipy.stats import binom
    if len(a.pairs) % 2:
        fail("binom wants pairs OUT ALPHA")
    for out, alpha in zip(a.pairs[::2], map(float, a.pairs[1::2])):
        n = k = 0
        for rid, m in grids(out).items():
            c = cell_values(m, patch_of(m.shape[1], m.shape[2], a.patch))
            n += c.size
            k += int(c.sum())
        lo, hi = binom.interval(0.99, n, alpha)
        if alpha in (0, 1):   # exact: no real cell, or no synthetic one
            lo = hi = n * alpha
        print(f"alpha {alpha}: {k} real of {n} cells = {k / n:.4f}, "
              f"99% interval [{int(lo)}, {int(hi)}]")
        if not lo <= k <= hi:
            fail("real-cell count outside the 99% binomial interval")


def cmd_same(a):
    ga, gb = grids(a.a), grids(a.b)
    if sorted(ga) != sorted(gb) or not ga:
        fail("the streams hold different ids")
    for rid in ga:
        if not np.array_equal(ga[rid], gb[rid]):
            fail(f"sample {rid}: grids differ")
    print(f"same: {len(ga)} grids equal")


def cmd_differ(a):
    ga, gb = grids(a.a), grids(a.b)
    same = sum(np.array_equal(ga[r], gb[r]) for r in ga)
    distinct = len({ga[r].tobytes() for r in ga})
    print(f"differ: {same} of {len(ga)} grids equal, {distinct} distinct grids in A")
    if same == len(ga) or distinct < 2:
        fail("grids do not depend on the seed or on the sample id")


def cmd_apply(a):
    sin, sout = samples(a.inp), samples(a.out)
    if [s[0] for s in sin] != [s[0] for s in sout]:
        fail("sample ids differ")
    for (rid, ri, ni), (_, ro, no) in zip(sin, sout):
        if no != ni + ["merge"]:
            fail(f"sample {rid}: records {no}, want {ni} + merge")
        m = ro["merge"].astype(bool)
        want = np.where(m, ri["image"], ri[a.synth])
        if ro["image"].dtype != np.float32 or not np.array_equal(ro["image"], want):
            fail(f"sample {rid}: image != M*real + (1-M)*synth")
        for n in ni:
            if n != "image" and not np.array_equal(ro[n], ri[n]):
                fail(f"sample {rid}: record {n} changed")
    print(f"apply: {len(sin)} samples ok")


def raw_records(path):
    return list(msstream.raw_records(open(path, "rb").read()))


def cmd_passthrough(a):
    rin = [r for r in raw_records(a.inp) if r[0] not in a.exc]
    rout = [r for r in raw_records(a.out) if r[0] != a.name and r[0] not in a.exc]
    if rin != rout:
        fail("records other than the new ones are not passed through byte for byte")
    print(f"passthrough: {len(rin)} records identical")


def cmd_subset(a):
    """A holds whole samples of B, byte for byte, in B's order"""
    ra, rb = raw_records(a.a), raw_records(a.b)
    it = iter(rb)
    if not all(any(r == q for q in it) for r in ra):
        fail("records of A are not records of B in order")
    ida = {ms_id(r[1]) for r in ra}
    for rid in ida:
        if [r for r in ra if ms_id(r[1]) == rid] != [r for r in rb if ms_id(r[1]) == rid]:
            fail(f"sample {rid} is not whole")
    print(f"subset: {len(ra)} records, {len(ida)} whole samples")


def ms_id(raw):
    f = HEAD.unpack_from(raw)
    meta = raw[48 + f[9]:48 + f[9] + f[11]].decode().splitlines()
    return dict(l.split("=", 1) for l in meta).get("id", "")


ap = argparse.ArgumentParser()
sub = ap.add_subparsers(dest="cmd", required=True)
p = sub.add_parser("cells"); p.add_argument("out"); p.add_argument("--patch", type=int)
p.add_argument("--flips", action="store_true")
p = sub.add_parser("binom"); p.add_argument("pairs", nargs="+")
p.add_argument("--patch", type=int)
for c in ("same", "differ", "subset"):
    p = sub.add_parser(c); p.add_argument("a"); p.add_argument("b")
p = sub.add_parser("apply"); p.add_argument("inp"); p.add_argument("out"); p.add_argument("synth")
p = sub.add_parser("passthrough"); p.add_argument("inp"); p.add_argument("out")
p.add_argument("--name", default="merge"); p.add_argument("--except", dest="exc", default=[],
                                                          action="append")
a = ap.parse_args()
globals()["cmd_" + a.cmd](a)
