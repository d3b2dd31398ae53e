"""Header-only pass over DICOM files: what each file is, read fast, without pixel data."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.filereader import read_partial
from pydicom.multival import MultiValue

from core.io.safety import (
    MAX_ABS_POSITION_MM, MAX_FORCED_PARSE_BYTES, MAX_MATRIX, ORTHOGONAL_TOLERANCE, PIXEL_SPACING_RANGE_MM,
    finite_floats, is_decoder_failure, max_volume_bytes, one_line,
)
from core.volume import LoadWarning, WarningCode

# Values are validated by our own checks (geometry, rescale, spacing); pydicom's per-value reading
# validation only warns and costs ~20% of header parsing time, so it is off for this process.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

DEFER_BYTES = 16384


@dataclass
class DicomHeader:
    """The fields series assembly needs, for one file (geometry fields are None when invalid)."""

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
    orientation: np.ndarray | None  # ImageOrientationPatient (6,), unit orthogonal vectors
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing), positive
    rows: int
    columns: int
    frames: int
    gantry_tilt: float | None
    dataset: object = field(default=None, repr=False)  # the parsed file, pixel data deferred (read on use)
    sop_uid: str = ""
    problems: list[str] = field(default_factory=list)  # invalid geometry tags, each in words
    mirrored_spacing: bool = False  # negative PixelSpacing was made positive: left/right unverifiable
    kernel: str = ""  # ConvolutionKernel (values joined by backslash): which series to load (core.io.series_choice)

    @property
    def is_localizer(self) -> bool:
        return any(t.upper() in ("LOCALIZER", "SCOUT", "TOPOGRAM") for t in self.image_type)

    @property
    def geometric(self) -> bool:
        return self.position is not None and self.orientation is not None and self.pixel_spacing is not None

    def orientation_key(self) -> tuple:
        if self.orientation is None:
            return ()
        return tuple(np.round(self.orientation, 3))


def looks_like_dicom(path: str) -> bool:
    """DICM magic at offset 128 (Part 10 files); files without a preamble are tried by the parser."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except PermissionError:
        raise
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def plausible_raw_dicom(path: str, size: int) -> str | None:
    """Why a file without the DICM preamble must not be force-parsed (None: worth a try).

    A raw (ACR-NEMA style) data set starts with a little-endian tag of group 0x0002 or 0x0008, and is
    small; a file of zeros or random bytes parsed with force=True can run for minutes."""
    if size > MAX_FORCED_PARSE_BYTES:
        return f"no DICOM preamble and {size / 2**20:.0f} MiB: not parsed"
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return f"cannot read ({exc.strerror})"
    if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00") or head[1] != 0:
        return "not a DICOM file"
    return None


def _stop_when_out_of_order():
    """Top-level tags of a data set ascend; the first that does not is where garbage begins (a tail of
    zeros parses as hundreds of millions of empty (0000,0000) elements): parsing stops there."""
    last = [-1]

    def stop(tag, _vr, _length) -> bool:
        if int(tag) <= last[0]:
            return True
        last[0] = int(tag)
        return False

    return stop


def plausible_part10(path: str) -> str | None:
    """Why a file with the DICM marker must not be parsed (None: fine). The file meta group (0002) must
    follow the marker, and the data set after it must not start with group 0000 (a DIMSE command set,
    never in a file: a tail of zeros reads as one, forever)."""
    with open(path, "rb") as fh:
        head = fh.read(144)
        if len(head) < 144 or head[132:134] != b"\x02\x00":
            return "DICM marker without a file meta group (corrupt file)"
        if head[132:136] == b"\x02\x00\x00\x00" and head[136:138] == b"UL":
            fh.seek(144 + int.from_bytes(head[140:144], "little"))
            first = fh.read(2)
            if first in (b"", b"\x00\x00"):
                return "no data set after the file meta group (corrupt file)"
    return None


