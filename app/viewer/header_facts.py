"""The source headers behind a loaded Volume (no Qt): the DICOM file of a slice, the study facts the corner
text shows, and a NIfTI file's header fields. Read lazily and cached, so nothing slows the first image.

A loaded volume may be resampled (tilt, uneven spacing), so "the file of slice k" is the source file whose
ImagePositionPatient lies nearest to slice k along the slice axis, not files[k].
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date

import numpy as np

from core.volume import Volume

_CACHE: OrderedDict[int, tuple[Volume, dict]] = OrderedDict()
PATIENT_FIELDS = ("patient_name", "patient_id", "patient_age_sex", "birth_date")


def _entry(volume: Volume) -> dict:
    """Per-volume cache (a few volumes; keyed by identity, holding the volume so ids stay unique)."""
    key = id(volume)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is volume:
        _CACHE.move_to_end(key)
        return hit[1]
    entry: dict = {}
    _CACHE[key] = (volume, entry)
    while len(_CACHE) > 6:
        _CACHE.popitem(last=False)
    return entry


def is_dicom(volume: Volume) -> bool:
    files = volume.ids.files
    return bool(files) and not str(files[0]).lower().endswith((".nii", ".nii.gz"))


def read_dataset(path: str):
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def slice_files(volume: Volume) -> np.ndarray:
    """For each slice index along z, the index into volume.ids.files of its nearest source file."""
    entry = _entry(volume)
    if "slice_files" not in entry:
        files = volume.ids.files
        zs = []
        for f in files:
            ds = read_dataset(f)
            ipp = getattr(ds, "ImagePositionPatient", None)
            if ipp is None:
                zs = []
                break
            ras = np.array([-float(ipp[0]), -float(ipp[1]), float(ipp[2])])
            zs.append(volume.world_to_index(ras)[0])
        nz = volume.shape[0]
        if zs:
            zs_arr = np.asarray(zs)
            entry["slice_files"] = np.abs(zs_arr[None, :] - np.arange(nz)[:, None]).argmin(axis=1)
        else:  # no positions: spread the files evenly over the slices
            entry["slice_files"] = np.round(np.linspace(0, max(len(files) - 1, 0), nz)).astype(int)
    return entry["slice_files"]


def slice_dataset(volume: Volume, z: int):
    """The pydicom Dataset (no pixels) of the source file nearest slice z; None for a NIfTI volume."""
    if not is_dicom(volume):
        return None
    k = int(slice_files(volume)[int(np.clip(z, 0, volume.shape[0] - 1))])
    entry = _entry(volume)
    cache = entry.setdefault("datasets", {})
    if k not in cache:
        cache[k] = read_dataset(volume.ids.files[k])
    return cache[k]


def first_dataset(volume: Volume):
    if not is_dicom(volume):
        return None
    entry = _entry(volume)
    if "first" not in entry:
        entry["first"] = read_dataset(volume.ids.files[0])
    return entry["first"]


def _fmt_date(text: str) -> str:
    text = str(text or "").strip()
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            return text
    return text


def _num(value, unit: str) -> str:
    try:
        return f"{float(value):g} {unit}"
    except (TypeError, ValueError):
        return ""


MAX_THICKNESS_FILES = 400  # beyond this, the first file's SliceThickness stands for the series


def _thicknesses(volume: Volume, first) -> str:
    """SliceThickness of the series: '4 mm', or '4 / 7 mm' when its files differ (the real GE series does)."""
    import pydicom

    files = volume.ids.files
    values = {getattr(first, "SliceThickness", None)}
    if len(files) <= MAX_THICKNESS_FILES:
        for f in files[1:]:
            values.add(getattr(pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SliceThickness"], force=True),
                               "SliceThickness", None))
    nums = sorted({float(v) for v in values if v not in (None, "")})
    return " / ".join(f"{v:g}" for v in nums) + " mm" if nums else ""


def series_facts(volume: Volume) -> dict[str, str]:
    """Study facts for the corner text; missing values are empty strings (the line is left out)."""
    entry = _entry(volume)
    if "facts" in entry:
        return entry["facts"]
    facts = {k: "" for k in ("patient_name", "patient_id", "patient_age_sex", "birth_date", "study_date",
                             "series_description", "slice_thickness", "kvp", "kernel", "institution", "modality")}
    facts["series_description"] = volume.ids.series_description
    facts["modality"] = volume.modality
    facts["patient_id"] = volume.ids.patient_id
    ds = None
    try:
        ds = first_dataset(volume)
    except Exception:  # the file went away or is unreadable now: the corner text shows what the volume knows
        ds = None
    if ds is not None:
        g = lambda name: str(getattr(ds, name, "") or "").strip()  # noqa: E731
        facts["patient_name"] = g("PatientName").replace("^", " ").strip()
        facts["patient_id"] = g("PatientID") or facts["patient_id"]
        facts["patient_age_sex"] = " ".join(v for v in (g("PatientAge"), g("PatientSex")) if v)
        facts["birth_date"] = _fmt_date(g("PatientBirthDate"))
        facts["study_date"] = _fmt_date(g("StudyDate"))
        facts["series_description"] = g("SeriesDescription") or facts["series_description"]
        try:
            facts["slice_thickness"] = _thicknesses(volume, ds)
        except Exception:  # a file went away since loading: the first file's value stands
            facts["slice_thickness"] = _num(getattr(ds, "SliceThickness", None), "mm")
        facts["kvp"] = _num(getattr(ds, "KVP", None), "kVp")
        from core.io.headers import tag_text

        facts["kernel"] = tag_text(getattr(ds, "ConvolutionKernel", None))
        facts["institution"] = g("InstitutionName")
    elif volume.ids.source:
        facts["slice_thickness"] = f"{volume.spacing[0]:.3g} mm"
    entry["facts"] = facts
    return facts


def nifti_header_fields(volume: Volume) -> list[tuple[str, str]]:
    """(field, value) of the NIfTI header of a volume read from a NIfTI file."""
    import nibabel as nib

    img = nib.load(volume.ids.source)
    hdr = img.header
    out = []
    for key in hdr.keys():
        value = hdr[key]
        text = np.array2string(np.asarray(value), precision=5, separator=", ") if np.ndim(value) else str(value)
        if isinstance(value, (bytes, np.bytes_)) or getattr(value, "dtype", None) is not None and value.dtype.kind == "S":
            text = bytes(np.asarray(value)).decode("latin-1", "replace").rstrip("\x00")
        out.append((key, text))
    return out
