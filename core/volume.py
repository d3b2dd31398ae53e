"""The one image type every part of NeuroReview trusts.

Conventions (read these before touching voxels):

* ``voxels`` is indexed ``[z, y, x]`` (slice, row, column), C-contiguous, float32.
  For CT the values are Hounsfield units (RescaleSlope/Intercept applied).
* ``affine`` is a 4x4 matrix mapping a voxel index given as ``(x, y, z, 1)`` to
  patient coordinates in millimetres in **RAS+** (x to patient Right, y to Anterior,
  z to Superior), the NIfTI/nibabel world convention.
* Loaders return volumes in the canonical orientation: increasing ``x`` goes to the
  patient's Right, increasing ``y`` to Anterior, increasing ``z`` to Superior
  (axis codes R, A, S), so ``voxels[0]`` is the most inferior slice. DICOM (LPS) and
  any NIfTI orientation are flipped/permuted into this on load; a tilted gantry is
  resampled onto an axis-aligned grid. Displays flip for radiological convention
  (patient left on image right) using the affine, never by assumption.
* ``spacing`` is derived from the affine and given in array order ``(dz, dy, dx)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np


class WarningCode(str, Enum):
    """Coded loader warnings: stable strings that the UI, CLI JSON and tests match on."""

    MISSING_SLICE = "missing-slice"
    IRREGULAR_SPACING = "irregular-spacing"
    DUPLICATE_POSITION = "duplicate-position"
    GANTRY_TILT = "gantry-tilt"
    MIXED_SERIES = "mixed-series"
    SKIPPED_FILE = "skipped-file"
    LOCALIZER_DROPPED = "localizer-dropped"
    MISSING_RESCALE = "missing-rescale"
    NON_FINITE_VALUES = "non-finite-values"
    SINGLE_SLICE = "single-slice"
    FIXED_ENCODING = "fixed-encoding"
    REORIENTED = "reoriented"
    INVALID_TAG = "invalid-tag"  # a geometry or value tag missing, malformed, non-finite or out of range
    GEOMETRY_UNVERIFIED = "geometry-unverified"  # left/right cannot be trusted: no laterality from this volume
    MIXED_IDENTITY = "mixed-identity"  # one SeriesInstanceUID, several patients or studies
    DUPLICATE_UID = "duplicate-uid"  # several files share one SOPInstanceUID
    SUSPICIOUS_VALUES = "suspicious-values"  # values outside what the modality can hold (e.g. HU > 30000)
    LARGE_VOLUME = "large-volume"
    MODALITY_INFERRED = "modality-inferred"  # NIfTI: CT or MR decided from the header's words or the values
    LIBRARY_WARNING = "library-warning"  # a warning raised by pydicom/nibabel while reading, captured
    SHARP_KERNEL = "sharp-kernel"  # a CT reconstructed with a bone/lung kernel: not the series to judge blood on
    OTHER = "other"


@dataclass(frozen=True)
class LoadWarning:
    """Something the user should know about the data, with the file it concerns."""

    code: WarningCode
    message: str
    path: str | None = None

    def __str__(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        return f"{self.code.value}: {self.message}{where}"

    def to_dict(self) -> dict:
        return {"code": self.code.value, "message": self.message, "path": self.path}


@dataclass(frozen=True)
class Window:
    """A display window in the image's units (HU for CT): width and level (centre)."""

    width: float
    level: float

    @property
    def low(self) -> float:
        return self.level - self.width / 2.0

    @property
    def high(self) -> float:
        return self.level + self.width / 2.0


@dataclass(frozen=True)
class SeriesIds:
    """Identifiers of where a volume came from (DICOM UIDs, or the file for NIfTI)."""

    patient_id: str = ""
    study_uid: str = ""
    series_uid: str = ""
    series_description: str = ""
    series_number: int | None = None
    source: str = ""  # folder or file the series was read from
    files: tuple[str, ...] = ()  # files that made the volume, in slice order (DICOM)


