"""The QC network's input, shared by training and inference so both see identical arrays.

A volume [z, y, x] (canonical RAS) is resampled to a fixed physical grid, MODEL_SHAPE voxels of
GRID_MM (a 256 mm cube), centred on the centroid of its foreground, so that voxel size, field of
view and neck coverage change what the network sees as little as the anatomy allows. Fine voxels
are block-averaged to <= 2 mm before the trilinear resample (no aliasing from 0.7 mm grids).
Intensities: negatives clipped to 0, divided by the 99.5th percentile of the foreground, capped at 1.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.errors import InputError

MODEL_SHAPE = (64, 64, 64)  # z, y, x
GRID_MM = 4.0


def foreground(v: np.ndarray) -> np.ndarray:
    """Voxels above 10 % of the robust maximum (strip or head, not air or noise)."""
    pos = v[v > 0]
    if pos.size == 0:
        return np.zeros(v.shape, bool)
    return v > 0.1 * float(np.percentile(pos, 99.5))


def block_mean(v: np.ndarray, spacing: tuple[float, float, float]) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Integer-factor block average to voxels of <= 2 mm (and >= the original), with the new spacing."""
    k = [max(1, int(2.0 // s)) for s in spacing]
    if k == [1, 1, 1]:
        return v, spacing
    shape = [n // f * f for n, f in zip(v.shape, k)]
    v = v[: shape[0], : shape[1], : shape[2]]
    v = v.reshape(shape[0] // k[0], k[0], shape[1] // k[1], k[1], shape[2] // k[2], k[2]).mean(axis=(1, 3, 5), dtype=np.float32)
    return v, tuple(s * f for s, f in zip(spacing, k))


def prepared(voxels: np.ndarray, spacing: tuple[float, float, float]) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Block-averaged to <= 2 mm, then non-finite values and negatives set to 0 (one pass over the
    full-size volume; the rest runs on the smaller grid). Shared by the network input and the measures."""
    v, sp = block_mean(np.asarray(voxels, dtype=np.float32), spacing)
    if v is voxels:  # nothing was averaged: never change the caller's array
        v = v.copy()
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0, copy=False)
    return np.clip(v, 0, None, out=v), sp


def qc_input(voxels: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0), source: str | None = None) -> np.ndarray:
    """float32 MODEL_SHAPE in 0..1; refuses 2-D, empty or constant volumes with a clear error."""
    return qc_input_and_centre(voxels, spacing, source)[0]


def qc_input_and_centre(voxels: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                        source: str | None = None, grid: tuple[np.ndarray, tuple[float, float, float]] | None = None
                        ) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The network input and where its grid is centred, as a (z, y, x) voxel index of `voxels`
    (what cam_to_volume needs to put a Grad-CAM map back on the volume)."""
    v = np.asarray(voxels)
    if v.ndim != 3 or min(v.shape) < 8:
        raise InputError(f"skull-strip QC needs a 3-D volume, got shape {v.shape}", source)
    spacing = tuple(float(s) for s in spacing)
    v, sp = grid if grid is not None else prepared(v, spacing)
    if float(v.max()) - float(v.min()) <= 1e-6:
        raise InputError("skull-strip QC: the volume is constant (nothing was kept)", source)
    fg = foreground(v)
    centre = np.array(ndimage.center_of_mass(fg)) if fg.any() else (np.array(v.shape) - 1) / 2
    axes = [(np.arange(n, dtype=np.float32) - (n - 1) / 2) * GRID_MM for n in MODEL_SHAPE]
    coords = np.meshgrid(*[(g / s + c) for g, s, c in zip(axes, sp, centre)], indexing="ij")
    r = ndimage.map_coordinates(v, coords, order=1, mode="constant", cval=0.0, prefilter=False)
    pos = r[foreground(r)]
    hi = float(np.percentile(pos, 99.5)) if pos.size else float(r.max())
    if hi <= 1e-6:
        raise InputError("skull-strip QC: the volume is constant (nothing was kept)", source)
    k = [round(b / a) for a, b in zip(spacing, sp)]  # block factors
    centre_orig = tuple(float(c * f + (f - 1) / 2) for c, f in zip(centre, k))
    return np.clip(r / hi, 0, 1).astype(np.float32), centre_orig


def _axis_weights(n: int, spacing: float, centre: float, cells: int, grid_n: int) -> np.ndarray:
    """[n, cells] linear-interpolation weights from a map of `cells` over the model grid's axis to
    the volume's n voxels; zero outside the model grid."""
    mm = (np.arange(n) - centre) * spacing
    g = mm / GRID_MM + (grid_n - 1) / 2  # model-grid voxel index
    c = (g + 0.5) * cells / grid_n - 0.5  # map cell index (cell centres)
    inside = (g >= -0.5) & (g <= grid_n - 0.5)
    c = np.clip(c, 0, cells - 1)
    lo = np.floor(c).astype(int)
    hi = np.minimum(lo + 1, cells - 1)
    w = np.zeros((n, cells), np.float32)
    rows = np.arange(n)
    np.add.at(w, (rows, lo), (1 - (c - lo)) * inside)
    np.add.at(w, (rows, hi), (c - lo) * inside)
    return w


def cam_to_volume(cam: np.ndarray, shape: tuple[int, int, int], spacing: tuple[float, float, float],
                  centre: tuple[float, float, float]) -> np.ndarray:
    """One Grad-CAM map [d, h, w] on the model grid -> [z, y, x] on the volume, trilinear, 0 outside
    the 256 mm grid. Separable, so it costs a few passes over the volume, not a 3-D resample."""
    wz, wy, wx = (_axis_weights(n, s, c, m, g) for n, s, c, m, g in zip(shape, spacing, centre, cam.shape, MODEL_SHAPE))
    out = np.einsum("zd,dhw->zhw", wz, cam.astype(np.float32))
    out = np.einsum("yh,zhw->zyw", wy, out)
    return np.einsum("xw,zyw->zyx", wx, out).astype(np.float32)
