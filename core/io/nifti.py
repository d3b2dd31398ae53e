"""NIfTI (.nii, .nii.gz) into a Volume reoriented to R, A, S with the world affine kept."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from core.errors import LoadError
from core.io.geometry import to_canonical
from core.volume import LoadWarning, SeriesIds, Volume, WarningCode

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(NIFTI_SUFFIXES)


def load_nifti(path: str | Path, modality: str = "MR") -> Volume:
    import nibabel as nib  # deferred: ~0.2 s at import, only NIfTI needs it

    name = str(path)
    try:
        img = nib.load(name)
        data = np.asanyarray(img.dataobj)
    except FileNotFoundError as exc:
        raise LoadError("file not found", name) from exc
    except PermissionError as exc:
        raise LoadError("permission denied: cannot read this file", name) from exc
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise LoadError(f"truncated or corrupt compressed NIfTI ({type(exc).__name__}: {exc})", name, code="truncated-file") from exc
    except (nib.filebasedimages.ImageFileError, ValueError, OSError) as exc:
        raise LoadError(f"not a readable NIfTI file ({type(exc).__name__}: {exc})", name) from exc

    warnings: list[LoadWarning] = []
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim < 3 or (data.ndim == 3 and min(data.shape) == 1 and data.shape[2] == 1 and False):
        raise LoadError(f"{data.ndim}-D NIfTI (shape {data.shape}): NeuroReview needs a 3-D volume", name, code="not-3d")
    if data.ndim > 3:
        raise LoadError(f"{data.ndim}-D NIfTI (shape {data.shape}, {int(np.prod(data.shape[3:]))} volumes): extract one 3-D volume first", name, code="not-3d")
    if np.iscomplexobj(data) or data.dtype.kind not in "iufb":
        raise LoadError(f"unsupported NIfTI data type {data.dtype}", name)
    vox = np.asarray(data, dtype=np.float32)
    bad = ~np.isfinite(vox)
    if bad.any():
        n = int(bad.sum())
        fill = float(np.min(vox[~bad])) if (~bad).any() else 0.0
        vox[bad] = fill
        warnings.append(LoadWarning(WarningCode.NON_FINITE_VALUES, f"{n} NaN/inf voxels replaced by {fill:g}", name))
    if not (~bad).any():
        raise LoadError("NIfTI holds no finite values", name)
    affine = img.affine
    if affine is None or not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        affine = np.diag([*img.header.get_zooms()[:3], 1.0])
        warnings.append(LoadWarning(WarningCode.OTHER, "invalid affine in header: voxel sizes used, orientation unknown", name))
    voxels, aff, changed = to_canonical(np.ascontiguousarray(vox.transpose(2, 1, 0)), np.asarray(affine, dtype=np.float64))
    if changed:
        warnings.append(LoadWarning(WarningCode.REORIENTED, f"reoriented from {''.join(nib.aff2axcodes(affine))} to RAS", name))
    ids = SeriesIds(series_uid=Path(name).name, series_description=Path(name).name, source=name, files=(name,))
    return Volume(voxels=voxels, affine=aff, modality=modality, ids=ids, warnings=tuple(warnings))
