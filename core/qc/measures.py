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
The normal ranges in NORMAL were measured on good strips of the real-head library (numbers below).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from core.qc.preprocess import foreground, prepared
from core.volume import Volume

# Head-frame ranges: 2-98 % of the 244 unflagged strips of all six head groups (skullstrip_qc 2.1 data).
FACE_ML_NORMAL, FACE_FORWARD_NORMAL, BELOW_ML_NORMAL = (0.0, 340.0), (-20.0, 20.0), (0.0, 1030.0)
HEIGHT_NORMAL, LENGTH_NORMAL, WIDTH_NORMAL = (109.0, 168.0), (137.0, 180.0), (116.0, 146.0)
NORMAL = {"kept_ml": (1100.0, 2600.0), "anterior_mm": (75.0, 110.0), "inferior_ai_ml": (0.0, 240.0),
          "boundary_bright": (0.0, 0.5), "flat_top": (0.0, 0.25), "cut_plane": (0.0, 0.3), "background_zero": (0.9, 1.0),
          "face_ml": FACE_ML_NORMAL, "face_forward_mm": FACE_FORWARD_NORMAL, "below_ml": BELOW_ML_NORMAL,
          "height_mm": HEIGHT_NORMAL, "length_mm": LENGTH_NORMAL, "width_mm": WIDTH_NORMAL}
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

    @classmethod
    def empty(cls) -> "Measures":
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "")

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items() if k in NORMAL}

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
            parts.append(f"brain loss: {self.kept_ml:.0f} ml kept (good strips >= {NORMAL['kept_ml'][0]:.0f}), "
                         f"height {self.height_mm:.0f} mm and length {self.length_mm:.0f} mm for a width of {self.width_mm:.0f} mm, "
                         f"{self.cut_plane:.0%} of the {self.cut_side or 'top'} surface in one plane, edge brightness {self.boundary_bright:.2f}")
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


def measure(volume: Volume, grid: tuple[np.ndarray, tuple[float, float, float]] | None = None) -> Measures:
    """`grid`: the volume already through core.qc.preprocess.prepared (the scorer shares it)."""
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
    return Measures(kept_ml=n * voxel_ml, anterior_mm=anterior_mm, inferior_ai_ml=float(ai.sum()) * voxel_ml,
                    boundary_bright=boundary, flat_top=flats["top"], cut_plane=flats[side], background_zero=background_zero,
                    cut_side=side, **_head_frame(kept, zz, yy, xx, (dz, dy, dx)))