@dataclass
class Volume:
    """Voxels plus the geometry and provenance needed to display and score them."""

    voxels: np.ndarray
    affine: np.ndarray
    modality: str
    ids: SeriesIds = field(default_factory=SeriesIds)
    warnings: tuple[LoadWarning, ...] = ()
    window: Window | None = None  # the file's own window (DICOM WindowCenter/Width)

    def __post_init__(self) -> None:
        vox = np.asarray(self.voxels)
        if vox.ndim != 3:
            raise ValueError(f"Volume needs 3-D voxels [z, y, x], got shape {vox.shape}")
        if vox.dtype != np.float32:
            vox = vox.astype(np.float32)
        self.voxels = np.ascontiguousarray(vox)
        aff = np.asarray(self.affine, dtype=np.float64)
        if aff.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {aff.shape}")
        self.affine = aff
        self.modality = (self.modality or "OT").upper()
        self.warnings = tuple(self.warnings)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (nz, ny, nx)."""
        return tuple(int(s) for s in self.voxels.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm in array order (dz, dy, dx)."""
        cols = np.linalg.norm(self.affine[:3, :3], axis=0)  # per (x, y, z)
        return (float(cols[2]), float(cols[1]), float(cols[0]))

    @property
    def axcodes(self) -> tuple[str, str, str]:
        """Anatomical direction of increasing (x, y, z), e.g. ('R', 'A', 'S')."""
        labels = (("L", "R"), ("P", "A"), ("I", "S"))
        out = []
        for axis in range(3):
            vec = self.affine[:3, axis]
            k = int(np.argmax(np.abs(vec)))
            out.append(labels[k][1] if vec[k] > 0 else labels[k][0])
        return tuple(out)  # type: ignore[return-value]

    def index_to_world(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """RAS mm of voxel index/indices given in array order (z, y, x)."""
        p = np.atleast_2d(np.asarray(zyx, dtype=np.float64))[:, ::-1]
        out = p @ self.affine[:3, :3].T + self.affine[:3, 3]
        return out[0] if np.ndim(zyx) == 1 else out

    def world_to_index(self, ras: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Fractional voxel index (z, y, x) of RAS mm point(s)."""
        p = np.atleast_2d(np.asarray(ras, dtype=np.float64))
        inv = np.linalg.inv(self.affine)
        out = (p @ inv[:3, :3].T + inv[:3, 3])[:, ::-1]
        return out[0] if np.ndim(ras) == 1 else out

    @property
    def geometry_verified(self) -> bool:
        """False when the loader could not establish where the patient's left and right are
        (mirrored, non-orthogonal or missing geometry): no laterality may be reported from it."""
        return not any(w.code == WarningCode.GEOMETRY_UNVERIFIED for w in self.warnings)

    def with_warnings(self, *extra: LoadWarning) -> "Volume":
        return replace(self, warnings=self.warnings + tuple(extra))

    def describe(self) -> dict:
        """A JSON-friendly summary (used by `neuroreview info --json`)."""
        return {
            "modality": self.modality,
            "shape_zyx": list(self.shape),
            "spacing_zyx_mm": [round(s, 4) for s in self.spacing],
            "axcodes": "".join(self.axcodes),
            "patient_id": self.ids.patient_id,
            "study_uid": self.ids.study_uid,
            "series_uid": self.ids.series_uid,
            "series_description": self.ids.series_description,
            "source": self.ids.source,
            "n_files": len(self.ids.files),
            "window": None if self.window is None else {"width": self.window.width, "level": self.window.level},
            "value_range": [float(np.min(self.voxels)), float(np.max(self.voxels))],  # NaN shows as NaN, never hidden
            "warnings": [w.to_dict() for w in self.warnings],
        }


def ras_affine(spacing_zyx: tuple[float, float, float], origin_ras: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Affine of an axis-aligned canonical (R, A, S) grid with the given spacing."""
    dz, dy, dx = spacing_zyx
    aff = np.diag([dx, dy, dz, 1.0])
    aff[:3, 3] = origin_ras
    return aff


def source_name(path: str | Path) -> str:
    return str(Path(path))
