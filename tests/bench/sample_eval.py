"""Evaluate an ms-sample generator on held-out conditions (issue 5), through the tools.

    /usr/bin/python3 tests/bench/sample_eval.py MODEL BUSI.ms KVASIR.ms [THREADS]

BUSI.ms / KVASIR.ms: test-split samples with image, mask, edges (ms-edges default) and
prompt=; either may be - (a generator of one data set). Fixed choices (not tuned): the first 12 samples of each; soft edges of an image
(ms-edges -m soft) and the condition binarised at 0.25; F1 with a 1-pixel tolerance.
- condition: F1(soft edges of each synthetic image, its condition), beside the real
  image's own edges and a different real image's edges against the same condition;
- prompt: mean HSV saturation of images sampled from each data set's conditions with
  each prompt, beside the real test images';
- diversity: mean pairwise MS-SSIM (ms-score --diversity) of 8 samples of one condition,
  4 conditions per data set, beside 8 real test images of that data set.
"""
import os
import sys
import tempfile

import numpy as np

root = __file__.rsplit("/", 3)[0]
sys.path.insert(0, root + "/tests/ref")
from msstream import read  # noqa: E402
from benchutil import f1, sh  # noqa: E402

model, threads = sys.argv[1], sys.argv[4] if len(sys.argv) > 4 else "1"
files = {k: v for k, v in (("busi", sys.argv[2]), ("kvasir", sys.argv[3])) if v != "-"}
prompts = {"busi": "breast ultrasound", "kvasir": "colonoscopy polyp"}
NCOND, TH = 12, 0.25


def samples(data):
    out = {}
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        for name, meta, a in read(f):
            out.setdefault(meta["id"], {})[name] = (meta, a.copy())
    return out


def saturation(img):
    if img.shape[0] == 1:
        return 0.0
    mx, mn = img.max(0), img.min(0)
    return float(np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-12), 0).mean())


gen = f"ms-sample -m {model} --threads {threads} --seed 1"
for ds, path in files.items():
    first = sh(f"ms-pick -n {NCOND} < {path}")
    s = samples(sh(f"{gen} -n 4 | ms-pick -r edges=cond | ms-edges -m soft", first))
    real = [i for i in s if "of" not in s[i]["image"][0]]
    syn = [i for i in s if "of" in s[i]["image"][0]]
    cond = {i: s[i]["cond"][1][0] >= TH for i in real}
    edge = {i: s[i]["edges"][1][0] >= TH for i in s}
    own = [f1(edge[i], cond[i]) for i in real]
    other = [f1(edge[real[(k + 1) % len(real)]], cond[i]) for k, i in enumerate(real)]
    synf = [f1(edge[i], cond[s[i]["image"][0]["of"]]) for i in syn]
    print(f"condition\t{ds}\tF1 synthetic {np.mean(synf):.3f} (n={len(synf)})\t"
          f"own real image {np.mean(own):.3f}\tother real image {np.mean(other):.3f}")
    sat_real = np.mean([saturation(a) for _, m, a in
                        [(0, *v["image"]) for v in samples(open(path, "rb").read()).values()]])
    print(f"prompt\t{ds} real test images\tmean saturation {sat_real:.3f}")
    for pds, p in prompts.items():
        t = samples(sh(f"{gen} -n 2 --prompt '{p}'", first)) if pds != ds else s
        sat = [saturation(t[i]["image"][1]) for i in t if "of" in t[i]["image"][0]]
        print(f"prompt\t{ds} conditions, prompt '{p}'\tmean saturation {np.mean(sat):.3f}")
    with tempfile.TemporaryDirectory() as d:
        ids = [i for i in samples(first)][:4]
        div = []
        with open(os.path.join(d, "ids"), "w") as f:
            f.write("".join(f"{i}\n" for i in ids))
        out = sh(f"ms-pick -i {d}/ids < {path} | {gen} -n 8")
        for i in ids:
            with open(os.path.join(d, "ids"), "w") as f:
                f.write("".join(f"{i}.s{k}\n" for k in range(8)))
            r = sh(f"ms-pick -i {d}/ids | ms-score --diversity image", out).decode()
            div.append(float(r.splitlines()[1].split("\t")[4]))
        allids = list(samples(open(path, "rb").read()))
        rng = np.random.default_rng(0)
        with open(os.path.join(d, "ids"), "w") as f:
            f.write("".join(f"{i}\n" for i in rng.choice(allids, 8, replace=False)))
        r = sh(f"ms-pick -i {d}/ids < {path} | ms-score --diversity image").decode()
        print(f"diversity\t{ds}\tMS-SSIM of 8 samples per condition {np.mean(div):.3f} "
              f"({', '.join(f'{v:.3f}' for v in div)})\t8 real test images "
              f"{float(r.splitlines()[1].split(chr(9))[4]):.3f}")
