#!/usr/bin/python3
"""Volumes through ms-import and ms-export --volume, checked with nibabel.

volume_ref.py make DIR      write the test volumes into DIR (their masks into DIR/m), one
                            name a line on stdout
volume_ref.py check SRC OUT [--near] [--labels] [--float] [--norm] [--grid]
                            OUT (written by ms-export --volume) has SRC's shape, affine,
                            qform and sform codes; its data: SRC's exactly, in SRC's
                            datatype and scaling (default), SRC's nonzero voxels as uint8
                            with scl_slope 0 (--labels), or SRC as float32 (--float);
                            --near: a correlation of at least 0.8 with SRC (--labels: Dice
                            over 0.8), for slices resized on import; --norm: SRC's data
                            min-max scaled to [0,1] over the volume first (with --labels: the
                            voxels above 0.5 of that); --grid: shape and geometry only, and
                            uint8 labels 0 and 1
volume_ref.py slices VOL CODE AXIS
                            the image records on stdin (ms-import -o CODE -a AXIS VOL) are
                            the slices of VOL reoriented by nibabel to CODE (RAS or LPS),
                            scaled by their nii.range; prints the axis codes of the
                            reoriented volume and the count of records that differ
volume_ref.py pred          a filter: every sample's image gets a pred (u8, image > 0.5)
                            and a prob (f32, the image) record with only its id as metadata
Prints what differs and exits 1 on a mismatch.
"""
import gzip
import os
import struct
import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from msstream import read, write  # noqa: E402


def oblique(zooms, angle, offset):
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s, 0], [s * 0.8, c * 0.8, 0.6], [-s * 0.6, -c * 0.6, 0.8]])
    a = np.eye(4)
    a[:3, :3] = rot @ np.diag(zooms)
    a[:3, 3] = offset
    return a


def save(path, data, affine, qform=1, sform=2, dtype=None):
    img = nib.Nifti1Image(data, None)
    img.set_qform(affine if qform else None, qform)
    img.set_sform(affine if sform else None, sform)
    if dtype is not None:   # float data stored as dtype: nibabel picks scl_slope and _inter
        img.set_data_dtype(dtype)
    nib.save(img, path)


def make(d):
    os.makedirs(os.path.join(d, "m"), exist_ok=True)
    rng = np.random.default_rng(23)
    flip = np.diag([-0.8, 1.25, -3.0, 1.0])
    flip[:3, 3] = [40, -12, 90]
    cases = {
        # oblique sform and qform, anisotropic, int16
        "oblique.nii.gz": (rng.integers(-1000, 3000, (9, 7, 5)).astype(np.int16),
                           oblique((0.7, 0.9, 2.5), 0.3, (-90, 20, 33)), 1, 2, None),
        # flipped axes, uint8
        "flip.nii": (rng.integers(0, 256, (6, 8, 4)).astype(np.uint8), flip, 2, 1, None),
        # qform only, float32
        "qonly.nii.gz": (rng.normal(0, 50, (8, 6, 5)).astype(np.float32),
                         oblique((1.1, 0.6, 3.0), -0.5, (5, 6, 7)), 1, 0, None),
        # sform only, uint16
        "sonly.nii": (rng.integers(0, 60000, (5, 9, 3)).astype(np.uint16),
                      oblique((0.5, 0.5, 1.5), 1.2, (0, -3, 8)), 0, 4, None),
        # int16 with scl_slope and scl_inter (a CT in HU)
        "scaled.nii.gz": (rng.integers(-1024, 2000, (7, 6, 4)) * 0.37 - 20,
                          oblique((0.8, 0.8, 2.0), 0.1, (1, 2, 3)), 1, 1, np.int16),
        # 4-d int32 of a small range
        "four.nii.gz": (rng.integers(-500, 500, (6, 5, 3, 2)).astype(np.int32), flip, 1, 1,
                        None),
        # 2-d int8
        "flat.nii": (rng.integers(-128, 128, (7, 6)).astype(np.int8), flip, 1, 1, None),
    }
    for name, (data, affine, q, s, dtype) in cases.items():
        save(os.path.join(d, name), data, affine, q, s, dtype)
        stem = name.split(".nii")[0]
        m = (np.abs(np.round(data[..., 0] if data.ndim == 4 else data)) % 7 < 3).astype(np.uint8)
        if m.ndim == 3:
            m[:, :, 0] = 0   # an empty slice along z, for --min-fg
        save(os.path.join(d, "m", stem + ".nii.gz"), m * 3, affine, q, s)
        print(name)


def raw_scl(path):
    """scl_slope and scl_inter as the file stores them (nibabel hides them on load)"""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        return struct.unpack("<2f", f.read(120)[112:120])


