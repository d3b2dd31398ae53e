"""NIfTI (.nii, .nii.gz) into a Volume reoriented to R, A, S with the world affine kept.

The header is checked before anything is allocated (dims, datatype, vox_offset, scaling, size against
the memory ceiling), gzip files are decompressed once by us so that the CRC and length in the gzip
trailer are verified (nibabel stops reading at the end of the voxels and never sees them), and the
modality is recognised from the header's words or the values (core/io/modality.py).
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np

from core.errors import LoadError
from core.io.geometry import to_canonical
from core.io.modality import MODALITIES, nifti_modality, unsigned_hu_offset
from core.io.safety import (
    ORTHOGONAL_TOLERANCE, PIXEL_SPACING_RANGE_MM, is_decoder_failure, max_volume_bytes, one_line, volume_size_check,
)
from core.volume import LoadWarning, SeriesIds, Volume, WarningCode

NIFTI_SUFFIXES = (".nii", ".nii.gz")
HEADER_BYTES = 540  # NIfTI-2; NIfTI-1 uses the first 348


def is_nifti(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(NIFTI_SUFFIXES)


def _gunzip_checked(name: str, compressed: bytes, limit: int) -> bytes:
    """Decompress every gzip member, verifying each trailer's CRC-32 and length (zlib does, with wbits 16+)."""
    parts: list[bytes] = []
    total = 0
    data = compressed
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        part = d.decompress(data, max(limit - total, 1))
        if d.unconsumed_tail:
            raise LoadError(f"gzip NIfTI expands beyond {limit / 2**30:.1f} GiB (the volume limit)", name, code="too-large")
        if not d.eof:
            raise LoadError("truncated gzip NIfTI: the compressed stream ends before its trailer (CRC) was read", name, code="truncated-file")
        parts.append(part)
        total += len(part)
        data = d.unused_data
        if data and not data.startswith(b"\x1f\x8b"):
            if data.strip(b"\0"):
                raise LoadError("trailing bytes after the gzip stream (corrupt file)", name, code="corrupt-file")
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read_bytes(name: str) -> tuple[bytes, bool]:
    """(the uncompressed file, was gzip?). Uncompressed .nii files are read only up to their header here."""
    limit = max_volume_bytes() + (64 << 20)
    with open(name, "rb") as fh:
        magic = fh.read(2)
        fh.seek(0)
        if magic == b"\x1f\x8b":
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise LoadError(f"compressed NIfTI of {size / 2**30:.1f} GiB is over the volume limit", name, code="too-large")
            return _gunzip_checked(name, fh.read(), limit), True
        return fh.read(HEADER_BYTES), False


