"""Cheap deterministic measures that explain a QC flag in plain terms, beside the CNN.

Computed on the kept tissue (core.qc.preprocess.foreground: above 10 % of the robust maximum) of
the volume after block-averaging to <= 2 mm, in mm, canonical RAS:
  kept_ml          tissue volume kept; a brain is ~1100-2000 ml, a head 3000+ ml
  anterior_mm      how far the tissue reaches in front of its own centroid (face kept -> far)
  inferior_ai_ml   ml kept anterior-inferior to the centroid (> 40 mm in front, > 10 mm below):
                   where the face lies; small for a good strip
  boundary_bright  mean intensity on the kept tissue's outer surface / its median; a strip cut
                   through brain leaves bright tissue on its edge, a good one dark CSF
  flat_top         fraction of the top surface lying in one axial plane (a cap cut by a plane)
  cut_plane        the largest such fraction over the top, front, back, left and right surfaces
                   (cut_side names it): a cut by a plane in any direction
  background_zero  fraction of the voxels outside the tissue that are exactly 0: skull-stripping
                   tools write 0 there, a scanner image has noise (a hint of "not stripped")
Head-frame measures, from the top of the tissue (the vertex) and the forehead (the front of the
tissue 30-60 mm below the top), so they do not depend on where the centroid falls:
  face_ml          ml of tissue 80-160 mm below the top and less than 40 mm behind the forehead:
                   nose, eyes, cheeks and lips when a face is kept; ~0 after defacing or a strip
  face_forward_mm  how far the tissue 70-160 mm below the top reaches past the forehead (the nose
                   sticks out; a brain's temporal lobes and a defaced head stay behind it)
  below_ml         ml of tissue more than 110 mm below the top (face, skull base, neck)
  height_mm, length_mm, width_mm   extent of the tissue (1st-99th percentile), and their ratios
                   (a cap cut off lowers height/width, a frontal cut length/width)
Brain-intrinsic measures (since 2.2; a stripped brain has no head frame, so what it should have kept
must come from the brain itself, never from its size in ml, which differs between heads):
  plane_frac       the largest fraction of the outer surface lying within 3 mm of one tangent plane,
                   over 1,000 directions (top, bottom, front, back, sides and every oblique): the
                   disc a flat cut leaves; a whole brain touches a tangent plane only in a small patch
  plane_lost_pct   the brain volume that disc implies was cut off: the cap of a sphere of the kept
                   volume whose base is the disc's area, in % of kept + cap (scale-free)
  rim_rel          median intensity 2-4 mm inside the strip's edge (the nonzero mask of a tool's
                   output) / the median of the tissue: a good strip ends in dark CSF, one eroded
                   into the brain or cut through it ends in grey or white matter
  rim_dark         fraction of that rim darker than half the tissue median (CSF, dura)
  rim_bright       fraction of that rim brighter than 0.8 x the tissue median (grey/white matter, not
                   CSF): low when the strip ends in CSF, high when it was eroded into the brain
                   (T1_head_ext2 and MNI152 strips: good 0.01-0.50 but one at 0.70, reference eroded
                   3-8 mm 0.53-0.86)
  dark_frac        fraction of the strip darker than half the tissue median (outer and sulcal CSF,
                   which a tight strip loses first)
The brain-intrinsic measures cost about 55 ms of CPU a volume (stop 14, median of 25; 171 ms of wall time once on a
busy machine; the cut disc over 1,000 directions most of it)
and the shipped stack does not use them: they only explain a flag. `measure(..., intrinsic=False)`
leaves them NaN ("not computed": no CSV value, never outside a normal range) and `add_intrinsic`
fills them in later; core.tasks.skullstrip computes them for flagged files, when the card's stack
uses them, or when asked (the review window, on opening a row).
The normal ranges in NORMAL were measured on good strips of the real-head library (numbers below).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import ndimage

from core.qc.preprocess import foreground, prepared
from core.volume import Volume

# Head-frame ranges: 2-98 % of the 244 unflagged strips of all six head groups (skullstrip_qc 2.1 data).
FACE_ML_NORMAL, FACE_FORWARD_NORMAL, BELOW_ML_NORMAL = (0.0, 340.0), (-20.0, 20.0), (0.0, 1030.0)
HEIGHT_NORMAL, LENGTH_NORMAL, WIDTH_NORMAL = (109.0, 168.0), (137.0, 180.0), (116.0, 146.0)
# Brain-intrinsic ranges: 2-98 % of the 104 unflagged strips (no label; small cuts under 5 % included) of all
# six head groups (python -m training.synth mri-real, seed 0, skullstrip_qc 2.2 work).
PLANE_FRAC_NORMAL, PLANE_LOST_NORMAL, RIM_REL_NORMAL, RIM_DARK_NORMAL, DARK_FRAC_NORMAL = (0.0, 0.12), (0.0, 4.5), (0.0, 0.89), (0.05, 1.0), (0.06, 0.28)
RIM_BRIGHT_NORMAL = (0.0, 0.66)
NORMAL = {"kept_ml": (1100.0, 2600.0), "anterior_mm": (75.0, 110.0), "inferior_ai_ml": (0.0, 240.0),
          "boundary_bright": (0.0, 0.5), "flat_top": (0.0, 0.25), "cut_plane": (0.0, 0.3), "background_zero": (0.9, 1.0),
          "face_ml": FACE_ML_NORMAL, "face_forward_mm": FACE_FORWARD_NORMAL, "below_ml": BELOW_ML_NORMAL,
          "height_mm": HEIGHT_NORMAL, "length_mm": LENGTH_NORMAL, "width_mm": WIDTH_NORMAL,
          "plane_frac": PLANE_FRAC_NORMAL, "plane_lost_pct": PLANE_LOST_NORMAL, "rim_rel": RIM_REL_NORMAL,
          "rim_dark": RIM_DARK_NORMAL, "dark_frac": DARK_FRAC_NORMAL, "rim_bright": RIM_BRIGHT_NORMAL}
# From the 2-98 % range of the 54 unflagged strips of three real heads (T1_head_ext2, MNI152,
# colin27; python -m training.synth mri-real, seed 0): kept 1466-3182 ml, anterior 84-108 mm,
# anterior-inferior 42-242 ml, edge 0.25-0.47, cut plane 0.10-0.22. Face-kept strips: anterior-
# inferior 238-371 ml; brain-cut strips: kept from 1108 ml, cut plane up to 0.50; unstripped heads:
# kept 3150-5760 ml, background exactly 0 in 11-100 % (templates have a zero background). These
# explain a flag; they overlap too much to replace the network.
_SIDES = {"top": (0, False), "front": (1, False), "back": (1, True), "right": (2, False), "left": (2, True)}


@dataclass
class Measures:
    kept_ml: float
    anterior_mm: float
    inferior_ai_ml: float
    boundary_bright: float
    flat_top: float
    cut_plane: float
    background_zero: float
    cut_side: str = ""
    face_ml: float = 0.0
    face_forward_mm: float = 0.0
    below_ml: float = 0.0
    height_mm: float = 0.0
    length_mm: float = 0.0
    width_mm: float = 0.0
    plane_frac: float = 0.0
    plane_lost_pct: float = 0.0
    plane_side: str = ""
    rim_rel: float = 0.0
    rim_dark: float = 0.0
    dark_frac: float = 0.0
    rim_bright: float = 0.0

    @classmethod
    def empty(cls) -> "Measures":
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "")

    @property
    def has_intrinsic(self) -> bool:
        """False when the brain-intrinsic measures were left out (measure(..., intrinsic=False))."""
        return not all(math.isnan(getattr(self, k)) for k in INTRINSIC)

    def to_dict(self) -> dict[str, float | None]:
        """Rounded values; None for a measure not computed (an empty CSV cell, null in JSON)."""
        return {k: None if v != v else round(v, 3) for k, v in asdict(self).items() if k in NORMAL}

    def outside_normal(self) -> list[str]:
        """Names of measures outside their normal range, with the value, for the report."""
        out = []
        for k, (lo, hi) in NORMAL.items():
            v = getattr(self, k)
            if v < lo or v > hi:
                out.append(f"{k}={v:.2f} (normal {lo:g}-{hi:g})")
        return out

    def explain(self, flags: dict[str, bool]) -> str:
        """The measures that support (or fail to support) each raised flag, in words."""
        parts = []
        if flags.get("not_stripped"):
            parts.append(f"not stripped: {self.kept_ml:.0f} ml of tissue kept (a brain is {NORMAL['kept_ml'][0]:.0f}-{NORMAL['kept_ml'][1]:.0f}), "
                         f"{self.background_zero:.0%} of the background exactly 0 (tools write 0)")
        if flags.get("face"):
            parts.append(f"face: {self.face_ml:.0f} ml of tissue in the face region below the forehead (good strips < {NORMAL['face_ml'][1]:.0f}), "
                         f"reaching {self.face_forward_mm:+.0f} mm past the forehead (good strips < {NORMAL['face_forward_mm'][1]:+.0f}), "
                         f"{self.inferior_ai_ml:.0f} ml of tissue in front of and below the centre (good strips < {NORMAL['inferior_ai_ml'][1]:.0f})")
        if flags.get("brain_loss"):
            disc = (f"{self.plane_frac:.0%} of the surface on one {self.plane_side or 'top'} plane (a cut of about {self.plane_lost_pct:.0f} % of the brain), "
                    if self.has_intrinsic else "")
            rim = (f", brain tissue in {self.rim_bright:.0%} of the rim 2-4 mm inside the edge (good strips < {NORMAL['rim_bright'][1]:.0%}), "
                   f"rim {self.rim_rel:.2f} of the tissue median ({self.rim_dark:.0%} dark; a good strip ends in dark CSF)" if self.has_intrinsic else "")
            parts.append(f"brain loss: {self.kept_ml:.0f} ml kept (good strips >= {NORMAL['kept_ml'][0]:.0f}), "
                         f"height {self.height_mm:.0f} mm and length {self.length_mm:.0f} mm for a width of {self.width_mm:.0f} mm, "
                         f"{disc}{self.cut_plane:.0%} of the {self.cut_side or 'top'} surface in one plane, edge brightness {self.boundary_bright:.2f}{rim}")
        if not parts:
            off = self.outside_normal()
            parts.append("no flag; " + ("outside the good-strip range: " + ", ".join(off) if off else "all measures in the good-strip range"))
        return "; ".join(parts)


def _flat(kept: np.ndarray, axis: int, reverse: bool) -> float:
    """Fraction of the columns along `axis` whose outermost tissue lies on the most common level (+-1)."""
    k = np.moveaxis(kept, axis, 0)
    if not reverse:
        k = k[::-1]
    has = k.any(axis=0)
    if not has.any():
        return 0.0
    level = np.argmax(k, axis=0)[has]
    hist = np.bincount(level)
    peak = int(hist.argmax())
    return float(hist[max(0, peak - 1):peak + 2].sum() / level.size)


def _directions(n: int = 1000) -> np.ndarray:
    """n unit vectors spread evenly over the sphere (Fibonacci lattice), [n, 3] as (z, y, x)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([z, r * np.sin(phi), r * np.cos(phi)], 1)


