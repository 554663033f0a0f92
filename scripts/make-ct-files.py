#!/usr/bin/python3
"""Write N CT files for benchmarks: pydicom's CT_small.dcm (a real GE CT
header, about 6 KB and 250+ elements) with fresh UIDs and instance numbers,
grouped 100 files per series folder.

usage: make-ct-files.py N OUTDIR
"""
import os
import sys

import pydicom
from pydicom.uid import generate_uid

SOURCE = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files", "CT_small.dcm")


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    ds = pydicom.dcmread(SOURCE)
    series_uid = None
    for k in range(n):
        if k % 100 == 0:
            series_uid = generate_uid()
            folder = os.path.join(out, f"series{k // 100:05d}")
            os.makedirs(folder, exist_ok=True)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k % 100 + 1
        ds.save_as(os.path.join(folder, f"IM{k % 100:04d}.dcm"), write_like_original=True)


if __name__ == "__main__":
    main()
