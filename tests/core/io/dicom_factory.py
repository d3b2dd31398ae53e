"""Tiny CT DICOM writer for loader tests: real CT tags, LPS geometry, int16 storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def phantom_hu(nz: int, ny: int, nx: int, seed: int = 0) -> np.ndarray:
    """A head-like HU volume [z, y, x]: air, skull ring, brain ~35 HU, a ventricle ~8 HU."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(np.linspace(-1, 1, nz), np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    r = np.sqrt((x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 1.3) ** 2)
    hu = np.full((nz, ny, nx), -1000.0)
    hu[r < 1.0] = 1200.0
    hu[r < 0.9] = 35.0
    hu[(np.abs(x) < 0.12) & (np.abs(y) < 0.3) & (r < 0.9)] = 8.0
    hu += rng.normal(0, 3, hu.shape)
    return np.round(hu).astype(np.int16)


def ct_dataset(pixels: np.ndarray, position, orientation=(1, 0, 0, 0, 1, 0), spacing=(0.5, 0.5), *,
               series_uid: str, study_uid: str, instance: int, slope: float | None = 1.0,
               intercept: float | None = -1024.0, modality: str = "CT", image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
               thickness: float = 5.0, acquisition: int = 1) -> FileDataset:
    """One slice; `pixels` are stored values (HU - intercept unless rescale is omitted)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = "TEST-001"
    ds.PatientName = "Test^Phantom"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 2
    ds.SeriesDescription = "HEAD 5mm"
    ds.AcquisitionNumber = acquisition
    ds.InstanceNumber = instance
    ds.ImageType = list(image_type)
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
    ds.SliceThickness = thickness
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    ds.WindowCenter = 40
    ds.WindowWidth = 80
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return ds


def write_ct_series(folder: Path, hu: np.ndarray, *, slice_mm: float = 5.0, pixel_mm: float = 0.5,
                    z0: float = -80.0, tilt_deg: float = 0.0, series_uid: str | None = None,
                    study_uid: str | None = None, prefix: str = "IM", positions: list[float] | None = None) -> list[Path]:
    """Write hu [z, y, x] (canonical R, A, S arrays) as axial slices in standard LPS geometry.

    Canonical x runs to patient Right, DICOM columns run to patient Left: columns are flipped,
    and rows likewise (y Anterior vs DICOM rows Posterior). With tilt, slices are sheared in-plane
    along the column direction as a tilted gantry does.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    nz, ny, nx = hu.shape
    t = np.radians(tilt_deg)
    orientation = (1, 0, 0, 0, np.cos(t), -np.sin(t))
    paths = []
    for k in range(nz):
        zk = positions[k] if positions is not None else z0 + k * slice_mm
        pos = (-(nx - 1) * pixel_mm / 2, -(ny - 1) * pixel_mm / 2, zk)
        stored = (hu[k, ::-1, ::-1].astype(np.int32) + 1024).astype(np.int16)
        ds = ct_dataset(stored, pos, orientation, (pixel_mm, pixel_mm), series_uid=series_uid, study_uid=study_uid, instance=k + 1)
        path = folder / f"{prefix}{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
