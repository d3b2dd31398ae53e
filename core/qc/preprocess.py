"""The QC network's input, shared by training and inference so both see identical arrays.

A skull-stripped volume [z, y, x] (canonical RAS) is resampled to MODEL_SHAPE with trilinear
interpolation and min-max normalised to 0..1, as the BET-BSE QC paper (seed 000) did.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.errors import InputError

MODEL_SHAPE = (64, 128, 128)  # z, y, x  (the paper's 128x128x64)


def qc_input(voxels: np.ndarray, source: str | None = None) -> np.ndarray:
    """float32 [64, 128, 128] in 0..1; refuses 2-D, empty or constant volumes with a clear error."""
    v = np.asarray(voxels)
    if v.ndim != 3 or min(v.shape) < 8:
        raise InputError(f"skull-strip QC needs a 3-D volume, got shape {v.shape}", source)
    v = v.astype(np.float32, copy=False)
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    zoom = [t / s for t, s in zip(MODEL_SHAPE, v.shape)]
    r = ndimage.zoom(v, zoom, order=1, prefilter=False, grid_mode=True, mode="nearest")
    if r.shape != MODEL_SHAPE:  # rounding in zoom: pad/crop to the exact shape
        out = np.zeros(MODEL_SHAPE, np.float32)
        sl = tuple(slice(0, min(a, b)) for a, b in zip(MODEL_SHAPE, r.shape))
        out[sl] = r[sl]
        r = out
    lo, hi = float(r.min()), float(r.max())
    if hi - lo <= 1e-6:
        raise InputError("skull-strip QC: the volume is constant (nothing was kept)", source)
    return ((r - lo) / (hi - lo)).astype(np.float32)
