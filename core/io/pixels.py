"""Pixel data of one DICOM file as float32 in real-world units (HU for CT)."""

from __future__ import annotations

import numpy as np
import pydicom

from core.errors import LoadError
from core.io.safety import MAX_ABS_INTERCEPT, MAX_ABS_SLOPE, MAX_CT_HU, is_decoder_failure, one_line
from core.volume import LoadWarning, WarningCode

CT_AIR_HU = -1024.0


def _raw_pixels(ds: pydicom.Dataset, path: str) -> np.ndarray:
    """Stored values; uncompressed little-endian data is viewed directly, the rest goes through
    pydicom's decoder plugins (pylibjpeg / gdcm: JPEG baseline/lossless, JPEG-LS, JPEG 2000, RLE)."""
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    rows, cols = int(ds.Rows), int(ds.Columns)
    bits = int(ds.get("BitsAllocated", 16) or 16)
    simple = (
        syntax is not None and not syntax.is_compressed and syntax.is_little_endian
        and int(ds.get("SamplesPerPixel", 1) or 1) == 1 and int(ds.get("NumberOfFrames", 1) or 1) == 1
        and bits in (8, 16)
    )
    if simple:
        dtype = {(8, 0): np.uint8, (8, 1): np.int8, (16, 0): "<u2", (16, 1): "<i2"}[(bits, int(ds.get("PixelRepresentation", 0) or 0))]
        data = ds.PixelData  # a deferred read from the file
        n = rows * cols * (bits // 8)
        if len(data) < n:
            raise ValueError(f"pixel data holds {len(data)} bytes, {rows}x{cols}x{bits // 8} expected (truncated file?)")
        arr = np.frombuffer(data, dtype=dtype, count=rows * cols).reshape(rows, cols)
        stored = int(ds.get("BitsStored", bits) or bits)
        if stored < bits and int(ds.get("PixelRepresentation", 0) or 0) == 0:
            arr = arr & np.uint16((1 << stored) - 1) if bits == 16 else arr
        return arr
    return ds.pixel_array


def _rescale(ds: pydicom.Dataset, has_slope: bool, has_intercept: bool, path: str) -> tuple[float, float]:
    """RescaleSlope/Intercept, checked: finite, slope non-zero, both within bounds that keep HU finite in float32."""
    try:
        slope = float(ds.RescaleSlope) if has_slope else 1.0
        intercept = float(ds.RescaleIntercept) if has_intercept else 0.0
    except (TypeError, ValueError, OverflowError):
        raise LoadError(f"RescaleSlope/Intercept {one_line(ds.get('RescaleSlope'), 30)!s}/{one_line(ds.get('RescaleIntercept'), 30)!s} "
                        "are not numbers; slice left out", path, code="invalid-tag") from None
    if not (np.isfinite(slope) and np.isfinite(intercept) and 0 < abs(slope) <= MAX_ABS_SLOPE and abs(intercept) <= MAX_ABS_INTERCEPT):
        raise LoadError(f"RescaleSlope {slope:g} / RescaleIntercept {intercept:g} not finite or out of range "
                        "(values would be NaN, infinite or meaningless); slice left out", path, code="invalid-tag")
    return slope, intercept


def read_slice(ds_or_path, modality: str, flip_rows: bool = False, flip_cols: bool = False,
               out: np.ndarray | None = None) -> tuple[np.ndarray, list[LoadWarning], tuple[float, float] | None]:
    """Decode one single-frame image into real-world values, optionally flipped, into ``out``.

    Returns (values [rows, cols], warnings, (window width, level) or None). Raises LoadError naming
    the file when the pixel data can't be decoded (corrupt or truncated data).
    """
    warnings: list[LoadWarning] = []
    path = getattr(ds_or_path, "filename", None) or str(ds_or_path)
    try:
        ds = ds_or_path if isinstance(ds_or_path, pydicom.Dataset) else pydicom.dcmread(ds_or_path, force=True)
        raw = _raw_pixels(ds, path)
    except PermissionError as exc:
        raise LoadError("permission denied: cannot read this file", path) from exc
    except BaseException as exc:  # noqa: BLE001 - any decoder failure, native panics included, costs this file only
        if not is_decoder_failure(exc):
            raise
        raise LoadError(f"pixel data cannot be decoded ({type(exc).__name__}: {one_line(exc, 160)})", path, code="corrupt-pixel-data") from None
    if raw.ndim != 2:
        raise LoadError(f"multi-frame or colour image (pixel array shape {raw.shape}) is not a CT/MR slice", path, code="unsupported-image")
    if flip_rows or flip_cols:
        raw = raw[::-1 if flip_rows else 1, ::-1 if flip_cols else 1]

    bits_stored = int(ds.get("BitsStored", 16) or 16)
    pixel_rep = int(ds.get("PixelRepresentation", 0) or 0)
    has_slope = ds.get("RescaleSlope") not in (None, "")
    has_intercept = ds.get("RescaleIntercept") not in (None, "")
    slope, intercept = _rescale(ds, has_slope, has_intercept, path)
    padding = ds.get("PixelPaddingValue")

    values = out if out is not None else np.empty(raw.shape, dtype=np.float32)
    rsna_fix = modality == "CT" and bits_stored == 12 and pixel_rep == 0 and has_intercept and intercept > -100
    if rsna_fix:
        # RSNA 2019's mis-encoded slices: fix as every winning solution did.
        fixed = raw.astype(np.int32) + 1000
        fixed[fixed >= 4096] -= 4096
        values[...] = fixed
        intercept = -1000.0
        warnings.append(LoadWarning(WarningCode.FIXED_ENCODING, "12-bit unsigned slice with intercept > -100 re-encoded (RSNA fix)", path))
    if modality == "CT" and not (has_slope and has_intercept):
        if pixel_rep == 0 and not has_intercept:
            intercept = -1024.0
            note = "assumed HU = stored value - 1024 (unsigned storage)"
        else:
            note = "assumed HU = stored value"
        warnings.append(LoadWarning(WarningCode.MISSING_RESCALE, f"RescaleSlope/Intercept missing: {note}", path))
    source = values if rsna_fix else raw
    if slope != 1.0:
        np.multiply(source, np.float32(slope), out=values, casting="unsafe")
        source = values
    # one fused pass for the common slope-1 case: stored -> float32 + intercept
    np.add(source, np.float32(intercept), out=values, casting="unsafe")
    if isinstance(padding, int):
        pad = raw == padding
        if pad.any():
            values[pad] = CT_AIR_HU if modality == "CT" else float(values[~pad].min(initial=0.0))
    if modality == "CT":
        np.maximum(values, np.float32(CT_AIR_HU), out=values)  # padding written without PixelPaddingValue
        top = float(values.max())
        if not top <= MAX_CT_HU:  # also catches NaN (float pixel data)
            raise LoadError(f"values up to {top:g} HU: beyond any CT scale (signed data stored as unsigned, or a bad "
                            "RescaleSlope/Intercept); slice left out", path, code="suspicious-values")
    elif raw.dtype.kind == "f" and not np.isfinite(values).all():
        raise LoadError("pixel data holds NaN or infinite values; slice left out", path, code="non-finite-values")

    window = None
    try:
        wc, ww = ds.get("WindowCenter"), ds.get("WindowWidth")
        if wc is not None and ww is not None:
            wc = float(wc[0] if isinstance(wc, pydicom.multival.MultiValue) else wc)
            ww = float(ww[0] if isinstance(ww, pydicom.multival.MultiValue) else ww)
            if ww > 0:
                window = (ww, wc)
    except (TypeError, ValueError):
        window = None
    return values, warnings, window
