"""Writers in the RSNA 2019 Intracranial Hemorrhage format.

One DICOM file per slice named `ID_<hex>.dcm` in a flat `stage_2_train/` folder, labels in
`stage_2_train.csv` (`ID,Label` rows `ID_<hex>_<subtype>` for epidural, intraparenchymal,
intraventricular, subarachnoid, subdural, any), plus two tables the real set lacks but a user can
build from its headers: `series.csv` (slice -> series, position) and `bg_labels.csv` (series-level
basal-ganglia hemorrhage side, none/left/right). Masks go to `masks/<series>.npz` for checking maps.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, RLELossless, generate_uid

from training.synth.ct import SynthCT

RSNA_SUBTYPE_ORDER = ("epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural", "any")
UID_PREFIX = "1.2.826.0.1.3680043.10.1562."  # a synthetic root; never a real patient's


def _hex_id(seed: int, k: int) -> str:
    return hashlib.sha1(f"neuroreview-ct-{seed}-{k}".encode()).hexdigest()[:9]


def _uid(*parts) -> str:
    return generate_uid(prefix=UID_PREFIX, entropy_srcs=[str(p) for p in parts])


def series_uids(case: SynthCT) -> tuple[str, str, str]:
    """(PatientID, StudyInstanceUID, SeriesInstanceUID), deterministic from the seed."""
    return f"ID_{hashlib.sha1(f'patient-{case.seed}'.encode()).hexdigest()[:8]}", _uid("study", case.seed), _uid("series", case.seed)


def write_series(case: SynthCT, out_dir: str | Path, compress: bool = False) -> list[str]:
    """Write the case as one DICOM per slice in LPS geometry; returns the slice IDs in z order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    patient_id, study_uid, series_uid = series_uids(case)
    nz, ny, nx = case.hu.shape
    dz, dy, dx = case.spacing
    unsigned = case.seed % 2 == 1  # scanners store both ways; RSNA has both
    ids = []
    for k in range(nz):
        sid = f"ID_{_hex_id(case.seed, k)}"
        ras = case.affine @ np.array([nx - 1, ny - 1, k, 1.0])  # first stored pixel: patient right-anterior corner
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = _uid("sop", case.seed, k)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID_PREFIX + "1"
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.Manufacturer = "NeuroReview synthetic phantom"
        ds.PatientName = f"SYNTHETIC^{case.seed}"
        ds.PatientID = patient_id
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = ""
        ds.SeriesNumber = 1
        ds.SeriesDescription = "HEAD SYNTHETIC"
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP = 120
        ds.ImagePositionPatient = [f"{-ras[0]:.6f}", f"{-ras[1]:.6f}", f"{ras[2]:.6f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.PixelSpacing = [f"{dy:.9f}", f"{dx:.9f}"]
        ds.SliceThickness = f"{dz:g}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = ny, nx
        ds.BitsAllocated = 16
        ds.RescaleSlope = "1"
        ds.RescaleIntercept = "-1024"
        ds.RescaleType = "HU"
        ds.WindowCenter = ["00036", "00036"]
        ds.WindowWidth = ["00080", "00080"]
        stored = case.hu[k, ::-1, ::-1].astype(np.int32) + 1024
        if unsigned:
            ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
            pixels = np.clip(stored, 0, 4095).astype(np.uint16)
        else:
            ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 1
            pixels = stored.astype(np.int16)
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
        if compress:
            ds.compress(RLELossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)  # keep deterministic UIDs
        ds.save_as(out / f"{sid}.dcm", enforce_file_format=True)
        ids.append(sid)
    return ids


def label_rows(case: SynthCT, slice_ids: list[str]) -> list[tuple[str, int]]:
    rows = []
    for k, sid in enumerate(slice_ids):
        for sub in RSNA_SUBTYPE_ORDER:
            rows.append((f"{sid}_{sub}", int(case.slice_labels[sub][k])))
    return rows


class DatasetWriter:
    """Appends cases to an RSNA-format dataset folder (labels, series table, BG table, masks)."""

    def __init__(self, root: str | Path, compress: bool = False) -> None:
        self.root = Path(root)
        self.images = self.root / "stage_2_train"
        self.masks = self.root / "masks"
        self.images.mkdir(parents=True, exist_ok=True)
        self.masks.mkdir(parents=True, exist_ok=True)
        self.compress = compress
        self._labels = open(self.root / "stage_2_train.csv", "w", newline="")
        self._series = open(self.root / "series.csv", "w", newline="")
        self._bg = open(self.root / "bg_labels.csv", "w", newline="")
        self.labels, self.series, self.bg = csv.writer(self._labels), csv.writer(self._series), csv.writer(self._bg)
        self.labels.writerow(["ID", "Label"])
        self.series.writerow(["ImageID", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "z_index", "z_mm", "bg_level", "calcification"])
        self.bg.writerow(["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "bg_side", "calcification", "seed"])

    def add(self, case: SynthCT) -> str:
        return self.record(write_case_files(case, self.root, self.compress))

    def record(self, written: dict) -> str:
        """Append the table rows of a case whose files are already written (see write_case_files)."""
        self.labels.writerows(written["labels"])
        self.series.writerows(written["series"])
        self.bg.writerow(written["bg"])
        for f in (self._labels, self._series, self._bg):
            f.flush()
        return written["series_uid"]

    def close(self) -> None:
        for f in (self._labels, self._series, self._bg):
            f.close()

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_case_files(case: SynthCT, root: str | Path, compress: bool = False) -> dict:
    """Write a case's DICOM files and masks under root; return its table rows (picklable)."""
    root = Path(root)
    ids = write_series(case, root / "stage_2_train", compress=compress)
    patient, study, series = series_uids(case)
    calc = case.masks["calcification"].reshape(len(ids), -1).any(axis=1)
    series_rows = []
    for k, sid in enumerate(ids):
        z = case.affine[2, 3] + k * case.affine[2, 2]
        series_rows.append([sid, patient, study, series, k, f"{z:.2f}", int(case.bg_slices[k]), int(calc[k])])
    (root / "masks").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "masks" / f"{series}.npz", **{k: v for k, v in case.masks.items()})
    return {"labels": label_rows(case, ids), "series": series_rows, "series_uid": series,
            "bg": [patient, study, series, case.bg_side, int(case.calcified), case.seed]}