def read_header(path: str) -> DicomHeader | LoadWarning:
    """Parse one file's header; return a SKIPPED_FILE warning naming the file when it can't be used."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        if size == 0:
            return LoadWarning(WarningCode.SKIPPED_FILE, "empty file (0 bytes)", name)
        magic = looks_like_dicom(name)
        why = plausible_part10(name) if magic else plausible_raw_dicom(name, size)
        if why:
            return LoadWarning(WarningCode.SKIPPED_FILE, why, name)
        # One full parse with large values deferred: faster than a tag-filtered parse, and the
        # pixel data is read later straight from the file, once, only for the series loaded.
        with open(name, "rb") as fh:
            ds = read_partial(fh, _stop_when_out_of_order(), defer_size=DEFER_BYTES, force=not magic)
    except PermissionError:
        return LoadWarning(WarningCode.SKIPPED_FILE, "permission denied: cannot read this file", name)
    except BaseException as exc:  # noqa: BLE001 - any parser failure (and native panics) costs this file only
        if not is_decoder_failure(exc):
            raise
        return LoadWarning(WarningCode.SKIPPED_FILE, f"not a readable DICOM file ({type(exc).__name__}: {one_line(exc, 160)})", name)
    try:
        return _header_of(ds, name, magic)
    except BaseException as exc:  # noqa: BLE001 - a corrupt tag deep in the header: this file only
        if not is_decoder_failure(exc):
            raise
        return LoadWarning(WarningCode.SKIPPED_FILE, f"corrupt DICOM header ({type(exc).__name__}: {one_line(exc, 160)})", name)


def _int_tag(ds, keyword: str, default: int | None) -> int | None:
    value = ds.get(keyword)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _header_of(ds, name: str, magic: bool) -> DicomHeader | LoadWarning:
    if len(ds) == 0:  # pydicom drops the whole data set when an undefined-length element (pixel data) never ends
        return LoadWarning(WarningCode.SKIPPED_FILE, "no readable data set (truncated file, or an element that never ends)", name)
    if not magic and "SOPClassUID" not in ds and "SeriesInstanceUID" not in ds:
        return LoadWarning(WarningCode.SKIPPED_FILE, "not a DICOM file", name)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        if "Rows" in ds or "Columns" in ds:  # an image whose pixel data element was cut off or corrupted
            return LoadWarning(WarningCode.SKIPPED_FILE, "image without readable pixel data (truncated file or corrupt pixel data element)", name)
        return LoadWarning(WarningCode.SKIPPED_FILE, "DICOM file without pixel data (not an image)", name)
    if "SeriesInstanceUID" not in ds or not str(ds.SeriesInstanceUID).strip():
        return LoadWarning(WarningCode.SKIPPED_FILE, "DICOM file without SeriesInstanceUID", name)
    rows, cols = _int_tag(ds, "Rows", None), _int_tag(ds, "Columns", None)
    if rows is None or cols is None:
        return LoadWarning(WarningCode.SKIPPED_FILE, "DICOM image without valid Rows/Columns", name)
    if not (1 <= rows <= MAX_MATRIX and 1 <= cols <= MAX_MATRIX):
        return LoadWarning(WarningCode.SKIPPED_FILE, f"image matrix {rows}x{cols} outside 1..{MAX_MATRIX}", name)
    frames = _int_tag(ds, "NumberOfFrames", 1)
    size_problem = _pixel_length_problem(ds, rows, cols, frames)
    if size_problem:
        return LoadWarning(WarningCode.SKIPPED_FILE, size_problem, name)
    problems: list[str] = []
    position = finite_floats(ds.get("ImagePositionPatient"), 3)
    if "ImagePositionPatient" in ds and (position is None or np.any(np.abs(position) > MAX_ABS_POSITION_MM)):
        problems.append(f"ImagePositionPatient {_shown(ds.get('ImagePositionPatient'))} is not 3 finite values within 100 m")
        position = None
    orientation = finite_floats(ds.get("ImageOrientationPatient"), 6)
    if "ImageOrientationPatient" in ds:
        why = _orientation_problem(orientation)
        if why:
            problems.append(f"ImageOrientationPatient {_shown(ds.get('ImageOrientationPatient'))} {why}")
            orientation = None
        else:
            orientation = np.concatenate([orientation[:3] / np.linalg.norm(orientation[:3]), orientation[3:] / np.linalg.norm(orientation[3:])])
    spacing = finite_floats(ds.get("PixelSpacing"), 2)
    mirrored = False
    if "PixelSpacing" in ds:
        lo, hi = PIXEL_SPACING_RANGE_MM
        if spacing is not None and np.all(np.abs(spacing) >= lo) and np.all(np.abs(spacing) <= hi):
            mirrored = bool(np.any(spacing < 0))
            spacing = np.abs(spacing)
        else:
            problems.append(f"PixelSpacing {_shown(ds.get('PixelSpacing'))} is not 2 values within {lo:g}..{hi:g} mm")
            spacing = None
    tilt = ds.get("GantryDetectorTilt")
    tilt_f = finite_floats(tilt, 1) if tilt not in (None, "") else None
    if tilt not in (None, "") and tilt_f is None:
        problems.append(f"GantryDetectorTilt {_shown(tilt)} is not a number (ignored)")
    image_type = ds.get("ImageType") or ()
    if isinstance(image_type, str):
        image_type = (image_type,)
    return DicomHeader(
        path=name,
        modality=str(ds.get("Modality", "OT") or "OT").strip().upper(),
        patient_id=str(ds.get("PatientID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.SeriesInstanceUID).strip(),
        series_number=_int_tag(ds, "SeriesNumber", None),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        acquisition=str(ds.get("AcquisitionNumber", "") or ""),
        instance=_int_tag(ds, "InstanceNumber", 0) or 0,
        image_type=tuple(str(t) for t in image_type),
        position=position,
        orientation=orientation,
        pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing is not None else None,
        rows=rows,
        columns=cols,
        frames=frames,
        gantry_tilt=float(tilt_f[0]) if tilt_f is not None else None,
        dataset=ds,
        sop_uid=str(ds.get("SOPInstanceUID", "") or ""),
        problems=problems,
        mirrored_spacing=mirrored,
        kernel=tag_text(ds.get("ConvolutionKernel")),
    )


def tag_text(value) -> str:
    """A string or multi-valued string tag as one string (values joined by backslash, as DICOM stores them)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def _shown(value) -> str:
    return one_line(value if not isinstance(value, (list, tuple)) else "\\".join(str(v) for v in value), 60)