def check(src, out, near, labels, as_float, norm, grid):
    a, b = nib.load(src), nib.load(out)
    ha, hb = a.header, b.header
    bad = []
    if a.shape != b.shape:
        bad.append("shape %s, want %s" % (b.shape, a.shape))
    if not np.allclose(a.affine, b.affine):
        bad.append("affine\n%s\nwant\n%s" % (b.affine, a.affine))
    for k in ("qform_code", "sform_code"):
        if int(ha[k]) != int(hb[k]):
            bad.append("%s %d, want %d" % (k, hb[k], ha[k]))
    if not np.allclose(ha.get_zooms(), hb.get_zooms()):
        bad.append("zooms %s, want %s" % (hb.get_zooms(), ha.get_zooms()))
    if bad:
        return bad
    want, got = a.get_fdata(), b.get_fdata()
    if grid:
        if b.get_data_dtype() != np.uint8 or not set(np.unique(got)) <= {0, 1}:
            bad.append("%s labels %s, want uint8 0 and 1" % (b.get_data_dtype(), np.unique(got)))
        return bad
    if norm:
        want = (want - want.min()) / np.ptp(want)
        want = (want > 0.5) if labels else want
    if labels:
        want = (want != 0).astype(np.uint8)
        if b.get_data_dtype() != np.uint8 or raw_scl(out)[0] != 0:
            bad.append("dtype %s scl_slope %s, want uint8 and 0" % (b.get_data_dtype(),
                                                                     raw_scl(out)[0]))
        if near:
            dice = 2 * (want & (got != 0)).sum() / max(1, want.sum() + (got != 0).sum())
            if not set(np.unique(got)) <= {0, 1} or dice <= 0.8:
                bad.append("labels %s, Dice %.3f" % (np.unique(got), dice))
        elif not np.array_equal(got, want):
            bad.append("%d labels differ" % (got != want).sum())
        return bad
    if as_float and (b.get_data_dtype() != np.float32 or raw_scl(out)[0] != 0):
        bad.append("dtype %s scl_slope %s, want float32 and 0" % (b.get_data_dtype(),
                                                                 raw_scl(out)[0]))
    if norm:
        if not np.allclose(got, want, atol=1e-6):
            bad.append("data differs by %g" % np.abs(got - want).max())
        return bad
    if not as_float:
        if b.get_data_dtype() != a.get_data_dtype():
            bad.append("dtype %s, want %s" % (b.get_data_dtype(), a.get_data_dtype()))
        sa, sb = (a.dataobj.slope, a.dataobj.inter), (b.dataobj.slope, b.dataobj.inter)
        if sa != sb:
            bad.append("scaling %s, want %s" % (sb, sa))
    if near:   # resized and back: smoothed, but in place
        r = np.corrcoef(got.ravel(), want.ravel())[0, 1]
        if r < 0.8:
            bad.append("resized data: correlation %.3f with the source" % r)
    elif np.issubdtype(a.get_data_dtype(), np.integer):
        if not np.array_equal(np.asarray(b.dataobj.get_unscaled()),
                              np.asarray(a.dataobj.get_unscaled())):
            bad.append("integer data differs at %d voxels" % (got != want).sum())
    elif not np.allclose(got, want, rtol=1e-5, atol=1e-5 * np.ptp(want)):
        bad.append("float data differs by %g" % np.abs(got - want).max())
    return bad


def slices(path, code, axis):
    from nibabel.orientations import axcodes2ornt, io_orientation, ornt_transform
    img = nib.load(path)
    r = img.as_reoriented(ornt_transform(io_orientation(img.affine), axcodes2ornt(code)))
    v = r.get_fdata()
    v = v[..., None] if v.ndim == 3 else v
    bad = n = 0
    for name, m, a in read(sys.stdin.buffer):
        if name != "image":
            continue
        s = np.take(v[..., int(m.get("volume", 0))], int(m["slice"]), axis="xyz".index(axis)).T
        lo, hi = [float(x) for x in m["nii.range"].split(",")]
        n += 1
        bad += a[0].shape != s.shape or not np.allclose(a[0], (s - lo) / (hi - lo), atol=1e-5)
    print("".join(nib.aff2axcodes(r.affine)), "%d of %d differ" % (bad, n))


def pred():
    out = sys.stdout.buffer
    for name, meta, arr in read(sys.stdin.buffer):
        write(out, name, meta, arr)
        if name == "image":
            write(out, "pred", {"id": meta["id"]}, (arr > 0.5).astype(np.uint8))
            write(out, "prob", {"id": meta["id"]}, arr.astype(np.float32))


def main():
    args = sys.argv[1:]
    if args[0] == "make":
        make(args[1])
        return 0
    if args[0] == "slices":
        slices(args[1], args[2], args[3])
        return 0
    if args[0] == "pred":
        pred()
        return 0
    bad = check(args[1], args[2], "--near" in args, "--labels" in args, "--float" in args,
                "--norm" in args, "--grid" in args)
    for b in bad:
        print("%s: %s" % (args[2], b))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
