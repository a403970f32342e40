"""Independent reference for ms-score: recompute every metric of a stream and compare
with ms-score's TSV table.

    score_ref.py MODE STREAM TABLE [MODE-ARGS]
      masks  [THRESHOLD]      pred (u8 nonzero) or prob (f32 >= THRESHOLD) against mask
      images A B              PSNR, SSIM (skimage), MS-SSIM (numpy, below)
      diversity NAME          mean pairwise MS-SSIM of all records NAME

Prints the largest absolute difference per column and exits 1 when one exceeds its
tolerance (overlap 1e-6, HD95/ASSD 1e-4, PSNR 1e-4, SSIM/MS-SSIM 1e-4). Rows must match
by id, and the summary rows mean, std, median, n are checked too.
"""
import os
import sys

import numpy as np
from scipy import ndimage, signal
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from msstream import read  # noqa: E402

TOL = {"dice": 1e-6, "iou": 1e-6, "precision": 1e-6, "recall": 1e-6, "specificity": 1e-6,
       "accuracy": 1e-6, "hd95": 1e-4, "assd": 1e-4, "psnr": 1e-4, "ssim": 1e-4,
       "msssim": 1e-4, "mean": 1e-4, "std": 1e-4, "median": 1e-4}


def samples(path):
    cur, recs = None, {}
    for name, meta, a in read(open(path, "rb")):
        sid = meta.get("id", "")
        if recs and sid != cur:
            yield cur, recs
            recs = {}
        cur = sid
        recs.setdefault(name, (meta, a))
    if recs:
        yield cur, recs


# ---- masks
def ratio(num, den, same):
    return num / den if den else float(same)


def boundary(m):
    # foreground pixels whose 4-neighbourhood is not all foreground (outside = background)
    return m & ~ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(2, 1),
                                       border_value=0)


def surface(a, b, spacing):
    if not a.any() and not b.any():
        return 0.0, 0.0
    if not a.any() or not b.any():
        return np.nan, np.nan
    ba, bb = boundary(a), boundary(b)
    da = ndimage.distance_transform_edt(~bb, sampling=spacing)[ba]
    db = ndimage.distance_transform_edt(~ba, sampling=spacing)[bb]
    d = np.concatenate([da, db])
    return np.percentile(d, 95), d.mean()


def mask_row(recs, thr):
    if "mask" not in recs or ("pred" not in recs and "prob" not in recs):
        return None
    meta, ref = recs["mask"]
    pmeta, p = recs["pred"] if "pred" in recs else recs["prob"]
    a = (p >= thr) if p.dtype == np.float32 else (p != 0)
    b = ref != 0
    a, b = a.reshape(a.shape[-2:]), b.reshape(b.shape[-2:])
    sp = meta.get("spacing") or pmeta.get("spacing") or "1,1"
    spacing = tuple(float(x) for x in sp.split(","))
    tp, fp = int((a & b).sum()), int((a & ~b).sum())
    fn, tn = int((~a & b).sum()), int((~a & ~b).sum())
    same = fp == 0 and fn == 0
    hd, assd = surface(a, b, spacing)
    return [ratio(2 * tp, 2 * tp + fp + fn, same), ratio(tp, tp + fp + fn, same),
            ratio(tp, tp + fp, same), ratio(tp, tp + fn, same), ratio(tn, tn + fp, same),
            (tp + tn) / a.size, hd, assd]


# ---- images: MS-SSIM written from Wang et al. 2003, independently of ms-score
WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def window():
    x = np.arange(11) - 5.0
    g = np.exp(-x ** 2 / (2 * 1.5 ** 2))
    w = np.outer(g, g)
    return w / w.sum()


def ssim_cs(x, y):
    """mean SSIM and mean contrast-structure over all valid 11x11 windows"""
    w = window()

    def filt(img):   # the 2-D window at every position where it fits (it is symmetric)
        return signal.fftconvolve(img, w, mode="valid")
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2, filt(x * y) - mx * my
    cs = (2 * cxy + c2) / (vx + vy + c2)
    lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    return (lum * cs).mean(), cs.mean()


