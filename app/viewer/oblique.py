"""The oblique plane (no Qt): the axial plane through the crosshair tilted about the patient's left-right axis
by an angle (positive: the front goes up, as when aligning to the orbitomeatal line), resampled with
trilinear interpolation. 0 degrees is the axial slice through the cursor, 90 the coronal one.

The tilt is relative to the volume's own grid (its x, y, z directions from the affine), so 0 degrees is
exactly the axial view even for a series whose grid is rotated in the world (a gantry-tilted CT after
tilt correction keeps its slices at the gantry angle).

Display convention as the axial view: patient left on image right, anterior (tilted) up; pixels of the
finest in-plane spacing, square.
"""

from __future__ import annotations

import numpy as np

def oblique_axes(deg: float, affine: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right-on-screen, down-on-screen, normal) unit vectors in RAS for a tilt of `deg` degrees of the
    grid's axial plane (RAS itself when no affine is given)."""
    if affine is None:
        r, a, s = np.eye(3)
    else:
        cols = np.asarray(affine, dtype=float)[:3, :3]
        r, a, s = (cols[:, k] / np.linalg.norm(cols[:, k]) for k in range(3))  # +x, +y, +z of the grid
    t = np.radians(deg)
    up = np.cos(t) * a + np.sin(t) * s  # the tilted anterior direction
    normal = -np.sin(t) * a + np.cos(t) * s
    return -r, -up, normal


def sample_oblique(volume, cursor: tuple[int, int, int], deg: float, size_mm: float | None = None,
                   pixel_mm: float | None = None) -> tuple[np.ndarray, float]:
    """The oblique image [rows, cols] (float32, outside the volume: its minimum) and its pixel size in mm.
    The crosshair sits at the image centre."""
    from scipy import ndimage  # deferred: only this view needs it

    vox = volume.voxels
    spacing = volume.spacing
    px = float(pixel_mm or min(spacing[1], spacing[2]))
    extent = float(size_mm or max(np.array(vox.shape) * np.array(spacing)))
    n = int(np.ceil(extent / px))
    right, down, _normal = oblique_axes(deg, volume.affine)
    centre = volume.index_to_world(np.asarray(cursor, dtype=float))
    offs = (np.arange(n) - (n - 1) / 2.0) * px
    # world points of pixel centres: centre + col * right + row * down
    pts = centre[None, None, :] + offs[None, :, None] * right[None, None, :] + offs[:, None, None] * down[None, None, :]
    idx = volume.world_to_index(pts.reshape(-1, 3))  # (z, y, x) fractional
    out = ndimage.map_coordinates(vox, idx.T, order=1, mode="constant", cval=float(vox.min()), prefilter=False)
    return out.reshape(n, n).astype(np.float32, copy=False), px
