"""The intracranial space of a head CT slice, for cutting CT heat maps to where a hemorrhage can be.

An 8x8 Grad-CAM upsampled to the slice paints the scalp, the skull base and the air beside the head;
a map that peaks there reads as a finding outside the brain. The mask is computed in what the CT models
read, the brain-window 8-bit export (`core.imaging.pseudo_hu`), where bone saturates at 255:

1. the skull is the saturated pixels, closed over small gaps (sutures, foramina, partial volume);
2. the cranium is the closed skull with its holes filled (the head outline bounds it: no scalp);
3. the skull shell (saturated pixels within `SHELL_MM` of the cranium's outer edge, and the bone joined to
   it: skull base, petrous ridges) is removed; a saturated blob standing free inside is kept, since a dense
   clot also saturates in the brain window;
4. the result is widened by `MARGIN_MM` so a collection along the inner table keeps its rim, and air walled in
   by bone (0 in the export: sinuses, mastoid cells inside the skull's outline) is taken out; dark pools away
   from bone stay (CSF also reads 0 in the brain window).

When the skull does not enclose anything (vertex cap, skull base, a tight crop) the convex hull of the
bone stands in for step 2 and every saturated pixel counts as bone; with no bone at all the head outline is
returned (`IntracranialMask.kind` says which).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from core.imaging.pseudo_hu import hu_to_window8
from core.models.preprocess import head_mask_2d
from core.volume import Volume

BONE_LEVEL = 250  # 8-bit brain-window value treated as saturated (JPEG exports blur 255 a little)
CLOSE_MM = 4.0
SHELL_MM = 9.0  # outer table to inner table, with the closing's growth
MARGIN_MM = 2.0
HEADREST_MM = 3.0  # head-rest shells and blankets are thinner than this; the scalp and skull are not
NEAR_MM = 8.0  # skull pieces (skull base, a craniotomy's edges) lie this close to the main one
MIN_INTERIOR = 0.08
WORK_GRID = 256
MIN_COMPARTMENT_MM2 = 300.0  # a temporal lobe's cut at the skull base is larger; diploe and sinus specks are smaller
AIR_LEVEL = 4.0  # 8-bit brain-window value (about 1 HU) below which a smoothed pixel is air or fat  # of the head's area: less means the skull did not close


@dataclass(frozen=True)
class IntracranialMask:
    mask: np.ndarray  # bool [h, w]
    kind: str  # 'skull' | 'bone hull' | 'head outline'


def _disk(radius_px: float) -> np.ndarray:
    r = max(1, int(round(radius_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _hull(mask: np.ndarray) -> np.ndarray:
    pts = cv2.findNonZero(mask.astype(np.uint8))
    out = np.zeros(mask.shape, np.uint8)
    if pts is not None:
        cv2.fillPoly(out, [cv2.convexHull(pts)], 1)
    return out.astype(bool)


def _air_by_bone(v: np.ndarray, bone: np.ndarray, px_mm: float) -> np.ndarray:
    """Air spaces the bone walls in (sinuses, mastoid cells, orbits' fat): 0 in the export and touching bone.

    CSF may also read 0 in the brain window (its floor is 0 HU), so a dark pool is taken out only when bone
    borders it: ventricles and cisterns do not touch the skull."""
    dark = (cv2.blur(v.astype(np.float32), (5, 5)) < AIR_LEVEL).astype(np.uint8)
    n, lab = cv2.connectedComponents(dark, connectivity=8)
    if n <= 1:
        return dark.astype(bool)
    near_bone = cv2.dilate(bone.astype(np.uint8), _disk(1.5 / px_mm)).astype(bool)
    walled = np.unique(lab[near_bone & (dark > 0)])
    return np.isin(lab, walled[walled > 0])


def _skull_part(bone: np.ndarray, px_mm: float) -> np.ndarray:
    """The largest bone piece and what lies within NEAR_MM of it: the skull, not a head-rest shell beside it."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(bone.astype(np.uint8), connectivity=8)
    if n <= 2:
        return bone
    big = lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    near = cv2.dilate(big.astype(np.uint8), _disk(NEAR_MM / px_mm)).astype(bool)
    keep = np.unique(lab[near & bone])
    return np.isin(lab, keep[keep > 0])


def _inside(cranium: np.ndarray, bone: np.ndarray, px_mm: float) -> np.ndarray:
    """Cranium minus its skull shell, widened by the margin, kept within the cranium."""
    depth = cv2.distanceTransform(cranium.astype(np.uint8), cv2.DIST_L2, 5) * px_mm  # mm from the cranium's outer edge
    shell = bone & (depth <= SHELL_MM)
    # bone joined to the shell (skull base, petrous ridges, clinoids) goes with it; a saturated blob standing free
    # inside (a dense clot) stays
    n, lab = cv2.connectedComponents((bone & cranium).astype(np.uint8), connectivity=8)
    if n > 1:
        touching = np.unique(lab[shell])
        shell = shell | np.isin(lab, touching[touching > 0])
    inner = cranium & ~shell
    inner = ndimage.binary_fill_holes(inner)
    n, lab = cv2.connectedComponents(inner.astype(np.uint8), connectivity=4)
    if n > 2:  # the brain's compartments (posterior fossa, temporal lobes at the skull base), not specks between the tables
        sizes = np.bincount(lab.ravel())[1:] * px_mm ** 2
        keep = [i + 1 for i, a in enumerate(sizes) if a >= MIN_COMPARTMENT_MM2 or a == sizes.max()]
        inner = np.isin(lab, keep)
    inner = cv2.dilate(inner.astype(np.uint8), _disk(MARGIN_MM / px_mm)).astype(bool)
    return inner & cranium


def intracranial_mask(hu_slice: np.ndarray, pixel_mm: float) -> IntracranialMask:
    """bool [h, w] of the space inside the skull's inner table; `hu_slice` in HU or brain-window pseudo-HU."""
    v = hu_to_window8(hu_slice)
    # the head outline, after an opening that cuts the thin head-rest and blanket arcs touching it
    body = cv2.morphologyEx((v > 0).astype(np.uint8), cv2.MORPH_OPEN, _disk(HEADREST_MM / pixel_mm))
    head = head_mask_2d(np.where(body > 0, 0.0, -1000.0).astype(np.float32))
    bone = (v >= BONE_LEVEL) & head
    if bone.sum() * pixel_mm ** 2 < 50.0:  # under 0.5 cm2 of bone: no skull in this slice
        return IntracranialMask(head, "head outline")
    closed = cv2.morphologyEx(bone.astype(np.uint8), cv2.MORPH_CLOSE, _disk(CLOSE_MM / pixel_mm)).astype(bool)
    closed = _skull_part(closed, pixel_mm)
    bone &= closed
    cranium = ndimage.binary_fill_holes(closed) & head
    air = _air_by_bone(v, bone, pixel_mm)
    inner = _inside(cranium, closed, pixel_mm) & ~air
    if inner.sum() >= MIN_INTERIOR * head.sum():
        return IntracranialMask(inner, "skull")
    # skull base or vertex: no closed ring, so saturated pixels inside are bone (petrous, sphenoid), not clot
    cranium = _hull(bone) & head
    inner = _inside(cranium, closed, pixel_mm) & ~air & ~cv2.dilate(bone.astype(np.uint8), _disk(1.0 / pixel_mm)).astype(bool)
    if inner.any():  # small at the skull base, but never the scalp or the face
        return IntracranialMask(inner, "bone hull")
    return IntracranialMask(head, "head outline")


def intracranial_masks(volume: Volume, grid: int = WORK_GRID) -> np.ndarray:
    """bool [z, y, x] on the volume's grid (canonical orientation): one mask per axial slice, computed at
    about `grid` pixels across (the skull is centimetres wide; 512x512 would only cost time) and resized back."""
    _, ny, nx = volume.shape
    f = min(1.0, grid / max(ny, nx))
    px = float(np.sqrt(volume.spacing[1] * volume.spacing[2])) / f
    size = (max(1, round(nx * f)), max(1, round(ny * f)))
    out = np.empty(volume.shape, dtype=bool)
    for k, sl in enumerate(volume.voxels):
        small = cv2.resize(sl, size, interpolation=cv2.INTER_AREA) if f < 1 else sl
        m = intracranial_mask(small, px).mask.astype(np.uint8)
        out[k] = cv2.resize(m, (nx, ny), interpolation=cv2.INTER_NEAREST) > 0 if f < 1 else m > 0
    return out


#: pixel size assumed for an 8-bit slice image at the model grid (no header says it): a ~240 mm field of view
NOMINAL_MODEL_PX_MM = 240.0 / 256.0


def intracranial_cam(cam: np.ndarray, hu_slice: np.ndarray, pixel_mm: float = NOMINAL_MODEL_PX_MM) -> np.ndarray:
    """One label's small Grad-CAM [h, w] -> [H, W] on the slice's grid (same orientation), cut to the intracranial
    space of `hu_slice` [H, W]: where a CT heat map may point (score-slices, tests on real slices)."""
    H, W = hu_slice.shape
    up = cv2.resize(np.ascontiguousarray(cam, dtype=np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    return up * intracranial_mask(hu_slice, pixel_mm).mask
