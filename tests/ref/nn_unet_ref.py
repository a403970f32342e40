#!/usr/bin/python3
"""PyTorch reference for the C U-Net: builds ref_unet.py's UNet, perturbs every parameter
(GroupNorm affine included), and writes, in the ms stream format (ms-stream(5)),
  DIR/NAME.ms     checkpoint: record "model" (architecture metadata), then the state dict
  DIR/NAME_io.ms  records x [N,C,H,W], t [N] (diffusion only), y = model(x, t), a random
                  r like y and grad.PARAM = d sum(r y) / d PARAM
for NAME = seg (the default segmentor, 1 -> 1, no time embedding) and diff (the diffusion
U-Net with time embedding and attention, 2 -> 1) and var (width 16, mult 1,2,2, two
ResBlocks per level, 3 -> 2, attention and time embedding).
Usage: nn_unet_ref.py DIR. Exits 77 after printing "skip" when torch or ref_unet.py is
missing. ref_unet.py is looked up in $MS_REF_UNET, then ../shared/bench next to the
repository."""
import os
import sys

import numpy as np

try:
    import torch
except ImportError:
    print("skip: no torch")
    sys.exit(77)

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cands = [os.environ.get("MS_REF_UNET", ""),
         os.path.join(repo, "..", "shared", "bench", "ref_unet.py")]
ref = next((c for c in cands if c and os.path.isfile(c)), None)
if ref is None:
    print("skip: ref_unet.py not found")
    sys.exit(77)
sys.path.insert(0, os.path.dirname(ref))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from msstream import write  # noqa: E402
from ref_unet import UNet  # noqa: E402


def record(f, name, arr, meta=None):
    write(f, name, meta or {}, arr)


def export(d, name, model, arch, x, t):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for k, p in model.state_dict().items():
            if "norm" in k and k.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    y = model(x, t)
    r = torch.randn(y.shape, generator=g)
    model.zero_grad()
    (y * r).sum().backward()
    y = y.detach()
    with open(os.path.join(d, name + ".ms"), "wb") as f:
        record(f, "model", np.array(1, dtype=np.int32), dict(arch="unet", **arch))
        for k, p in model.state_dict().items():
            record(f, k, p.numpy().astype(np.float32))
    with open(os.path.join(d, name + "_io.ms"), "wb") as f:
        record(f, "x", x.numpy())
        if t is not None:
            record(f, "t", t.float().numpy())
        record(f, "y", y.numpy())
        record(f, "r", r.numpy())
        for k, p in model.named_parameters():
            record(f, "grad." + k, p.grad.numpy())


def main():
    d = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    base = dict(width=32, mult="1,2,4", nres=1, groups=8)
    seg = UNet(in_ch=1, out_ch=1, attn=False, time_emb=False).eval()
    export(d, "seg", seg, dict(base, **{"in": 1, "out": 1, "attn": 0, "temb": 0}),
           torch.randn(2, 1, 64, 48), None)
    diff = UNet(in_ch=2, out_ch=1, attn=True, time_emb=True).eval()
    export(d, "diff", diff, dict(base, **{"in": 2, "out": 1, "attn": 1, "temb": 1}),
           torch.randn(2, 2, 32, 32), torch.tensor([17, 900]))
    var = UNet(in_ch=3, out_ch=2, ch=16, mult=(1, 2, 2), nres=2, attn=True, time_emb=True).eval()
    export(d, "var", var, {"in": 3, "out": 2, "width": 16, "mult": "1,2,2", "nres": 2,
                           "groups": 8, "attn": 1, "temb": 1},
           torch.randn(3, 3, 16, 24), torch.tensor([0, 5, 999]))
    print(f"torch {torch.__version__}: wrote {d}/seg.ms, {d}/diff.ms and their inputs/outputs")


if __name__ == "__main__":
    main()
