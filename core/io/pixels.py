"""Pixel data of one DICOM file as float32 in real-world units (HU for CT)."""

from __future__ import annotations

import numpy as np
import pydicom

from core.errors import LoadError
from core.volume import LoadWarning, WarningCode

CT_AIR_HU = -1024.0


def read_slice(path: str, modality: str) -> tuple[np.ndarray, list[LoadWarning], tuple[float, float] | None]:
    """Decode one single-frame image; returns (values [rows, cols], warnings, (window width, level) or None).

    Decoding goes through pydicom's pixel backends, so JPEG baseline/lossless, JPEG-LS,
    JPEG 2000 and RLE files work through the pylibjpeg / gdcm plugins. Raises LoadError naming
    the file when the pixel data can't be decoded (corrupt or truncated data).
    """
    warnings: list[LoadWarning] = []
    try:
        ds = pydicom.dcmread(path, force=True)
        raw = ds.pixel_array
    except Exception as exc:  # any decoder failure means this file's pixels are unusable
        raise LoadError(f"pixel data cannot be decoded ({type(exc).__name__}: {exc})", path, code="corrupt-pixel-data") from exc
    if raw.ndim != 2:
        raise LoadError(f"multi-frame or colour image (pixel array shape {raw.shape}) is not a CT/MR slice", path, code="unsupported-image")

    values = raw.astype(np.float32, copy=True)
    bits_stored = int(ds.get("BitsStored", 16) or 16)
    pixel_rep = int(ds.get("PixelRepresentation", 0) or 0)
    has_slope = "RescaleSlope" in ds and ds.RescaleSlope not in (None, "")
    has_intercept = "RescaleIntercept" in ds and ds.RescaleIntercept not in (None, "")
    slope = float(ds.RescaleSlope) if has_slope else 1.0
    intercept = float(ds.RescaleIntercept) if has_intercept else 0.0

    padding = ds.get("PixelPaddingValue")
    pad_mask = (raw == int(padding)) if isinstance(padding, int) else None

    if modality == "CT":
        if bits_stored == 12 and pixel_rep == 0 and has_intercept and intercept > -100:
            # RSNA 2019's mis-encoded slices: fix as every winning solution did.
            values += 1000.0
            values[values >= 4096] -= 4096
            intercept = -1000.0
            warnings.append(LoadWarning(WarningCode.FIXED_ENCODING, "12-bit unsigned slice with intercept > -100 re-encoded (RSNA fix)", path))
        if not (has_slope and has_intercept):
            if pixel_rep == 0 and not has_intercept:
                intercept = -1024.0
                note = "assumed HU = stored value - 1024 (unsigned storage)"
            else:
                note = "assumed HU = stored value"
            warnings.append(LoadWarning(WarningCode.MISSING_RESCALE, f"RescaleSlope/Intercept missing: {note}", path))

    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    if pad_mask is not None and pad_mask.any():
        values[pad_mask] = CT_AIR_HU if modality == "CT" else float(values[~pad_mask].min(initial=0.0))
    elif modality == "CT":
        np.maximum(values, np.float32(CT_AIR_HU), out=values)  # padding written without PixelPaddingValue

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
