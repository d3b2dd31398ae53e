"""Acute blood inserted into a real head CT slice in HU, placed by what the slice shows.

Used for the demo (`training.synth.demo_real`): the real GE head CT with a generated acute subdural
hematoma and intraventricular hemorrhage. Blood is 50-90 HU with the slice's own noise kept and
partial-volume edges (a blurred weight, not a hard stamp):

- subdural: a crescent along the inner table (inside `core.explain.intracranial_mask`), thickest in the
  middle of its arc and tapering to nothing at both ends, on one side of the head;
- intraventricular: the dependent (posterior, the patient lies supine) part of the lateral ventricles'
  CSF, found as low-density pixels deep in the brain near the midline, with a flat fluid level.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from core.explain.intracranial import intracranial_mask


BONE_HU = 150.0


@dataclass(frozen=True)
class Inserted:
    hu: np.ndarray  # float32 [y, x] with the blood
    weight: np.ndarray  # float32 [y, x] 0..1: how much of each pixel is blood (partial volume)


def _blend(hu: np.ndarray, weight: np.ndarray, blood_hu: float, rng: np.random.Generator) -> np.ndarray:
    """Replace the local mean by blood_hu where weight is 1, keeping the slice's own noise texture."""
    soft = np.clip(hu, -50.0, 100.0)  # the texture of soft tissue only: bone or air beside would read as "noise"
    noise = np.clip(soft - cv2.GaussianBlur(soft, (0, 0), 2.0), -25.0, 25.0)
    blood = blood_hu + 3.0 * rng.standard_normal(hu.shape).astype(np.float32)  # clot is not perfectly uniform
    blood = cv2.GaussianBlur(blood, (0, 0), 1.0)
    return (hu + weight * (blood + noise - hu)).astype(np.float32)


def _bone(hu: np.ndarray) -> np.ndarray:
    """Bone and calcification: never painted over by inserted blood."""
    return hu > BONE_HU


def _soft(mask: np.ndarray, px_mm: float, edge_mm: float = 0.8) -> np.ndarray:
    return np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), edge_mm / px_mm), 0, 1)


def subdural(hu: np.ndarray, px_mm: float, side: str, thickness_mm: float, span_deg: float,
             rng: np.random.Generator, blood_hu: float = 68.0) -> Inserted:
    """A crescent on the `side` ('image-left' | 'image-right') of the slice along the inner table.

    Thickness follows cos over the arc (max `thickness_mm` at its centre, lateral), zero at its ends."""
    ic = intracranial_mask(hu, px_mm)
    if ic.kind != "skull":
        return Inserted(hu.astype(np.float32), np.zeros_like(hu, dtype=np.float32))
    inside = ic.mask
    depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5) * px_mm  # mm from the inner table
    ys, xs = np.nonzero(inside)
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.mgrid[:hu.shape[0], :hu.shape[1]]
    ang = np.degrees(np.arctan2(yy - cy, xx - cx))  # 0 = image right, 180 = image left
    centre = 180.0 if side == "image-left" else 0.0
    d_ang = np.abs((ang - centre + 180.0) % 360.0 - 180.0)
    profile = np.clip(np.cos(np.radians(d_ang) * 90.0 / (span_deg / 2.0)), 0, 1)
    local_t = thickness_mm * profile
    core_mask = inside & (depth <= local_t) & (local_t > 0.5)
    # the collection displaces the brain, not the bone: bone (and the mask's inner-table margin in it) stays bone
    w = _soft(core_mask & ~_bone(hu), px_mm) * inside * ~_bone(hu)
    return Inserted(_blend(hu.astype(np.float32), w, blood_hu, rng), w)


def ventricles(hu: np.ndarray, px_mm: float) -> np.ndarray:
    """Lateral-ventricle CSF: smoothed 0-18 HU, at least 25 mm deep inside the skull, within 30 mm of the midline."""
    ic = intracranial_mask(hu, px_mm)
    if ic.kind != "skull":
        return np.zeros(hu.shape, bool)
    depth = cv2.distanceTransform(ic.mask.astype(np.uint8), cv2.DIST_L2, 5) * px_mm
    smooth = cv2.GaussianBlur(hu.astype(np.float32), (0, 0), 1.2 / px_mm)
    ys, xs = np.nonzero(ic.mask)
    mid_x = (xs.min() + xs.max()) / 2.0
    xx = np.arange(hu.shape[1])[None, :]
    csf = (smooth > -5) & (smooth < 18) & (depth > 25.0) & (np.abs(xx - mid_x) * px_mm < 30.0)
    csf = ndimage.binary_opening(csf, iterations=1)
    lab, n = ndimage.label(csf)
    if n == 0:
        return csf
    sizes = ndimage.sum(csf, lab, range(1, n + 1)) * px_mm ** 2
    keep = [i + 1 for i, s in enumerate(sizes) if s >= 20.0]  # mm2: ventricles, not sulci
    return np.isin(lab, keep)


def intraventricular(hu: np.ndarray, px_mm: float, level_frac: float, rng: np.random.Generator,
                     blood_hu: float = 62.0) -> Inserted:
    """Blood layering in the dependent part of the ventricles: below a flat level at `level_frac` of their extent
    (0 = the whole ventricle, 0.6 = the posterior 40%). Image rows grow posteriorly (anterior up)."""
    v = ventricles(hu, px_mm)
    if not v.any():
        return Inserted(hu.astype(np.float32), np.zeros_like(hu, dtype=np.float32))
    ys = np.nonzero(v)[0]
    level = ys.min() + level_frac * (ys.max() - ys.min())
    yy = np.arange(hu.shape[0])[:, None]
    core_mask = v & (yy >= level)
    w = _soft(core_mask, px_mm, 0.6) * ndimage.binary_dilation(v, iterations=2) * ~_bone(hu)  # choroid calcification stays
    return Inserted(_blend(hu.astype(np.float32), w, blood_hu, rng), w)