_DIRS = _directions()
_DIRS_F32 = _DIRS.astype(np.float32)
PLANE_TOL_MM = 4.0


def _side_name(d: np.ndarray) -> str:
    """top / bottom / front / back / left / right for a direction within 30 degrees of an axis, else oblique."""
    k = int(np.abs(d).argmax())
    if abs(d[k]) < np.cos(np.radians(30)):
        return "oblique"
    return (("bottom", "top"), ("back", "front"), ("left", "right"))[k][int(d[k] > 0)]


def _crop(mask: np.ndarray, margin: int = 2) -> tuple[np.ndarray, tuple[slice, ...]]:
    """The mask cut to its bounding box plus `margin` voxels (cheaper morphology), and the box."""
    idx = [np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != k)))[0] for k in range(3)]
    if any(i.size == 0 for i in idx):
        return mask, (slice(None),) * 3
    box = tuple(slice(max(0, int(i[0]) - margin), int(i[-1]) + 1 + margin) for i in idx)
    return mask[box], box


def _erode(mask: np.ndarray, n: int = 1) -> np.ndarray:
    """n steps of 6-neighbour binary erosion (outside the array counts as background), by slicing."""
    m = mask
    for _ in range(n):
        e = m.copy()
        e[0] = e[-1] = False
        e[:, 0] = e[:, -1] = False
        e[:, :, 0] = e[:, :, -1] = False
        e[1:] &= m[:-1]
        e[:-1] &= m[1:]
        e[:, 1:] &= m[:, :-1]
        e[:, :-1] &= m[:, 1:]
        e[:, :, 1:] &= m[:, :, :-1]
        e[:, :, :-1] &= m[:, :, 1:]
        m = e
    return m


