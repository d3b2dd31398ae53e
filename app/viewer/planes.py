"""Display geometry of the three 2-D planes, derived from the volume's affine (no Qt here).

Radiological convention: axial seen from the feet (patient left on image right, anterior up);
coronal seen from the front (patient left on image right, superior up); sagittal seen from the
patient's left (anterior on image left, superior up). Which array axis is "axial" and whether rows
or columns are flipped are read from the affine, so a non-canonical volume still shows correctly.

Display coordinates are millimetres: column c spans [c*dc, (c+1)*dc], row r spans [r*dr, (r+1)*dr],
row 0 at the top, so anisotropic voxels keep their true aspect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORIENTATIONS = ("axial", "coronal", "sagittal")
# RAS unit vectors
_R, _A, _S = np.eye(3)
# per plane: slice normal, desired "down" on screen, desired "right" on screen (RAS)
_WANT = {
    "axial": (_S, -_A, -_R),
    "coronal": (_A, -_S, -_R),
    "sagittal": (_R, -_S, -_A),
}
_CODES = (("R", "L"), ("A", "P"), ("S", "I"))  # (+, -) per RAS axis


def axis_direction(affine: np.ndarray, array_axis: int) -> np.ndarray:
    """Unit RAS direction of increasing index along array axis (0 = z, 1 = y, 2 = x)."""
    col = np.asarray(affine, dtype=float)[:3, 2 - array_axis]
    n = np.linalg.norm(col)
    return col / n if n > 0 else col


def direction_code(vec: np.ndarray) -> str:
    k = int(np.argmax(np.abs(vec)))
    return _CODES[k][0] if vec[k] > 0 else _CODES[k][1]


@dataclass(frozen=True)
class Plane:
    name: str
    axis: int  # array axis held fixed (the slice index)
    row_axis: int  # array axis running down the screen
    col_axis: int  # array axis running across the screen
    flip_rows: bool
    flip_cols: bool
    row_mm: float
    col_mm: float
    n_rows: int
    n_cols: int
    n_slices: int
    labels: dict  # 'top', 'bottom', 'left', 'right' -> anatomical letter

    slice_mm: float = 0.0  # spacing along the slice axis

    @property
    def width_mm(self) -> float:
        return self.n_cols * self.col_mm

    @property
    def height_mm(self) -> float:
        return self.n_rows * self.row_mm

    def extract(self, data: np.ndarray, index: int) -> np.ndarray:
        """The 2-D display image [rows, cols] of `data` ([z, y, x]) at slice `index` (a view, no copy)."""
        sl: list = [slice(None)] * 3
        sl[self.axis] = int(index)
        img = data[tuple(sl)]
        if self.row_axis > self.col_axis:  # remaining axes come out in array order
            img = img.T
        return img[:: -1 if self.flip_rows else 1, :: -1 if self.flip_cols else 1]

    def to_display(self, zyx: tuple[int, int, int]) -> tuple[float, float]:
        """Voxel centre -> display (x_mm, y_mm)."""
        r, c = zyx[self.row_axis], zyx[self.col_axis]
        if self.flip_rows:
            r = self.n_rows - 1 - r
        if self.flip_cols:
            c = self.n_cols - 1 - c
        return ((c + 0.5) * self.col_mm, (r + 0.5) * self.row_mm)

    def from_display(self, x_mm: float, y_mm: float) -> tuple[int, int] | None:
        """Display mm -> (row-axis index, col-axis index) on the volume grid, None when outside."""
        c, r = int(np.floor(x_mm / self.col_mm)), int(np.floor(y_mm / self.row_mm))
        if not (0 <= r < self.n_rows and 0 <= c < self.n_cols):
            return None
        if self.flip_rows:
            r = self.n_rows - 1 - r
        if self.flip_cols:
            c = self.n_cols - 1 - c
        return r, c

    def voxel_at(self, cursor: tuple[int, int, int], x_mm: float, y_mm: float) -> tuple[int, int, int] | None:
        """The voxel (z, y, x) under a display point on the slice through `cursor`."""
        rc = self.from_display(x_mm, y_mm)
        if rc is None:
            return None
        out = list(cursor)
        out[self.row_axis], out[self.col_axis] = rc
        return tuple(out)  # type: ignore[return-value]


def plane(affine: np.ndarray, shape: tuple[int, int, int], name: str) -> Plane:
    """Geometry of one named plane for a volume of array `shape` [z, y, x] with this affine."""
    if name not in _WANT:
        raise ValueError(f"unknown plane {name!r}; one of {ORIENTATIONS}")
    normal, down, right = _WANT[name]
    dirs = [axis_direction(affine, a) for a in range(3)]
    spacing = [float(np.linalg.norm(np.asarray(affine)[:3, 2 - a])) for a in range(3)]
    axis = int(np.argmax([abs(d @ normal) for d in dirs]))
    rest = [a for a in range(3) if a != axis]
    # the remaining axis closer to the wanted "down" direction runs down the screen
    row_axis = max(rest, key=lambda a: abs(dirs[a] @ down))
    col_axis = next(a for a in rest if a != row_axis)
    flip_rows = bool(dirs[row_axis] @ down < 0)
    flip_cols = bool(dirs[col_axis] @ right < 0)
    down_vec = -dirs[row_axis] if flip_rows else dirs[row_axis]
    right_vec = -dirs[col_axis] if flip_cols else dirs[col_axis]
    labels = {"bottom": direction_code(down_vec), "top": direction_code(-down_vec),
              "right": direction_code(right_vec), "left": direction_code(-right_vec)}
    return Plane(name, axis, row_axis, col_axis, flip_rows, flip_cols, spacing[row_axis], spacing[col_axis],
                 int(shape[row_axis]), int(shape[col_axis]), int(shape[axis]), labels, spacing[axis])


MAX_UPSAMPLE = 12  # at most 12 display rows per thick slice (5 mm over 0.45 mm pixels needs 11)


def slab_count(p: Plane, slab_mm: float) -> int:
    """Slices in a slab of `slab_mm` on plane `p` (1: a plain slice): the fewest that cover it (10 mm of 5 mm
    slices: 2; of 4 mm slices: 3, 12 mm), so a thin bleed inside the asked thickness is never left out."""
    spacing = p.slice_mm
    return max(1, int(np.ceil(slab_mm / spacing - 0.01))) if slab_mm > 0 and spacing > 0 else 1


def slab_range(p: Plane, index: int, n: int) -> tuple[int, int]:
    """[start, stop) of an n-slice slab centred on `index`, shifted to stay inside the volume."""
    n = min(n, p.n_slices)
    start = int(np.clip(index - (n - 1) // 2, 0, p.n_slices - n))
    return start, start + n


_REDUCE = {"mip": np.max, "minip": np.min, "avg": np.mean}


def extract_slab(p: Plane, data: np.ndarray, index: int, slab_mm: float, mode: str) -> np.ndarray:
    """The display image of a thick slab: max (MIP), min (MinIP) or mean of the slab's slices."""
    n = slab_count(p, slab_mm)
    if n == 1:
        return p.extract(data, index)
    start, stop = slab_range(p, index, n)
    sl: list = [slice(None)] * 3
    sl[p.axis] = slice(start, stop)
    reduced = _REDUCE[mode](data[tuple(sl)], axis=p.axis, keepdims=True)
    return p.extract(reduced.astype(np.float32, copy=False), 0)


