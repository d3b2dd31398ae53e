"""Entry points: scan a file or folder for series, load one into a Volume."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import LoadError
from core.io.dicom_series import Stack, group_stacks, load_stack
from core.io.headers import DicomHeader, iter_files, read_header
from core.io.modality import MODALITIES
from core.io.nifti import is_nifti, load_nifti, nifti_summary
from core.io.safety import captured_library_warnings, library_warnings
from core.io.series_choice import default_series, kernel_class, plane_of
from core.volume import LoadWarning, Volume, WarningCode


@dataclass
class SeriesSummary:
    """What a picker shows for one series before its pixels are read."""

    series_uid: str
    modality: str
    description: str
    n_files: int
    shape: tuple[int, int, int]  # (slices, rows, columns) as found, before resampling
    pixel_spacing: tuple[float, float] | None
    patient_id: str = ""
    study_uid: str = ""
    kind: str = "dicom"  # or "nifti"
    path: str = ""
    warnings: list[LoadWarning] = field(default_factory=list)
    kernel: str = ""  # DICOM ConvolutionKernel of the first file
    plane: str = ""  # axial / coronal / sagittal / oblique from its orientation ('' unknown)

    def to_dict(self) -> dict:
        return {
            "series_uid": self.series_uid, "modality": self.modality, "description": self.description,
            "n_files": self.n_files, "shape": list(self.shape), "pixel_spacing": self.pixel_spacing,
            "kind": self.kind, "path": self.path, "warnings": [w.to_dict() for w in self.warnings],
            "kernel": self.kernel, "plane": self.plane,
        }


@dataclass
class ScanResult:
    series: list[SeriesSummary]
    problems: list[LoadWarning]  # files that could not be used, by name
    _stacks: dict[str, Stack] = field(default_factory=dict, repr=False)
    root: str = ""


def scan(path: str | os.PathLike) -> ScanResult:
    """Find the series under a file or folder (headers only; fast). Library warnings become coded warnings."""
    root = Path(path)
    if not root.exists():
        raise LoadError("no such file or folder", str(root), code="not-found")
    if root.is_dir():
        if not os.access(root, os.R_OK | os.X_OK):
            raise LoadError("permission denied: cannot list this folder", str(root))
        files = iter_files(root)
    elif root.is_file():
        files = [str(root)]
    else:
        raise LoadError("not a regular file or folder (a device, pipe or socket)", str(root), code="not-a-file")
    problems: list[LoadWarning] = []
    headers: list[DicomHeader] = []
    series: list[SeriesSummary] = []
    noted: dict[str, list[LoadWarning]] = {}
    messages: list[str] = []
    with captured_library_warnings(messages):
        for f in files:
            before = len(messages)
            if is_nifti(f):
                try:
                    shape, modality, spacing = nifti_summary(f)
                except LoadError as exc:
                    problems.append(LoadWarning(WarningCode.SKIPPED_FILE, exc.message, f))
                    continue
                series.append(SeriesSummary(series_uid=os.path.basename(f), modality=modality, description=os.path.basename(f),
                                            n_files=1, shape=shape, pixel_spacing=spacing, kind="nifti", path=f))
            else:
                h = read_header(f)
                if isinstance(h, LoadWarning):
                    problems.append(h)
                else:
                    headers.append(h)
            if len(messages) > before:
                noted[f] = library_warnings(messages[before:], f)
                del messages[before:]
    stacks = group_stacks(headers)
    by_uid: dict[str, Stack] = {}
    for st in stacks:
        by_uid[st.uid] = st
        f0 = st.first
        st.warnings.extend(w for h in st.headers for w in noted.get(h.path, ()))
        series.append(SeriesSummary(
            series_uid=st.uid, modality=f0.modality, description=f0.series_description, n_files=len(st.headers),
            shape=(len(st.headers), f0.rows, f0.columns), pixel_spacing=f0.pixel_spacing,
            patient_id=f0.patient_id, study_uid=f0.study_uid, path=os.path.dirname(f0.path), warnings=list(st.warnings),
            kernel=f0.kernel, plane=plane_of(f0.orientation)))
    series.sort(key=lambda s: (s.kind != "dicom", -s.n_files))
    return ScanResult(series=series, problems=problems, _stacks=by_uid, root=str(root))


def load(path: str | os.PathLike, series_uid: str | None = None, scanned: ScanResult | None = None,
         modality: str | None = None) -> Volume:
    """Load one series (DICOM file/folder) or one NIfTI file as a canonical R, A, S Volume.

    With several series and no ``series_uid``, the largest image series is loaded and a
    ``mixed-series`` warning lists the others. Unreadable files are skipped and named in warnings.
    ``modality`` ('CT' or 'MR') overrides the file's (or, for NIfTI, the recognised) modality.
    Warnings that pydicom/nibabel raise while reading are captured as ``library-warning``s.
    """
    if modality is not None and modality.upper() not in MODALITIES:
        raise LoadError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}", str(path))
    messages: list[str] = []
    with captured_library_warnings(messages):
        vol = _load(Path(path), series_uid, scanned, modality.upper() if modality else None)
    return vol.with_warnings(*library_warnings(messages, str(path))) if messages else vol


def _load(p: Path, series_uid: str | None, scanned: ScanResult | None, modality: str | None) -> Volume:
    if p.is_file() and is_nifti(p):
        return load_nifti(p, modality)
    result = scanned or scan(p)
    why = ""  # why the loaded series is not the largest (core.io.series_choice)
    if series_uid is not None:
        match = [s for s in result.series if s.series_uid == series_uid]
        if not match:
            raise LoadError(f"series {series_uid} not found", str(p), code="not-found")
        chosen = match[0]
    elif result.series:
        chosen, why = default_series(result.series)
    elif len(result.problems) == 1 and p.is_file():  # one file given: its own reason, its own name
        raise LoadError(result.problems[0].message, result.problems[0].path, code="unreadable-file")
    else:
        first = result.problems[0] if result.problems else None
        detail = f"; {len(result.problems)} file(s) unreadable, first {os.path.basename(first.path or '')}: {first.message}" if first else ""
        raise LoadError(f"no DICOM series or NIfTI volume found{detail}", str(p), code="nothing-found")
    if chosen.kind == "nifti":
        return load_nifti(chosen.path, modality)
    extra: list[LoadWarning] = list(result.problems)
    others = [s for s in result.series if s is not chosen]
    if others and series_uid is None:
        which = f"loaded {chosen.description or chosen.series_uid} ({chosen.n_files} files) because {why}" if why else \
            f"loaded the largest ({chosen.n_files} files, {chosen.description or chosen.series_uid})"
        extra.append(LoadWarning(WarningCode.MIXED_SERIES,
            f"{len(others) + 1} series found; {which}; others: "
            + "; ".join(f"{s.description or s.series_uid} ({s.n_files} files)" for s in others[:5]), str(p)))
    vol = load_stack(result._stacks[chosen.series_uid], str(p), modality)
    if vol.modality == "CT" and kernel_class(chosen.kernel, chosen.description) == "sharp":
        extra.append(LoadWarning(WarningCode.SHARP_KERNEL,
            f"a bone/lung-kernel reconstruction ({chosen.kernel or chosen.description}): its noise and edges are sharpened, so "
            "blood is judged on a soft-tissue reconstruction (the ICH models were trained on those only)", str(p)))
    return vol.with_warnings(*extra)