def _orientation_problem(iop: np.ndarray | None) -> str | None:
    if iop is None:
        return "is not 6 finite values"
    r, c = iop[:3], iop[3:]
    nr, nc = float(np.linalg.norm(r)), float(np.linalg.norm(c))
    if abs(nr - 1) > ORTHOGONAL_TOLERANCE or abs(nc - 1) > ORTHOGONAL_TOLERANCE:
        return f"has direction vectors of length {nr:.3g} and {nc:.3g}, not 1"
    cos = abs(float(r @ c)) / (nr * nc)
    if cos > ORTHOGONAL_TOLERANCE:
        return f"is not orthogonal (row/column directions {np.degrees(np.arccos(min(cos, 1.0))):.1f} deg apart)"
    return None


def _pixel_length_problem(ds, rows: int, cols: int, frames: int) -> str | None:
    """Compare Rows x Columns x frames with the stored pixel bytes before anything is allocated."""
    bits = _int_tag(ds, "BitsAllocated", 16)
    samples = _int_tag(ds, "SamplesPerPixel", 1)
    if bits not in (1, 8, 16, 32, 64):
        return f"BitsAllocated {ds.get('BitsAllocated')!r} is not 1, 8, 16, 32 or 64"
    if frames is None or not (1 <= frames <= 4096) or samples not in (1, 3, 4):
        return f"NumberOfFrames {frames} / SamplesPerPixel {samples} out of range"
    expected = rows * cols * frames * samples * bits // 8
    if expected > max_volume_bytes():
        return f"image of {rows}x{cols}x{frames} needs {expected / 2**30:.1f} GiB, over the volume limit"
    elem = ds.get_item("PixelData", keep_deferred=True)
    if elem is None:
        return None
    length = getattr(elem, "length", None)
    if length is None:
        value = getattr(elem, "value", None)
        length = len(value) if isinstance(value, (bytes, bytearray)) else None
    if length is None or length == 0xFFFFFFFF:  # encapsulated (compressed): the decoder checks the frames
        return None
    if length < expected:
        return f"pixel data holds {length} bytes, Rows x Columns ({rows}x{cols}) needs {expected} (truncated or wrong Rows/Columns)"
    if length > expected + 1 and bits >= 8:
        return f"pixel data holds {length} bytes, Rows x Columns ({rows}x{cols}) needs only {expected} (wrong Rows/Columns?)"
    return None


def iter_files(root: Path) -> list[str]:
    """All files under root (sorted, hidden files skipped); unreadable folders become warnings."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return out
