"""Slice geometry: ordering, spacing checks, gantry-tilt correction and reorientation to R, A, S.

DICOM positions are in LPS; the Volume's world is RAS (NIfTI), so x and y world axes flip sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
TILT_TOLERANCE_DEG = 0.5
SPACING_TOLERANCE = 0.05  # relative deviation of a gap from the median that counts as irregular


@dataclass
class StackGeometry:
    row_dir: np.ndarray  # direction of increasing column index (IOP[:3]), LPS
    col_dir: np.ndarray  # direction of increasing row index (IOP[3:]), LPS
    normal: np.ndarray  # row_dir x col_dir
    origin: np.ndarray  # ImagePositionPatient of the first (most negative along normal) slice
    d: np.ndarray  # each slice's offset along the normal from the first, mm
    inplane: np.ndarray  # each slice's in-plane offset (along row_dir, col_dir), mm, shape (n, 2)
    pixel_spacing: tuple[float, float]  # (row spacing = along col_dir, column spacing = along row_dir)

    @property
    def tilt_deg(self) -> float:
        if len(self.d) < 2 or self.d[-1] == 0:
            return 0.0
        shift = np.linalg.norm(self.inplane[-1] - self.inplane[0])
        return float(np.degrees(np.arctan2(shift, abs(self.d[-1] - self.d[0]))))


def stack_geometry(row_dir: np.ndarray, col_dir: np.ndarray, normal: np.ndarray, positions: np.ndarray,
                   pixel_spacing: tuple[float, float]) -> StackGeometry:
    """Geometry of slices sorted along ``normal``; row/col dirs are those of the stored (maybe flipped) arrays."""
    origin = positions[0]
    off = positions - origin
    return StackGeometry(row_dir, col_dir, normal, origin, off @ normal, np.stack([off @ row_dir, off @ col_dir], axis=1), pixel_spacing)


def inplane_flips(row_dir_lps: np.ndarray, col_dir_lps: np.ndarray) -> tuple[bool, bool]:
    """(flip rows?, flip columns?) that make in-plane axes point to R/A/S where they mostly do.

    Done while decoding, so the usual axial case needs no extra reorientation copy afterwards.
    """
    flips = []
    for vec in (col_dir_lps, row_dir_lps):
        ras = vec * np.array([-1.0, -1.0, 1.0])
        flips.append(bool(ras[int(np.argmax(np.abs(ras)))] < 0))
    return flips[0], flips[1]


def correct_tilt(stack: np.ndarray, geom: StackGeometry, fill: float) -> np.ndarray:
    """Shift each slice in-plane so slices line up along the plane normal (dcm2niix's correction).

    Slices of a tilted gantry are parallel planes whose origins slide in-plane from slice to slice;
    moving each back by its in-plane offset gives an orthogonal grid (axes row, column, normal).
    """
    from scipy import ndimage  # deferred: scipy.ndimage costs ~0.4 s at import, only tilted series need it

    dy, dx = geom.pixel_spacing
    out = np.empty_like(stack)
    for k in range(stack.shape[0]):
        a, b = geom.inplane[k]
        shift = (b / dy, a / dx)  # (rows, columns)
        if abs(shift[0]) < 1e-3 and abs(shift[1]) < 1e-3:
            out[k] = stack[k]
        else:
            ndimage.shift(stack[k], shift, output=out[k], order=1, mode="constant", cval=fill, prefilter=False)
    return out


def spacing_report(d: np.ndarray) -> tuple[float, bool, list[int]]:
    """(median gap, irregular?, indices of gaps that look like missing slices)."""
    gaps = np.diff(d)
    if gaps.size == 0:
        return 0.0, False, []
    med = float(np.median(gaps))
    irregular = bool(np.any(np.abs(gaps - med) > max(SPACING_TOLERANCE * med, 0.05)))
    missing = [int(i) for i in np.nonzero(np.abs(gaps / med - np.round(gaps / med)) < 0.15)[0] if round(gaps[i] / med) >= 2]
    return med, irregular, missing


def resample_z(stack: np.ndarray, d: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of slices at positions d onto a uniform grid with the given step."""
    n = int(np.floor((d[-1] - d[0]) / step + 1e-6)) + 1
    targets = d[0] + step * np.arange(n)
    idx = np.clip(np.searchsorted(d, targets, side="right") - 1, 0, len(d) - 2)
    lo, hi = d[idx], d[idx + 1]
    w = np.clip((targets - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0).astype(np.float32)
    out = stack[idx] * (1.0 - w)[:, None, None] + stack[idx + 1] * w[:, None, None]
    return out.astype(np.float32, copy=False), targets


def lps_affine(geom: StackGeometry, dz: float) -> np.ndarray:
    """Affine mapping (column, row, slice) indices to LPS mm for an orthogonal stack."""
    dy, dx = geom.pixel_spacing
    aff = np.eye(4)
    aff[:3, 0] = geom.row_dir * dx
    aff[:3, 1] = geom.col_dir * dy
    aff[:3, 2] = geom.normal * dz
    aff[:3, 3] = geom.origin
    return aff


def to_canonical(voxels_zyx: np.ndarray, affine_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Flip/permute array axes so x, y, z point to R, A, S (closest canonical); affine follows.

    Returns (voxels [z, y, x], affine, changed?). Works for any input orientation.
    """
    from nibabel import orientations as nio  # deferred: keeps `import core.io` (and the viewer's start) light

    ornt = nio.io_orientation(affine_xyz)
    target = nio.axcodes2ornt(("R", "A", "S"))
    transform = nio.ornt_transform(ornt, target)
    if np.array_equal(transform, np.array([[0, 1], [1, 1], [2, 1]])):
        return voxels_zyx, affine_xyz, False
    xyz = voxels_zyx.transpose(2, 1, 0)
    new_xyz = nio.apply_orientation(xyz, transform)
    new_aff = affine_xyz @ nio.inv_ornt_aff(transform, xyz.shape)
    return np.ascontiguousarray(new_xyz.transpose(2, 1, 0)), new_aff, True
