"""Build ms-score test streams from the images of tests/data with msstream.py.

    score_make.py masks OUT      real masks vs perturbed predictions (busi, rgb)
    score_make.py images OUT     real images vs noisy / blurred / shifted versions
    score_make.py diversity OUT  a set of 'synth' images (crops of real ones)
    score_make.py random OUT     random sizes (1 to 69), densities, spacings; f32 prob
"""
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from msstream import write  # noqa: E402

# the small data sets of the repository
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../data")
def stems():
    pick = {"busi": ["benign_1", "benign_100", "malignant_115", "malignant_121"],
            "rgb": sorted(os.listdir(os.path.join(DATA, "rgb/masks")))[:4]}
    for ds, names in pick.items():
        for n in names:
            yield ds, n.replace(".png", "")


def mask(ds, stem):
    m = cv2.imread(f"{DATA}/{ds}/masks/{stem}.png", cv2.IMREAD_GRAYSCALE)
    return (m > 127).astype(np.uint8)


def image(ds, stem):
    im = cv2.imread(f"{DATA}/{ds}/images/{stem}.png", cv2.IMREAD_UNCHANGED)
    if im.ndim == 2:
        return (im[None] / 255.0).astype(np.float32)
    return (cv2.cvtColor(im, cv2.COLOR_BGR2RGB).transpose(2, 0, 1) / 255.0).astype(np.float32)


def shift(m, dy, dx):
    out = np.zeros_like(m)
    h, w = m.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        m[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def masks(f):
    k = np.ones((3, 3), np.uint8)
    all_stems = list(stems())
    for i, (ds, stem) in enumerate(all_stems):
        ref = mask(ds, stem)
        other = mask(*all_stems[(i + 1) % len(all_stems)])
        if other.shape != ref.shape:
            other = cv2.resize(other, ref.shape[::-1], interpolation=cv2.INTER_NEAREST)
        spacing = {"spacing": "0.5,0.8"} if i % 2 else {}
        preds = {"same": ref, "erode": cv2.erode(ref, k, iterations=2),
                 "dilate": cv2.dilate(ref, k, iterations=3), "shift": shift(ref, 5, -7),
                 "other": other, "empty": np.zeros_like(ref),
                 # many isolated pixels far from the lesion: ms-score's EDT fallback
                 "dots": ref[::-1, ::-1] & (np.indices(ref.shape).sum(0) % 2).astype(np.uint8)}
        for kind, p in preds.items():
            sid = f"{ds}/{stem}/{kind}"
            write(f, "image", {"id": sid}, np.zeros((1, 4, 4), np.float32))  # pass-through
            write(f, "mask", {"id": sid, **spacing}, ref[None])
            write(f, "pred", {"id": sid}, (p * 255)[None] if kind == "shift" else p[None])
        # prob: a blurred mask, with exact 0.5 values to pin down >=
        prob = cv2.GaussianBlur(ref.astype(np.float32), (0, 0), 3)
        prob[prob.shape[0] // 2, :] = 0.5
        sid = f"{ds}/{stem}/prob"
        write(f, "prob", {"id": sid}, prob[None])
        write(f, "mask", {"id": sid, **spacing}, ref[None], compress=True)
    h, w = 64, 48
    empty = np.zeros((1, h, w), np.uint8)
    blob = empty.copy()
    blob[0, 10:20, 5:30] = 1
    for sid, p, r in [("both-empty", empty, empty), ("ref-empty", blob, empty),
                      ("full", empty + 1, empty + 1), ("edge", blob, np.roll(blob, 30, 1))]:
        write(f, "mask", {"id": sid}, r)
        write(f, "pred", {"id": sid}, p)


def images(f):
    rng = np.random.default_rng(1)
    for ds, stem in stems():
        a = image(ds, stem)
        c, h, w = a.shape
        noisy = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
        blur = np.stack([cv2.GaussianBlur(ch, (0, 0), 2) for ch in a])
        small = np.stack([cv2.resize(ch, (64, 64), interpolation=cv2.INTER_AREA) for ch in a])
        odd = a[:, :h - 37, :w - 19] if h > 200 else a[:, :h - 5, :w - 3]
        for kind, x, y in [("noisy", a, noisy), ("blur", a, blur), ("dark", a, a * 0.7),
                           ("small", small, np.clip(small + 0.05 * rng.normal(size=small.shape), 0, 1)),
                           ("odd", odd, np.roll(odd, 3, 2))]:
            sid = f"{ds}/{stem}/{kind}"
            write(f, "image", {"id": sid}, x)
            write(f, "mask", {"id": sid}, np.zeros((1, 2, 2), np.uint8))
            write(f, "synth", {"id": sid}, y.astype(np.float32))


def diversity(f):
    for i, (ds, stem) in enumerate(stems()):
        a = image(ds, stem)[:1]          # first channel, so grey and RGB sets mix
        write(f, "image", {"id": str(i)}, a)
        write(f, "synth", {"id": str(i)}, np.ascontiguousarray(a[:, 20:84, 30:94]))


def random(f):
    rng = np.random.default_rng(5)
    for i in range(300):
        h, w = rng.integers(1, 70, 2)
        m = (rng.random((1, h, w)) < rng.random()).astype(np.uint8)
        p = rng.random((1, h, w)).astype(np.float32)
        sp = "%g,%g" % tuple(rng.uniform(0.1, 3, 2))
        write(f, "mask", {"id": str(i), "spacing": sp}, m)
        write(f, "prob", {"id": str(i)}, p)


if __name__ == "__main__":
    with open(sys.argv[2], "wb") as out:
        {"masks": masks, "images": images, "diversity": diversity, "random": random}[sys.argv[1]](out)
