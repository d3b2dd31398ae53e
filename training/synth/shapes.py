"""Vectorised shape tests on per-slice coordinate grids (head frame, mm)."""

from __future__ import annotations

import numpy as np


def ellipsoid(u, v, w, center, radii) -> np.ndarray | None:
    """Boolean mask of points inside an axis-aligned ellipsoid; None when the slice misses it."""
    q = ellipsoid_q(u, v, w, center, radii)
    return None if q is None else q < 1.0


def ellipsoid_q(u, v, w, center, radii) -> np.ndarray | None:
    """Normalised squared radius (< 1 inside); None when the slice misses the ellipsoid."""
    cu, cv, cw = center
    ru, rv, rw = radii
    dw = (w - cw) / rw
    if np.min(np.abs(dw)) >= 1.0:
        return None
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 + dw ** 2


def angle_diff(a, b):
    """Signed smallest difference between angles (radians)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi
