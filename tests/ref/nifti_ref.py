#!/usr/bin/python3
"""Independent NIfTI-1 reference for tests/unit/test_nifti.c (nibabel + numpy).

nifti_ref.py write DIR   write volumes with nibabel into DIR, the values nibabel reads
                         back as DIR/<file>.f32 (float32 little-endian, [t][z][y][x]) and
                         DIR/manifest.txt: file datatype nx ny nz nt dx dy dz dt
nifti_ref.py check DIR   read every volume listed in DIR/written.txt
                         (file dtype nx ny nz nt dx dy dz dt; values in DIR/<file>.f32)
                         with nibabel and compare; exit 1 on any difference
"""
import os
import sys

import shutil

import nibabel as nib
import numpy as np

# files written by other software, shipped with nibabel's own tests (when installed)
EXTERNAL = ["anatomical.nii", "functional.nii", "example4d.nii.gz", "standard.nii.gz",
            "reoriented_anat_moved.nii"]


def ramp(shape, lo, hi, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, size=shape)


def cases():
    """(file name, data [x,y,z(,t)], on-disk dtype, zooms, endianness)"""
    return [
        ("u8.nii", ramp((7, 5, 3), 0, 256, 1).astype(np.uint8), np.uint8,
         (0.5, 0.75, 2.0), "<"),
        # float data stored as int16: nibabel picks scl_slope and scl_inter
        ("i16s.nii.gz", ramp((7, 5, 3), -40, 900, 2), np.int16, (1.5, 1.5, 3.0), "<"),
        ("f64_4d.nii.gz", ramp((7, 5, 3, 2), -1e3, 1e3, 3), np.float64,
         (0.9, 1.1, 2.5, 3.0), "<"),
        ("f32_be.nii", ramp((7, 5, 3), -5, 5, 4).astype(np.float32), np.float32,
         (1.0, 2.0, 4.0), ">"),
        ("i16_be_s.nii", ramp((6, 4, 3), 0, 100, 5), np.int16, (1.2, 1.3, 1.4), ">"),
        ("i8_2d.nii", ramp((7, 5), -128, 128, 6).astype(np.int8), np.int8, (0.3, 0.4), "<"),
        ("u16.nii.gz", ramp((5, 4, 3), 0, 65536, 7).astype(np.uint16), np.uint16,
         (1.0, 1.0, 1.0), "<"),
        ("i32_4d.nii", ramp((4, 3, 2, 3), -2**31, 2**31, 8).astype(np.int32), np.int32,
         (2.0, 2.0, 2.0, 0.5), "<"),
        ("u32.nii.gz", ramp((3, 4, 5), 0, 2**32, 9).astype(np.uint32), np.uint32,
         (0.25, 0.5, 1.0), ">"),
    ]


def write(d):
    names = []
    for name, data, dt, zooms, endian in cases():
        hdr = nib.Nifti1Header(endianness=endian)
        img = nib.Nifti1Image(data, np.diag(list(zooms[:3]) + [1] * (4 - len(zooms[:3]))),
                              hdr)
        img.set_data_dtype(dt)
        img.header.set_zooms(zooms)
        nib.save(img, os.path.join(d, name))
        names.append(name)
    data_dir = os.path.join(os.path.dirname(nib.__file__), "tests", "data")
    for name in EXTERNAL:
        if os.path.exists(os.path.join(data_dir, name)):
            shutil.copy(os.path.join(data_dir, name), os.path.join(d, "ext_" + name))
            names.append("ext_" + name)
    lines = []
    for name in names:
        path = os.path.join(d, name)
        back = nib.load(path)
        exp = np.asanyarray(back.get_fdata(dtype=np.float64)).astype(np.float32)
        exp.T.astype("<f4").tofile(path + ".f32")   # [x,y,z,t] -> [t][z][y][x]
        shape = list(back.shape) + [1] * (4 - len(back.shape))
        z = list(back.header.get_zooms()) + [1.0] * (4 - len(back.shape))
        lines.append("%s %d %s %s" % (name, int(back.header["datatype"]),
                                      " ".join(map(str, shape)),
                                      " ".join(repr(float(v)) for v in z)))
    with open(os.path.join(d, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def check(d):
    dtypes = {"u8": np.uint8, "u16": np.uint16, "i32": np.int32, "f32": np.float32}
    bad = 0
    with open(os.path.join(d, "written.txt")) as f:
        rows = [ln.split() for ln in f if ln.strip()]
    for name, dt, nx, ny, nz, nt, *sp in rows:
        path = os.path.join(d, name)
        img = nib.load(path)
        dims = [int(v) for v in (nx, ny, nz, nt)]
        rank = 4 if dims[3] > 1 else 3 if dims[2] > 1 else 2
        want_shape = tuple(dims[:rank])
        exp = np.fromfile(path + ".f32", dtype="<f4").reshape(want_shape[::-1]).T
        got = np.asanyarray(img.dataobj)
        errs = []
        if img.shape != want_shape:
            errs.append("shape %s, want %s" % (img.shape, want_shape))
        if img.get_data_dtype() != np.dtype(dtypes[dt]):
            errs.append("dtype %s, want %s" % (img.get_data_dtype(), dt))
        zooms = [float(v) for v in sp[:rank]]
        if not np.allclose(img.header.get_zooms(), zooms, rtol=1e-6):
            errs.append("zooms %s, want %s" % (img.header.get_zooms(), zooms))
        aff = np.diag(zooms[:3] + [1.0] * (4 - min(rank, 3)))
        if not np.allclose(img.affine, aff, rtol=1e-6):
            errs.append("affine %s" % img.affine.tolist())
        if not errs and not np.array_equal(got.astype(np.float32), exp):
            errs.append("voxels differ at %d places" % int((got != exp).sum()))
        print("%s %s%s" % ("FAIL" if errs else "ok", name, ": " + "; ".join(errs) if errs else ""))
        bad += bool(errs)
    print("nibabel read %d files, %d bad" % (len(rows), bad))
    return 1 if bad or not rows else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
