"""Build test streams for ms-merge-mask with the independent writer (msstream.py).

    merge_make.py [-n N] [--size HxW] [--channels C] [--synth NAME] [--extra]
                  [--reverse] [--mask-only] [--bad-synth] > stream.ms

Sample i has id "s<i>" and holds, in order: [note (u8, compressed, unrelated)],
image f32 [C,H,W], mask u8 [1,H,W], [synth f32 [C,H,W]], [tail i32 (unrelated)].
--size may be a comma list, used in turn; --reverse writes the samples in reverse order.
"""
import argparse
import sys

import numpy as np

from msstream import write

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=4)
ap.add_argument("--size", default="32x32")
ap.add_argument("--channels", type=int, default=3)
ap.add_argument("--synth")
ap.add_argument("--extra", action="store_true")
ap.add_argument("--reverse", action="store_true")
ap.add_argument("--mask-only", action="store_true")
ap.add_argument("--bad-synth", action="store_true", help="synth one pixel wider")
a = ap.parse_args()

sizes = [tuple(int(v) for v in s.split("x"))[::-1] for s in a.size.split(",")]  # (H, W)
rng = np.random.default_rng(1)
order = range(a.n - 1, -1, -1) if a.reverse else range(a.n)
out = sys.stdout.buffer
for i in order:
    H, W = sizes[i % len(sizes)]
    meta = {"id": f"s{i}", "source": f"case{i}.png"}
    r = np.random.default_rng(i)   # sample content depends on i only
    if a.extra:
        write(out, "note", meta, r.integers(0, 255, (7,), dtype=np.uint8), compress=True)
    if not a.mask_only:
        write(out, "image", meta, r.random((a.channels, H, W), dtype=np.float32))
    write(out, "mask", meta, (r.random((1, H, W)) > 0.5).astype(np.uint8))
    if a.synth:
        w = W + 1 if a.bad_synth else W
        write(out, a.synth, meta, r.random((a.channels, H, w), dtype=np.float32))
    if a.extra:
        write(out, "tail", {"id": f"s{i}"}, np.arange(5, dtype=np.int32))
