"""Compressed transfer syntaxes decode through pydicom's plugins (pylibjpeg, gdcm).

Files are encoded here by real encoders (pydicom's RLE / openjpeg, GDCM's JPEG codecs) and read back.
"""

from __future__ import annotations

import gdcm
import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

from core.io import load
from tests.core.io.dicom_factory import ct_dataset, phantom_hu, write_ct_series


def gdcm_transcode(path, syntax) -> None:
    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(path))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()


def pydicom_compress(path, uid) -> None:
    ds = pydicom.dcmread(path)
    ds.compress(uid)
    ds.save_as(path, enforce_file_format=True)


CASES = {
    "rle": lambda p: pydicom_compress(p, RLELossless),
    "jpeg2000-lossless": lambda p: pydicom_compress(p, JPEG2000Lossless),
    "jpeg-lossless-sv1": lambda p: gdcm_transcode(p, gdcm.TransferSyntax.JPEGLosslessProcess14_1),
    "jpeg-ls-lossless": lambda p: gdcm_transcode(p, gdcm.TransferSyntax.JPEGLSLossless),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lossless_series_reads_back_exactly(tmp_path, name):
    hu = phantom_hu(4, 48, 40, seed=5)
    paths = write_ct_series(tmp_path, hu)
    for p in paths:
        CASES[name](p)
    syntax = pydicom.dcmread(paths[0], stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert syntax.is_compressed, syntax
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.voxels, np.maximum(hu, -1024))
    assert not vol.warnings


def test_jpeg_baseline_8bit_reads_back_within_lossy_error(tmp_path):
    rng = np.random.default_rng(0)
    base = np.clip(np.add.outer(np.arange(64), np.arange(64)) * 2 + rng.normal(0, 2, (64, 64)), 0, 255).astype(np.uint8)
    series, study = generate_uid(), generate_uid()
    for k in range(3):
        ds = ct_dataset(base, (0, 0, k * 5.0), series_uid=series, study_uid=study, instance=k + 1,
                        slope=1.0, intercept=0.0, modality="OT")
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = base.tobytes()
        path = tmp_path / f"sc{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        gdcm_transcode(path, gdcm.TransferSyntax.JPEGBaselineProcess1)
    assert pydicom.dcmread(tmp_path / "sc0.dcm").file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    vol = load(tmp_path)
    expected = base[::-1, ::-1].astype(np.float32)
    assert np.abs(vol.voxels[1] - expected).mean() < 3.0
