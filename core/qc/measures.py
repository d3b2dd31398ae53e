"""Cheap deterministic measures that explain a QC flag in plain terms, beside the CNN.

All are computed on the kept mask (voxels > 0) of the stripped volume, in mm, canonical RAS:
  kept_ml          volume kept; compare with NORMAL below
  anterior_mm      how far the mask reaches in front of its own centroid (face kept -> far)
  inferior_ai_ml   ml kept in the anterior-inferior block where the face lies (in front of the
                   centroid by > 40 mm and below it by > 10 mm); small for a good strip
  boundary_bright  mean intensity on the mask's outer surface / median kept intensity; a strip cut
                   through brain leaves bright tissue on its edge (> ~0.8), a good one dark CSF
  flat_top         fraction of the top surface lying in one axial plane (a cap cut by a plane)
The normal ranges in NORMAL come from generated good strips (numbers below).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from core.volume import Volume

NORMAL = {"kept_ml": (1150.0, 2000.0), "anterior_mm": (75.0, 105.0), "inferior_ai_ml": (0.0, 160.0),
          "boundary_bright": (0.0, 0.62), "flat_top": (0.0, 0.2)}
# Calibrated on 60 generated strips (seed 1): good strips (n=19) had kept 1258-1865 ml (5-95 %),
# anterior 83-99 mm, anterior-inferior 40-133 ml, boundary 0.54-0.60; brain-cut strips (n=27)
# kept 804-1241 ml with boundary 0.64-0.83; face-kept strips (n=14) kept 2450-3260 ml, anterior
# 110-125 mm, anterior-inferior 253-435 ml. flat_top catches only axial cuts (cuts are oblique).


@dataclass
class Measures:
    kept_ml: float
    anterior_mm: float
    inferior_ai_ml: float
    boundary_bright: float
    flat_top: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}

    def outside_normal(self) -> list[str]:
        """Names of measures outside their normal range, with the value, for the report."""
        out = []
        for k, (lo, hi) in NORMAL.items():
            v = getattr(self, k)
            if v < lo or v > hi:
                out.append(f"{k}={v:.1f} (normal {lo:g}-{hi:g})")
        return out


def measure(volume: Volume) -> Measures:
    v = volume.voxels
    kept = v > 0
    dz, dy, dx = volume.spacing
    n = int(kept.sum())
    if n == 0:
        return Measures(0.0, 0.0, 0.0, 0.0, 0.0)
    voxel_ml = dz * dy * dx / 1000.0
    zz, yy, xx = np.nonzero(kept)
    cz, cy = zz.mean(), yy.mean()
    anterior_mm = float((yy.max() - cy) * dy)
    ai = (yy > cy + 40.0 / dy) & (zz < cz - 10.0 / dz)
    inner = ndimage.binary_erosion(kept, iterations=1)
    surface = kept & ~inner
    med = float(np.median(v[kept]))
    boundary = float(v[surface].mean() / med) if med > 0 else 0.0
    # top cap: among columns with tissue, how many end on the single most common top slice (+-1)
    top = np.where(kept.any(axis=0), kept.shape[0] - 1 - np.argmax(kept[::-1], axis=0), -1)
    tops = top[top >= 0]
    hist = np.bincount(tops)
    peak = int(hist.argmax())
    flat = float(hist[max(0, peak - 1):peak + 2].sum() / len(tops))
    return Measures(kept_ml=n * voxel_ml, anterior_mm=anterior_mm, inferior_ai_ml=float(ai.sum()) * voxel_ml,
                    boundary_bright=boundary, flat_top=flat)
