"""Measurements on a slice (no Qt): ruler, angle, ellipse and freehand ROIs with their statistics.

Points are display millimetres of a plane (`app.viewer.planes.Plane`: column c spans [c*dc, (c+1)*dc],
row r spans [r*dr, (r+1)*dr]). An ROI holds the pixels whose centres fall inside it; its statistics are
over the source voxels of that slice (never the interpolated or slab image on screen), area = pixel count x
pixel area in mm^2.
"""

from __future__ import annotations

import csv
import math
import uuid
from dataclasses import dataclass, field

import numpy as np

from app.viewer.planes import Plane

KINDS = ("ruler", "angle", "ellipse", "freehand")
PREFIX = {"ruler": "R", "angle": "A", "ellipse": "E", "freehand": "F"}


@dataclass(frozen=True)
class Annotation:
    kind: str
    plane: str  # 'axial' | 'coronal' | 'sagittal'
    index: int  # slice index on that plane (0-based)
    points: tuple[tuple[float, float], ...]  # display mm
    label: str = ""
    stats: dict = field(default_factory=dict, compare=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def summary(self, unit: str = "HU") -> str:
        s = self.stats
        if self.kind == "ruler":
            return f"{s['length_mm']:.1f} mm"
        if self.kind == "angle":
            return f"{s['angle_deg']:.1f} deg"
        if not s.get("n"):
            return "empty ROI"
        return (f"mean {s['mean']:.1f} SD {s['sd']:.1f} {unit}, min {s['min']:.0f} max {s['max']:.0f}, "
                f"{s['area_mm2']:.1f} mm\u00b2")


def ellipse_outline(p0: tuple[float, float], p1: tuple[float, float], n: int = 72) -> list[tuple[float, float]]:
    """Points of the ellipse inscribed in the box with corners p0, p1 (closed: first point repeated)."""
    cx, cy = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
    ax, ay = abs(p1[0] - p0[0]) / 2, abs(p1[1] - p0[1]) / 2
    t = np.linspace(0, 2 * np.pi, n + 1)
    return [(float(cx + ax * math.cos(a)), float(cy + ay * math.sin(a))) for a in t]


def _pixel_centres(p: Plane, x0: float, y0: float, x1: float, y1: float):
    """Row/col index ranges and centre coordinates (mm) of display pixels in a bounding box."""
    c0, c1 = max(int(np.floor(x0 / p.col_mm)), 0), min(int(np.ceil(x1 / p.col_mm)), p.n_cols)
    r0, r1 = max(int(np.floor(y0 / p.row_mm)), 0), min(int(np.ceil(y1 / p.row_mm)), p.n_rows)
    xs = (np.arange(c0, c1) + 0.5) * p.col_mm
    ys = (np.arange(r0, r1) + 0.5) * p.row_mm
    return r0, c0, xs[None, :], ys[:, None]


def ellipse_mask(p: Plane, p0, p1) -> np.ndarray:
    """Boolean [n_rows, n_cols] display mask of the pixels whose centres lie inside the ellipse."""
    mask = np.zeros((p.n_rows, p.n_cols), dtype=bool)
    cx, cy = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
    ax, ay = abs(p1[0] - p0[0]) / 2, abs(p1[1] - p0[1]) / 2
    if ax <= 0 or ay <= 0:
        return mask
    r0, c0, xs, ys = _pixel_centres(p, cx - ax, cy - ay, cx + ax, cy + ay)
    inside = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1.0
    mask[r0:r0 + inside.shape[0], c0:c0 + inside.shape[1]] = inside
    return mask


def polygon_mask(p: Plane, points) -> np.ndarray:
    """Boolean display mask of the pixels whose centres lie inside the polygon (even-odd rule)."""
    mask = np.zeros((p.n_rows, p.n_cols), dtype=bool)
    pts = np.asarray(points, dtype=float)
    if len(pts) < 3:
        return mask
    r0, c0, xs, ys = _pixel_centres(p, pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
    inside = np.zeros((ys.shape[0], xs.shape[1]), dtype=bool)
    xj, yj = pts[-1]
    for xi, yi in pts:
        if yi != yj:
            crosses = (yi > ys) != (yj > ys)  # the edge spans this pixel row's centre
            x_at = xi + (ys - yi) * (xj - xi) / (yj - yi)
            inside ^= crosses & (xs < x_at)
        xj, yj = xi, yi
    mask[r0:r0 + inside.shape[0], c0:c0 + inside.shape[1]] = inside
    return mask


def roi_stats(values: np.ndarray, mask: np.ndarray, pixel_area_mm2: float) -> dict:
    v = values[mask].astype(np.float64)
    if v.size == 0:
        return {"n": 0, "area_mm2": 0.0}
    return {"n": int(v.size), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "area_mm2": float(v.size * pixel_area_mm2)}


def angle_deg(a, b, c) -> float:
    """Angle at vertex b between rays b->a and b->c, degrees."""
    v1, v2 = np.subtract(a, b), np.subtract(c, b)
    n = np.linalg.norm(v1) * np.linalg.norm(v2)
    return float(np.degrees(np.arccos(np.clip(v1 @ v2 / n, -1, 1)))) if n > 0 else 0.0


def measure(kind: str, p: Plane, voxels: np.ndarray, index: int, points) -> dict:
    """Statistics of one measurement on plane p at slice `index` of `voxels` ([z, y, x])."""
    pts = [tuple(map(float, q)) for q in points]
    if kind == "ruler":
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        return {"length_mm": math.hypot(x1 - x0, y1 - y0)}
    if kind == "angle":
        return {"angle_deg": angle_deg(*pts[:3])}
    mask = ellipse_mask(p, pts[0], pts[-1]) if kind == "ellipse" else polygon_mask(p, pts)
    return roi_stats(p.extract(voxels, index), mask, p.row_mm * p.col_mm)


def make(kind: str, p: Plane, voxels: np.ndarray, index: int, points, existing: list[Annotation]) -> Annotation:
    """A new annotation with the next free label of its kind (R1, R2, E1, ...) and its statistics."""
    if kind not in KINDS:
        raise ValueError(f"unknown measurement {kind!r}")
    n = 1 + max((int(a.label[1:]) for a in existing if a.kind == kind and a.label[1:].isdigit()), default=0)
    pts = tuple((float(x), float(y)) for x, y in points)
    return Annotation(kind, p.name, int(index), pts, f"{PREFIX[kind]}{n}", measure(kind, p, voxels, index, pts))


CSV_COLUMNS = ("label", "kind", "plane", "image", "length_mm", "angle_deg", "mean", "sd", "min", "max", "area_mm2", "n_pixels")


def write_csv(annotations: list[Annotation], path: str) -> int:
    """One row per measurement (image numbers 1-based, as on screen); returns the row count."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for a in annotations:
            s = a.stats
            cell = lambda k: "" if k not in s else f"{s[k]:.8g}"  # noqa: E731
            w.writerow([a.label, a.kind, a.plane, a.index + 1, cell("length_mm"), cell("angle_deg"), cell("mean"),
                        cell("sd"), cell("min"), cell("max"), cell("area_mm2"), s.get("n", "")])
    return len(annotations)
