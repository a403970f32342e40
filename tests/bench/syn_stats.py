"""Synthetic images against the real ones they were made from (benchmark helper).

    /usr/bin/python3 tests/bench/syn_stats.py SYN.ms [SEGMENTOR]

SYN.ms is ms-sample's output: real samples followed by their synthetic ones (image
metadata of=<id>, copies of the condition records). The ms tools must be on PATH.
Prints, for the real and the synthetic images:
- intensity: the mean, its difference, and the 5/50/95th percentiles (the intensity
  histogram in three numbers);
- edges: F1 of each image's soft edges (ms-edges -m soft, >= 0.25) against the edge
  condition it was made for (>= 0.25), 1-pixel tolerance (as tests/bench/sample_eval.py);
  for real images, against their own condition (what a perfect generator would reach);
  a condition made with ms-edges --near R (metadata near=R) is compared only within R
  pixels of the mask's border, where it says anything;
- diversity: mean pairwise MS-SSIM (ms-score --diversity) of the synthetic images of one
  real sample, averaged over the first 12 real samples, beside that of all real images
  (lower = more diverse);
- alignment, with SEGMENTOR (an ms-segment model trained on real images): mean Dice of
  its prediction on the synthetic images against the masks they were made for, beside
  the same on the real images: a generator whose lesions sit where the mask says scores
  as the real images do.
"""
import sys
import tempfile

import numpy as np
from scipy import ndimage

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/ref")
from msstream import read  # noqa: E402
from benchutil import f1, sh  # noqa: E402

TH, NDIV = 0.25, 12


def diversity(data):
    out = sh("ms-score --diversity image", data).decode()
    return float(out.splitlines()[1].split("\t")[4])


path = sys.argv[1]
s = {}
with tempfile.TemporaryFile() as f:
    f.write(sh(f"ms-pick -r edges=cond < {path} | ms-edges -m soft"))
    f.seek(0)
    for name, meta, a in read(f):
        s.setdefault(meta["id"], {})[name] = (meta, np.array(a))
real = [i for i in s if "of" not in s[i]["image"][0]]
syn = [i for i in s if "of" in s[i]["image"][0]]
r = np.concatenate([s[i]["image"][1].ravel() for i in real]).astype(np.float64)
y = np.concatenate([s[i]["image"][1].ravel() for i in syn]).astype(np.float64)
print(f"images real {len(real)} synthetic {len(syn)}")
print(f"mean real {r.mean():.4f} synthetic {y.mean():.4f} diff {y.mean() - r.mean():+.4f}")
print("p5/p50/p95 real " + "/".join(f"{v:.3f}" for v in np.percentile(r, [5, 50, 95])) +
      " synthetic " + "/".join(f"{v:.3f}" for v in np.percentile(y, [5, 50, 95])))


def near(i):
    """where the condition of sample i speaks: everywhere, or near=R of the mask border"""
    r = int(s[i]["cond"][0].get("near", 0))
    if not r:
        return True
    m = s[i]["mask"][1][0] > 0
    k = np.ones((3, 3), bool)
    b = ndimage.binary_dilation(m, k) ^ ndimage.binary_erosion(m, k, border_value=1)
    return ndimage.binary_dilation(b, np.ones((2 * r + 1, 2 * r + 1), bool))


ef = {i: f1((s[i]["edges"][1][0] >= TH) & near(i), s[i]["cond"][1][0] >= TH) for i in s}
print(f"edge F1 real {np.mean([ef[i] for i in real]):.3f} "
      f"synthetic {np.mean([ef[i] for i in syn]):.3f}")
with tempfile.TemporaryDirectory() as d:
    div = []
    for i in real[:NDIV]:
        with open(f"{d}/ids", "w") as f:
            f.write("".join(f"{j}\n" for j in syn if s[j]["image"][0]["of"] == i))
        div.append(diversity(sh(f"ms-pick -i {d}/ids < {path}")))
    with open(f"{d}/ids", "w") as f:
        f.write("".join(f"{i}\n" for i in real))
    print(f"diversity MS-SSIM real {diversity(sh(f'ms-pick -i {d}/ids < {path}')):.3f} "
          f"synthetic per real sample {np.mean(div):.3f}")
if len(sys.argv) > 2:
    dice = {}
    for line in sh(f"ms-segment -m {sys.argv[2]} --threads 1 < {path} | ms-score --pred pred"
                   ).decode().splitlines()[1:]:
        f = line.split("\t")
        if f[0] in s:
            dice[f[0]] = float(f[1])
    print(f"alignment Dice real {np.mean([dice[i] for i in real]):.3f} "
          f"synthetic {np.mean([dice[i] for i in syn]):.3f}")