def msssim(a, b):
    h, w = a.shape[-2:]
    m = 0
    while m < 5 and min(h >> m, w >> m) >= 11:
        m += 1
    wt = np.array(WEIGHTS[:m]) / sum(WEIGHTS[:m])
    vals = []
    for x, y in zip(a.astype(np.float64), b.astype(np.float64)):
        v = 1.0
        for i in range(m):
            s, cs = ssim_cs(x, y)
            v *= max(cs if i < m - 1 else s, 0) ** wt[i]
            hh, ww = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
            x = x[:hh, :ww].reshape(hh // 2, 2, ww // 2, 2).mean(axis=(1, 3))
            y = y[:hh, :ww].reshape(hh // 2, 2, ww // 2, 2).mean(axis=(1, 3))
        vals.append(v)
    return float(np.mean(vals))


def image_row(recs, na, nb):
    if na not in recs or nb not in recs:
        return None
    a, b = recs[na][1].astype(np.float64), recs[nb][1].astype(np.float64)
    psnr = peak_signal_noise_ratio(a, b, data_range=1)
    ssim = structural_similarity(a, b, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=1)
    return [psnr, ssim, msssim(a, b)]


def summary(rows):
    cols = np.array(rows, dtype=np.float64).T
    out = {}
    for name, f in [("mean", np.mean), ("std", np.std), ("median", np.median),
                    ("n", len)]:
        out[name] = [f(c[~np.isnan(c)]) if (~np.isnan(c)).any() else np.nan for c in cols]
    return out


def compare(table, ref):
    lines = [l.split("\t") for l in open(table).read().splitlines()]
    head = lines[0][1:]
    got = {l[0]: [float(x) for x in l[1:]] for l in lines[1:]}
    if set(got) != set(ref):
        print("rows differ:", sorted(set(got) ^ set(ref)))
        return 1
    bad = 0
    for j, col in enumerate(head):
        for kind in ("samples", "summary"):
            keys = [k for k in ref if (k in ("mean", "std", "median", "n")) == (kind == "summary")]
            diffs = []
            for k in keys:
                g, r = got[k][j], ref[k][j]
                if np.isnan(g) and np.isnan(r) or g == r:
                    diffs.append(0.0)
                else:
                    diffs.append(abs(g - r))
            mx = max(diffs) if diffs else 0.0
            tol = TOL[col] if kind == "samples" else TOL["mean"]
            print(f"{col}\t{kind}\tmax_abs_diff={mx:.3g}\ttol={tol:g}\tn={len(keys)}")
            bad |= not mx <= tol
    return bad


def main():
    mode, stream, table = sys.argv[1:4]
    args = sys.argv[4:]
    ref = {}
    if mode == "diversity":
        imgs = [a.astype(np.float64) for name, meta, a in read(open(stream, "rb"))
                if name == args[0]]
        v = [msssim(imgs[i], imgs[j]) for i in range(len(imgs)) for j in range(i + 1, len(imgs))]
        lines = open(table).read().splitlines()
        got = dict(zip(lines[0].split("\t"), lines[1].split("\t")))
        want = {"images": len(imgs), "pairs": len(v), "mean": np.mean(v), "std": np.std(v),
                "median": np.median(v)}
        bad = 0
        for k, r in want.items():
            d = abs(float(got[k]) - r)
            print(f"{k}\tmax_abs_diff={d:.3g}")
            bad |= not d <= 1e-4
        return bad
    for sid, recs in samples(stream):
        row = mask_row(recs, float(args[0]) if args else 0.5) if mode == "masks" \
            else image_row(recs, args[0], args[1])
        if row is not None:
            ref[sid or "-"] = row
    ref.update(summary(list(ref.values())))
    return compare(table, ref)


if __name__ == "__main__":
    sys.exit(main())
