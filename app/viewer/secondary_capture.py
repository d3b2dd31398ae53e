"""Export of what a view shows as a DICOM Secondary Capture (RGB, window, overlay, annotations and corner
text burned in), with the Patient and Study modules copied from the source series so a PACS files it
beside the original. The SC is a new series of the same study. Written with pydicom; no Qt here (the
caller passes the rendered RGB pixels)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

SC_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "StudyInstanceUID",
                 "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription",
                 "SpecificCharacterSet")
TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
         "ReferringPhysicianName", "StudyID", "AccessionNumber")


def secondary_capture(rgb: np.ndarray, source_ds, description: str, series_number: int = 9900):
    """A pydicom FileDataset of an RGB uint8 [rows, cols, 3] image; `source_ds` (pydicom, or None for a NIfTI
    volume) gives the patient and study modules (a new StudyInstanceUID when there is none)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"need RGB uint8 [rows, cols, 3], got {rgb.dtype} {rgb.shape}")
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SC_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    for name in TYPE2:
        setattr(ds, name, "")
    if source_ds is not None:
        for name in PATIENT_STUDY:
            if name in source_ds:
                setattr(ds, name, source_ds.data_element(name).value)
    if not ds.get("StudyInstanceUID"):
        ds.StudyInstanceUID = generate_uid()
    now = dt.datetime.now()
    ds.SOPClassUID = SC_SOP_CLASS
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "OT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description[:64]
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.Laterality = ""  # type 2C in General Series: a head view has no laterality
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.Manufacturer = "NeuroReview"
    ds.ConversionType = "WSD"  # workstation
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.BurnedInAnnotation = "YES"
    ds.ImageComments = "NeuroReview view export, research use only, not for clinical use"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = int(rgb.shape[0]), int(rgb.shape[1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(rgb).tobytes()
    return ds


def write_secondary_capture(path: str | Path, rgb: np.ndarray, source_ds, description: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = secondary_capture(rgb, source_ds, description)
    ds.save_as(str(path), enforce_file_format=True)
    return path
