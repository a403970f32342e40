#!/usr/bin/python3
"""The DICOM route of ms-import(1), checked without trusting dcm2niix: a small CT series
written with pydicom, and where each voxel of a NIfTI volume lies.

dicom_ref.py make DIR   writes DIR/ct0.dcm .. ct3.dcm: one series of 4 slices of 6 rows
                        x 5 columns, oblique (rows along a rotated x, columns along a
                        rotated y), pixel spacing 0.7 x 0.9 mm, slices 2.5 mm apart,
                        int16 values with RescaleSlope 2, RescaleIntercept -1000; every
                        pixel's stored value is unique
dicom_ref.py check DIR VOL
                        for every pixel of the series, the voxel of VOL (a NIfTI volume,
                        as dcm2niix or ms-export --volume wrote it) with the same value
                        (scl_slope/inter applied) lies where DICOM puts the pixel:
                        ImagePositionPatient + column * spacing * row direction + row *
                        spacing * column direction, LPS turned to RAS, within 1e-3 mm
Prints what differs and exits 1 on a mismatch.
"""
import os
import sys

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROWS, COLS, NS = 6, 5, 4
SPACING = (0.7, 0.9)     # between rows, between columns (DICOM's PixelSpacing order)
GAP = 2.5
SLOPE, INTER = 2.0, -1000.0
A = np.deg2rad(20)
XDIR = np.array([np.cos(A), np.sin(A), 0.0])    # along a row: columns increase
YDIR = np.array([-np.sin(A), np.cos(A), 0.0])   # down a column: rows increase
ZDIR = np.cross(XDIR, YDIR)
ORIGIN = np.array([-40.0, 25.0, 100.0])


def stored(k):
    """slice k's stored values, unique over the series"""
    return (np.arange(ROWS * COLS).reshape(ROWS, COLS) + 100 * k + 7).astype(np.int16)


def position(k, r, c):
    """LPS millimetres of pixel (row r, column c) of slice k"""
    return ORIGIN + k * GAP * ZDIR + c * SPACING[1] * XDIR + r * SPACING[0] * YDIR


def make(d):
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(NS):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.Modality = "Test^Phantom", "ms-test", "CT"
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20260101"
        ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = "120000"
        ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = 1, k + 1, 1
        ds.SeriesDescription = "phantom"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position(k, 0, 0)]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*XDIR, *YDIR)]
        ds.PixelSpacing = [f"{SPACING[0]}", f"{SPACING[1]}"]
        ds.SliceThickness = f"{GAP}"
        ds.SliceLocation = f"{position(k, 0, 0) @ ZDIR:.4f}"
        ds.Rows, ds.Columns = ROWS, COLS
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 1
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{SLOPE:g}", f"{INTER:g}", "HU"
        ds.PixelData = stored(k).tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        pydicom.dcmwrite(os.path.join(d, f"ct{k}.dcm"), ds, write_like_original=False)


def check(d, vol):
    img = nib.load(vol)
    data = np.asarray(img.dataobj, dtype=np.float64)
    while data.ndim > 3:
        data = data[..., 0]
    aff = img.affine
    bad = 0
    for k in range(NS):
        hu = stored(k).astype(np.float64) * SLOPE + INTER
        for r in range(ROWS):
            for c in range(COLS):
                ijk = np.argwhere(np.abs(data - hu[r, c]) < 1e-3)
                want = position(k, r, c) * [-1, -1, 1]
                if len(ijk) != 1:
                    print(f"pixel {k},{r},{c} (value {hu[r, c]:g}): {len(ijk)} voxels have it")
                    bad += 1
                    continue
                got = aff @ np.append(ijk[0], 1.0)
                if np.abs(got[:3] - want).max() > 1e-3:
                    print(f"pixel {k},{r},{c} at {got[:3]} mm, DICOM puts it at {want}")
                    bad += 1
    if bad:
        sys.exit(1)
    print(f"ok {NS * ROWS * COLS}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