def upsample_factors(p: Plane) -> tuple[int, int]:
    """Display pixels per voxel along rows and columns so that thick voxels are interpolated to about the
    finer in-plane size (1 along an axis that is already fine)."""
    fine = min(p.row_mm, p.col_mm)
    return (int(np.clip(round(p.row_mm / fine), 1, MAX_UPSAMPLE)), int(np.clip(round(p.col_mm / fine), 1, MAX_UPSAMPLE)))


def _linear_weights(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample positions of k sub-pixels per pixel, at their centres, as (i0, i1, w) for linear interpolation."""
    t = np.clip((np.arange(n * k) + 0.5) / k - 0.5, 0, n - 1)
    i0 = np.floor(t).astype(np.intp)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, (t - i0).astype(np.float32)


class LinearUpsampler:
    """Linear interpolation of a display image by integer factors (rows, cols), weights cached per shape."""

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple] = {}

    def __call__(self, img: np.ndarray, kr: int, kc: int) -> np.ndarray:
        if kr == 1 and kc == 1:
            return img
        out = img
        if kr > 1:
            key = (out.shape[0], kr)
            if key not in self._cache:
                self._cache[key] = _linear_weights(*key)
            i0, i1, w = self._cache[key]
            a = out[i0]
            out = a + (out[i1] - a) * w[:, None]
        if kc > 1:
            key = (out.shape[1], kc)
            if key not in self._cache:
                self._cache[key] = _linear_weights(*key)
            i0, i1, w = self._cache[key]
            a = out[:, i0]
            out = a + (out[:, i1] - a) * w[None, :]
        return np.ascontiguousarray(out, dtype=np.float32)
