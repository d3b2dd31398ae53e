"""Header-only pass over DICOM files: what each file is, read fast, without pixel data."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from core.volume import LoadWarning, WarningCode

# Values are validated by our own checks (geometry, rescale, spacing); pydicom's per-value reading
# validation only warns and costs ~20% of header parsing time, so it is off for this process.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

DEFER_BYTES = 16384
HEADER_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "Modality", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
    "SeriesNumber", "SeriesDescription", "AcquisitionNumber", "InstanceNumber", "ImageType",
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns",
    "SliceThickness", "GantryDetectorTilt", "NumberOfFrames",
]


@dataclass
class DicomHeader:
    """The fields series assembly needs, for one file."""

    path: str
    modality: str
    patient_id: str
    study_uid: str
    series_uid: str
    series_number: int | None
    series_description: str
    acquisition: str
    instance: int
    image_type: tuple[str, ...]
    position: np.ndarray | None  # ImagePositionPatient (LPS mm)
    orientation: np.ndarray | None  # ImageOrientationPatient (6,)
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing)
    rows: int
    columns: int
    frames: int
    gantry_tilt: float | None
    dataset: object = field(default=None, repr=False)  # the parsed file, pixel data deferred (read on use)

    @property
    def is_localizer(self) -> bool:
        return any(t.upper() in ("LOCALIZER", "SCOUT", "TOPOGRAM") for t in self.image_type)

    def orientation_key(self) -> tuple:
        if self.orientation is None:
            return ()
        return tuple(np.round(self.orientation, 3))


def _float_list(value) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if np.all(np.isfinite(arr)) else None


def looks_like_dicom(path: str) -> bool:
    """DICM magic at offset 128 (Part 10 files); files without a preamble are tried by the parser."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_header(path: str) -> DicomHeader | LoadWarning:
    """Parse one file's header; return a SKIPPED_FILE warning naming the file when it can't be used."""
    name = os.fspath(path)
    try:
        if os.path.getsize(name) == 0:
            return LoadWarning(WarningCode.SKIPPED_FILE, "empty file (0 bytes)", name)
        magic = looks_like_dicom(name)
        # One full parse with large values deferred: faster than a tag-filtered parse, and the
        # pixel data is read later straight from the file, once, only for the series loaded.
        ds = pydicom.dcmread(name, defer_size=DEFER_BYTES, force=not magic)
    except PermissionError:
        return LoadWarning(WarningCode.SKIPPED_FILE, "permission denied: cannot read this file", name)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return LoadWarning(WarningCode.SKIPPED_FILE, f"not a readable DICOM file ({type(exc).__name__}: {exc})", name)
    if not magic and "SOPClassUID" not in ds and "SeriesInstanceUID" not in ds:
        return LoadWarning(WarningCode.SKIPPED_FILE, "not a DICOM file", name)
    if "SeriesInstanceUID" not in ds:
        return LoadWarning(WarningCode.SKIPPED_FILE, "DICOM file without SeriesInstanceUID", name)
    if "Rows" not in ds or "Columns" not in ds:
        return LoadWarning(WarningCode.SKIPPED_FILE, "DICOM file without an image (no Rows/Columns)", name)
    spacing = _float_list(ds.get("PixelSpacing"))
    tilt = ds.get("GantryDetectorTilt")
    try:
        number = int(ds.get("SeriesNumber")) if ds.get("SeriesNumber") not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    try:
        instance = int(ds.get("InstanceNumber") or 0)
    except (TypeError, ValueError):
        instance = 0
    image_type = ds.get("ImageType") or ()
    if isinstance(image_type, str):
        image_type = (image_type,)
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames = 1
    return DicomHeader(
        path=name,
        modality=str(ds.get("Modality", "OT") or "OT").upper(),
        patient_id=str(ds.get("PatientID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.SeriesInstanceUID),
        series_number=number,
        series_description=str(ds.get("SeriesDescription", "") or ""),
        acquisition=str(ds.get("AcquisitionNumber", "") or ""),
        instance=instance,
        image_type=tuple(str(t) for t in image_type),
        position=_float_list(ds.get("ImagePositionPatient")),
        orientation=_float_list(ds.get("ImageOrientationPatient")),
        pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing is not None and len(spacing) == 2 else None,
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        frames=frames,
        gantry_tilt=float(tilt) if tilt not in (None, "") else None,
        dataset=ds,
    )


def iter_files(root: Path) -> list[str]:
    """All files under root (sorted, hidden files skipped); unreadable folders become warnings."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return out
