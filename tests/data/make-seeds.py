"""Make the small streams and NIfTI volumes of tests/data/streams and tests/data/nifti
(seeds for the fuzzers in tests/fuzz). Run once; the results are committed.
usage: make-seeds.py (from tests/data)"""
import os
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../ref"))
from msstream import write  # noqa: E402

rng = np.random.default_rng(18)
img = rng.random((1, 6, 5), np.float32)
mask = (img > 0.5).astype(np.uint8)
with open("streams/sample.ms", "wb") as f:
    write(f, "image", {"id": "a", "source": "a.png", "spacing": "0.5,0.25"}, img)
    write(f, "mask", {"id": "a"}, mask)
    write(f, "image", {"id": "b", "prompt": "breast ultrasound"}, img[:, :3])
with open("streams/compressed.ms", "wb") as f:
    write(f, "image", {"id": "c"}, np.zeros((3, 8, 8), np.float32), compress=True)
    write(f, "mask", {"id": "c", "of": "a", "synthetic": "1"}, mask, compress=True)
with open("streams/dtypes.ms", "wb") as f:
    write(f, "lab", {"id": "d"}, np.arange(-6, 6, dtype=np.int32).reshape(3, 4))
    write(f, "big", {}, np.arange(10, dtype=np.uint16))
    write(f, "model", {"kind": "segment", "width": "8"}, np.zeros((2, 1, 2, 2), np.float32))

v = (rng.random((4, 3, 2)) * 100 - 30).astype(np.float32)
nib.save(nib.Nifti1Image(v, np.diag([0.5, 0.75, 2.0, 1])), "nifti/f32.nii.gz")
nib.save(nib.Nifti1Image((v > 20).astype(np.uint8), np.eye(4)), "nifti/u8.nii")
v4 = rng.integers(-100, 100, (3, 2, 2, 2)).astype(np.int16)
nib.save(nib.Nifti1Image(v4, np.diag([1.5, 0.8, 3.0, 1])), "nifti/i16-4d.nii")
be = nib.Nifti1Image(v.astype(">f8"), np.eye(4))
be.header.set_xyzt_units("meter")
nib.save(be, "nifti/f64-be.nii")
sc = nib.Nifti1Image(rng.integers(0, 60000, (2, 3, 2)).astype(np.uint16), np.eye(4))
sc.header.set_slope_inter(0.5, -3)
nib.save(sc, "nifti/u16-scaled.nii.gz")