def _parse_header(name: str, head: bytes):
    """The nibabel header (NIfTI-1 or -2) of the first bytes, with the checks nibabel leaves to the reader."""
    import nibabel as nib  # deferred: ~0.2 s at import, only NIfTI needs it

    if len(head) < 348:
        raise LoadError(f"file of {len(head)} bytes is too short for a NIfTI header (348)", name, code="truncated-file")
    sizes = {int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")}
    klass = nib.Nifti1Header if 348 in sizes else nib.Nifti2Header if 540 in sizes else None
    if klass is None:
        raise LoadError(f"not a NIfTI file (sizeof_hdr {int.from_bytes(head[:4], 'little')}, expected 348 or 540)", name)
    hdr = klass.from_fileobj(io.BytesIO(head[:klass.sizeof_hdr]), check=False)
    magic = bytes(hdr["magic"].item() if hasattr(hdr["magic"], "item") else hdr["magic"]).rstrip(b"\0")
    if magic not in (b"n+1", b"n+2"):
        raise LoadError(f"NIfTI magic {magic!r} is not a single-file NIfTI (n+1/n+2; a .hdr/.img pair is not supported)", name)
    dim = [int(v) for v in hdr["dim"]]
    if not 1 <= dim[0] <= 7 or any(d < 1 for d in dim[1:dim[0] + 1]):
        raise LoadError(f"invalid NIfTI dim {dim[:max(1, min(dim[0], 7) + 1)]} (dim[0] must be 1..7, sizes >= 1)", name, code="invalid-header")
    try:
        dtype = hdr.get_data_dtype()
    except Exception as exc:  # noqa: BLE001 - nibabel raises HeaderDataError/KeyError for unknown codes
        raise LoadError(f"unsupported NIfTI datatype {int(hdr['datatype'])} ({one_line(exc, 80)})", name, code="invalid-header") from None
    if np.dtype(dtype).kind not in "iufb" or np.dtype(dtype).fields:
        raise LoadError(f"unsupported NIfTI data type {dtype} (complex or RGB)", name, code="invalid-header")
    vox_offset = float(hdr["vox_offset"])
    if not np.isfinite(vox_offset) or vox_offset < klass.sizeof_hdr or vox_offset != int(vox_offset):
        raise LoadError(f"invalid NIfTI vox_offset {vox_offset:g} (must be an integer >= {klass.sizeof_hdr})", name, code="invalid-header")
    slope, inter = float(hdr["scl_slope"]), float(hdr["scl_inter"])
    if not np.isfinite(slope) or (slope != 0 and not np.isfinite(inter)):
        raise LoadError(f"NIfTI scaling scl_slope {slope:g} / scl_inter {inter:g} is not finite: values unknown", name, code="invalid-header")
    return hdr, dim, int(vox_offset), np.dtype(dtype)


def _checked_image(name: str):
    """(nibabel image, warnings) after the header, size and gzip-integrity checks."""
    import nibabel as nib

    raw, gz = _read_bytes(name)
    hdr, dim, offset, dtype = _parse_header(name, raw)
    shape = tuple(dim[1:dim[0] + 1])
    spatial = tuple(shape[:3]) + (1,) * (3 - min(3, len(shape)))
    extra = int(np.prod(shape[3:])) if len(shape) > 3 else 1
    warnings: list[LoadWarning] = []
    if extra == 1:
        big = volume_size_check(spatial, name)  # before a byte of voxels is allocated
        if big:
            warnings.append(big)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    have = len(raw) if gz else os.path.getsize(name)
    if have < offset + nbytes:
        raise LoadError(f"NIfTI holds {have} bytes, its header needs {offset + nbytes} (truncated file)", name, code="truncated-file")
    if extra > 1:
        raise LoadError(f"{len(shape)}-D NIfTI (shape {shape}, {extra} volumes): extract one 3-D volume first", name, code="not-3d")
    if len(shape) < 3 or min(shape[:3]) == 1:
        raise LoadError(f"NIfTI of shape {shape} is a single slice or 2-D: NeuroReview needs a 3-D volume", name, code="not-3d")
    klass = nib.Nifti1Image if hdr.sizeof_hdr == 348 else nib.Nifti2Image
    img = klass.from_bytes(raw) if gz else nib.load(name)
    return img, hdr, warnings


def _checked_affine(img, hdr, name: str, warnings: list[LoadWarning]) -> np.ndarray:
    """The image's affine when it is finite, non-degenerate and orthogonal; else voxel sizes, orientation unverified."""
    lo, hi = PIXEL_SPACING_RANGE_MM
    zooms = np.asarray([float(z) for z in hdr["pixdim"][1:4]])
    zooms_ok = bool(np.all(np.isfinite(zooms)) and np.all(np.abs(zooms) >= lo) and np.all(np.abs(zooms) <= hi))
    if not zooms_ok:
        warnings.append(LoadWarning(WarningCode.INVALID_TAG, f"pixdim {', '.join(f'{z:g}' for z in zooms)} not within {lo:g}..{hi:g} mm", name))
    codes = {key: int(hdr[key]) for key in ("sform_code", "qform_code")}
    for key, code in codes.items():
        if not 0 <= code <= 5:
            warnings.append(LoadWarning(WarningCode.INVALID_TAG, f"{key} {code} is not a NIfTI xform code (0..5)", name))
    if not any(1 <= code <= 5 for code in codes.values()):
        warnings.append(LoadWarning(WarningCode.GEOMETRY_UNVERIFIED, f"no valid sform/qform (codes {codes['sform_code']}/"
                                    f"{codes['qform_code']}): orientation unknown, left/right not verified", name))
        return np.diag([*(np.abs(zooms) if zooms_ok else np.ones(3)), 1.0])
    try:
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception:  # noqa: BLE001 - nibabel computing a qform from a corrupt quaternion
        affine = None
    why = _affine_problem(affine)
    if why is None and not zooms_ok and int(hdr["sform_code"]) == 0:
        why = "the qform is built from invalid pixdim"
    if why:
        warnings.append(LoadWarning(WarningCode.GEOMETRY_UNVERIFIED, f"invalid affine in header ({why}): "
                                    f"{'voxel sizes' if zooms_ok else '1 mm voxels'} used, orientation unknown, left/right not verified", name))
        return np.diag([*(np.abs(zooms) if zooms_ok else np.ones(3)), 1.0])
    return affine


def _affine_problem(affine: np.ndarray | None) -> str | None:
    if affine is None or affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        return "not finite"
    lo, hi = PIXEL_SPACING_RANGE_MM
    m = affine[:3, :3]
    norms = np.linalg.norm(m, axis=0)
    if np.any(norms < lo) or np.any(norms > hi) or np.any(np.abs(affine[:3, 3]) > 1e5):
        return f"voxel sizes {', '.join(f'{n:.3g}' for n in norms)} mm or origin out of range"
    unit = m / norms
    cos = np.abs(unit.T @ unit - np.eye(3)).max()
    if cos > ORTHOGONAL_TOLERANCE * 10:  # NIfTI sforms may be slightly sheared; more is not a scanner grid
        return f"axes not orthogonal (|cos| up to {cos:.2f})"
    return None


def load_nifti(path: str | Path, modality: str | None = None) -> Volume:
    """Load and check one NIfTI file; ``modality`` (CT or MR) overrides the recognition."""
    name = str(path)
    try:
        img, hdr, warnings = _checked_image(name)
        data = np.asanyarray(img.dataobj)
    except LoadError:
        raise
    except FileNotFoundError as exc:
        raise LoadError("file not found", name, code="not-found") from exc
    except PermissionError as exc:
        raise LoadError("permission denied: cannot read this file", name) from exc
    except zlib.error as exc:
        raise LoadError(f"corrupt compressed NIfTI (gzip: {one_line(exc, 80)}; CRC or data check failed)", name, code="corrupt-file") from None
    except BaseException as exc:  # noqa: BLE001 - nibabel's many error types: this file is unreadable
        if not is_decoder_failure(exc):
            raise
        raise LoadError(f"not a readable NIfTI file ({type(exc).__name__}: {one_line(exc, 160)})", name) from None

    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if np.iscomplexobj(data) or data.dtype.kind not in "iufb":
        raise LoadError(f"unsupported NIfTI data type {data.dtype}", name)
    vox = np.asarray(data, dtype=np.float32)
    bad = ~np.isfinite(vox)
    if bad.any():
        if bad.all():
            raise LoadError("NIfTI holds no finite values", name)
        n = int(bad.sum())
        fill = float(np.min(vox[~bad]))
        vox[bad] = fill
        warnings.append(LoadWarning(WarningCode.NON_FINITE_VALUES, f"{n} NaN/inf voxels replaced by {fill:g} (no CT scoring)", name))
    if modality:
        modality = modality.upper()
        if modality not in MODALITIES:
            raise LoadError(f"modality must be one of {', '.join(MODALITIES)}, got {modality}", name)
        offset = unsigned_hu_offset(vox) if modality == "CT" else 0
        if offset:  # the user says CT, and the values are HU + 1024 with no intercept: read them as HU
            vox -= offset
            warnings.append(LoadWarning(WarningCode.MISSING_RESCALE, f"values stored as HU + {offset} without a rescale intercept "
                                                                     f"(air near 0): read as value - {offset}", name))
    else:
        modality, why = nifti_modality(hdr, vox)
        warnings.append(LoadWarning(WarningCode.MODALITY_INFERRED, f"{modality} ({why}); override with --modality", name))
    affine = _checked_affine(img, hdr, name, warnings)
    try:
        voxels, aff, changed = to_canonical(np.ascontiguousarray(vox.transpose(2, 1, 0)), affine)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise LoadError(f"NIfTI geometry cannot be resolved ({type(exc).__name__})", name, code="invalid-geometry") from None
    if changed:
        import nibabel as nib

        warnings.append(LoadWarning(WarningCode.REORIENTED, f"reoriented from {''.join(nib.aff2axcodes(affine))} to RAS", name))
    ids = SeriesIds(series_uid=Path(name).name, series_description=Path(name).name, source=name, files=(name,))
    return Volume(voxels=voxels, affine=aff, modality=modality, ids=ids, warnings=tuple(warnings))


def nifti_summary(path: str) -> tuple[tuple[int, int, int], str, tuple[float, float] | None]:
    """(shape as slices x rows x columns, modality from the header's words or '', pixel spacing) for a picker,
    read from the header only. Raises LoadError like load_nifti for an unreadable header."""
    from core.io.modality import header_text, modality_from_text

    try:
        with open(path, "rb") as fh:
            head = fh.read(HEADER_BYTES)
            if head[:2] == b"\x1f\x8b":
                head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head + fh.read(1 << 16), HEADER_BYTES)
    except OSError as exc:
        raise LoadError(f"cannot read ({exc.strerror})", path) from None
    except zlib.error as exc:
        raise LoadError(f"corrupt compressed NIfTI ({one_line(exc, 80)})", path, code="corrupt-file") from None
    hdr, dim, _, _ = _parse_header(path, head)
    shape = (dim[3] if dim[0] >= 3 else 1, dim[2] if dim[0] >= 2 else 1, dim[1])
    zooms = [float(z) for z in hdr["pixdim"][1:3]]
    spacing = (zooms[1], zooms[0]) if all(np.isfinite(zooms)) else None
    return shape, modality_from_text(header_text(hdr)) or "", spacing