def _fill(mask: np.ndarray) -> np.ndarray:
    """binary_fill_holes, faster: background components that touch the border stay background."""
    lab, _ = ndimage.label(~mask)
    border = np.unique(np.concatenate([lab[0].ravel(), lab[-1].ravel(), lab[:, 0].ravel(), lab[:, -1].ravel(),
                                       lab[:, :, 0].ravel(), lab[:, :, -1].ravel()]))
    return ~np.isin(lab, border[border > 0])


def _cut_disc(kept: np.ndarray, spacing: tuple[float, float, float], kept_ml: float) -> tuple[float, float, str]:
    """plane_frac, plane_lost_pct and plane_side (module docstring), on the tissue mask thinned to
    >= 3 mm voxels: the tangent plane, over _DIRS, that holds the most outer-surface points within
    PLANE_TOL_MM; the disc's area from those points on a grid of the plane (cells of the thinned
    voxel size); the spherical cap of the kept volume's radius with that base."""
    step = [max(1, int(3.0 // s)) for s in spacing]
    m = _crop(kept)[0][::step[0], ::step[1], ::step[2]]
    sp = np.asarray([s * k for s, k in zip(spacing, step)], np.float32)
    filled = _fill(np.pad(m, 1))
    pts = np.argwhere(filled & ~_erode(filled)).astype(np.float32) * sp
    if len(pts) < 50:
        return 0.0, 0.0, ""
    proj = pts @ _DIRS_F32.T  # [N, K]
    on = proj >= proj.max(0) - PLANE_TOL_MM
    frac = on.mean(0)
    k = int(frac.argmax())
    d = _DIRS[k]
    sel = pts[on[:, k]].astype(np.float64)
    u = np.cross(d, [1.0, 0.0, 0.0] if abs(d[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    w = np.cross(d, u)
    cell = float(sp.max())
    area = len({(int(a), int(b)) for a, b in np.floor(np.c_[sel @ u, sel @ w] / cell)}) * cell * cell  # mm^2
    big_r = (3 * kept_ml * 1000.0 / (4 * np.pi)) ** (1 / 3)
    r = min(np.sqrt(area / np.pi), big_r)
    h = big_r - np.sqrt(big_r ** 2 - r ** 2)
    cap = np.pi * h * h * (3 * big_r - h) / 3 / 1000.0  # ml
    return float(frac[k]), float(100.0 * cap / (kept_ml + cap)), _side_name(d)


def _rim(v: np.ndarray, kept: np.ndarray, spacing: tuple[float, float, float], zero_background: bool) -> dict[str, float]:
    """rim_rel, rim_dark, rim_bright and dark_frac (module docstring). The strip is the nonzero
    mask when the background is a tool's exact 0, else the tissue mask; its rim lies 2-4 mm inside its
    edge (the first 2 mm are partial volume from resampling), on the grid sampled at ~2 mm."""
    zero = {"rim_rel": 0.0, "rim_dark": 0.0, "rim_bright": 0.0, "dark_frac": 0.0}
    k = [max(1, int(round(2.0 / s))) for s in spacing]  # sampled at ~2 mm (cheap; the rim is 2 mm deep)
    v, kept = v[::k[0], ::k[1], ::k[2]], kept[::k[0], ::k[1], ::k[2]]
    spacing = tuple(s * f for s, f in zip(spacing, k))
    med = float(np.median(v[kept]))
    if med <= 0:
        return zero
    strip, box = _crop(v > 0.02 * med if zero_background else kept, margin=1)
    v = v[box]
    step = float(min(spacing))
    outer = _erode(strip, max(1, int(round(2.0 / step))))
    inner = _erode(outer, max(1, int(round(2.0 / step))))
    rim = v[outer & ~inner]
    if rim.size == 0:
        return zero
    return {"rim_rel": float(np.median(rim) / med), "rim_dark": float((rim < 0.5 * med).mean()),
            "rim_bright": float((rim > 0.8 * med).mean()), "dark_frac": float((v[strip] < 0.5 * med).mean())}


def _head_frame(kept: np.ndarray, zz: np.ndarray, yy: np.ndarray, xx: np.ndarray, spacing: tuple[float, float, float]) -> dict[str, float]:
    """The head-frame measures (module docstring): depths from the top, distances from the forehead."""
    dz, dy, dx = spacing
    top = int(zz.max())
    depth = (top - zz) * dz
    front = np.full(kept.shape[0], np.nan)  # per axial slice: the front of the tissue (99th percentile of y), mm
    order = np.argsort(zz, kind="stable")
    bounds = np.searchsorted(zz[order], np.arange(kept.shape[0] + 1))
    for z in range(kept.shape[0]):
        ys = yy[order[bounds[z]:bounds[z + 1]]]
        if ys.size >= 50:
            front[z] = float(np.percentile(ys, 99)) * dy
    slice_depth = (top - np.arange(kept.shape[0])) * dz
    band = front[(slice_depth >= 30) & (slice_depth <= 60)]
    forehead = float(np.nanmedian(band)) if np.isfinite(band).any() else float(yy.max() * dy)
    low = front[(slice_depth >= 70) & (slice_depth <= 160)]
    voxel_ml = dz * dy * dx / 1000.0
    ext = [float(np.percentile(a, 99) - np.percentile(a, 1) + 1) * d for a, d in ((zz, dz), (yy, dy), (xx, dx))]
    return {"face_ml": float(((yy * dy > forehead - 40.0) & (depth > 80) & (depth < 160)).sum()) * voxel_ml,
            "face_forward_mm": float(np.nanmax(low) - forehead) if np.isfinite(low).any() else -100.0,
            "below_ml": float((depth > 110).sum()) * voxel_ml, "height_mm": ext[0], "length_mm": ext[1], "width_mm": ext[2]}


INTRINSIC = ("plane_frac", "plane_lost_pct", "rim_rel", "rim_dark", "dark_frac", "rim_bright")  # numeric; plane_side goes with them
_NOT_COMPUTED = {**{k: float("nan") for k in INTRINSIC}, "plane_side": ""}


def _intrinsic(v: np.ndarray, kept: np.ndarray, spacing: tuple[float, float, float], kept_ml: float,
               background_zero: float) -> dict:
    plane_frac, plane_lost, plane_side = _cut_disc(kept, spacing, kept_ml)
    return {"plane_frac": plane_frac, "plane_lost_pct": plane_lost, "plane_side": plane_side,
            **_rim(v, kept, spacing, background_zero > 0.5)}


def add_intrinsic(m: Measures, volume: Volume, grid: tuple[np.ndarray, tuple[float, float, float]] | None = None) -> Measures:
    """`m` with its brain-intrinsic measures computed (the same numbers as measure(..., intrinsic=True))."""
    if m.has_intrinsic:
        return m
    v, sp = grid if grid is not None else prepared(volume.voxels, volume.spacing)
    kept = foreground(v)
    if not kept.any():
        return replace(m, **{k: 0.0 for k in INTRINSIC}, plane_side="")
    return replace(m, **_intrinsic(v, kept, sp, m.kept_ml, m.background_zero))


def measure(volume: Volume, grid: tuple[np.ndarray, tuple[float, float, float]] | None = None, intrinsic: bool = True) -> Measures:
    """`grid`: the volume already through core.qc.preprocess.prepared (the scorer shares it).
    `intrinsic=False`: the brain-intrinsic measures are left NaN (add_intrinsic computes them later)."""
    v, (dz, dy, dx) = grid if grid is not None else prepared(volume.voxels, volume.spacing)
    kept = foreground(v)
    n = int(kept.sum())
    if n == 0:
        return Measures.empty()
    outside = ~ndimage.binary_dilation(kept, iterations=2)
    background_zero = float((v[outside] == 0).mean()) if outside.any() else 1.0
    voxel_ml = dz * dy * dx / 1000.0
    zz, yy, xx = np.nonzero(kept)
    cz, cy = zz.mean(), yy.mean()
    anterior_mm = float((yy.max() - cy) * dy)
    ai = (yy > cy + 40.0 / dy) & (zz < cz - 10.0 / dz)
    surface = kept & ~ndimage.binary_erosion(kept, iterations=1)
    med = float(np.median(v[kept]))
    boundary = float(v[surface].mean() / med) if med > 0 else 0.0
    flats = {side: _flat(kept, ax, rev) for side, (ax, rev) in _SIDES.items()}
    side = max(flats, key=flats.get)
    extra = _intrinsic(v, kept, (dz, dy, dx), n * voxel_ml, background_zero) if intrinsic else _NOT_COMPUTED
    return Measures(kept_ml=n * voxel_ml, anterior_mm=anterior_mm, inferior_ai_ml=float(ai.sum()) * voxel_ml,
                    boundary_bright=boundary, flat_top=flats["top"], cut_plane=flats[side], background_zero=background_zero,
                    cut_side=side, **_head_frame(kept, zz, yy, xx, (dz, dy, dx)), **extra)
