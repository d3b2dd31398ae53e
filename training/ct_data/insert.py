"""Hemorrhages inserted into real head CT slices, placed by what the image shows.

Works on HU (true HU, or pseudo-HU from a brain-window export) at any grid, radiological orientation
(anterior up, patient left on image right). The intracranial space is found from the skull (bone is
>= 80 HU: saturated in a brain-window export), the inner table is its edge, and each subtype goes
where it lives:

- epidural: a biconvex lens against the inner table (short arc, thick middle);
- subdural: a crescent along the inner table (long arc, thin to 16 mm, tapered ends);
- intraparenchymal: an irregular blob with an edema rim in parenchyma away from the table;
- intraventricular: the dependent (posterior) part of a central CSF space, with a fluid level;
- subarachnoid: sulcal CSF near the cortex filled with blood at partial volume;
- basal-ganglia hematoma: an intraparenchymal blob lateral to the midline at the deep grey level,
  with its patient side known exactly (the only laterality label we can trust).

Blood is 50-90 HU with a little texture and partial-volume edges (the mask is blurred into a
mixing fraction). Calcification mimics (>= 150 HU dots) are hard negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

KINDS = ("epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
MIN_INTRACRANIAL_FRACTION = 0.06  # of the slice: smaller cross-sections (vertex, skull base) get no insert
#: an insert is a hemorrhage label only if a reader could see it: at least this many mm^2 where the blood raises
#: the brain-window value (0-80 HU) by VISIBLE_HU or more. Without it 67 % of the intraventricular and 34 % of the
#: subarachnoid inserts on real training slices showed fewer than 30 such pixels (flecks in skull-base CSF).
MIN_VISIBLE_MM2 = 25.0
VISIBLE_HU = 15.0
#: extra-axial blood lies against the inner table, which a brain-window export saturates (>= 80 HU): there it is seen
#: only where it stays darker than bone. Blood at 80-90 HU merged with the skull into a "thick skull" that was
#: labelled positive; the model learnt that a white band along the table is not blood (stop 16).
EXTRA_AXIAL = ("epidural", "subdural", "subdural_thin")
BONE_DISTINCT_HU = 74.0
EXTRA_AXIAL_BLOOD_HU = (52.0, 78.0)


@dataclass
class Anatomy:
    intracranial: np.ndarray  # bool
    depth: np.ndarray  # float: pixels from the inner table (0 outside; holes such as calcifications do not count as table)
    centre: tuple[float, float]  # (y, x) centroid of the intracranial space
    angle: np.ndarray  # float: angle of each pixel around the centre (radians)
    px_mm: float


def anatomy(hu: np.ndarray, px_mm: float = 1.0) -> Anatomy | None:
    """The intracranial space inside the skull, or None when the slice shows too little of it."""
    bone = hu >= 72.0  # a brain-window export saturates bone at 80 HU; JPEG softens it
    if bone.sum() < 50:
        return None
    k = max(5, int(round(5 / max(px_mm, 0.3))) | 1)
    sealed = cv2.morphologyEx(bone.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)
    filled = ndi.binary_fill_holes(sealed)
    inside = filled & ~sealed & (hu > -50)
    lab, n = ndi.label(inside)
    if n == 0:
        return None
    sizes = ndi.sum(inside, lab, range(1, n + 1))
    ic = lab == (1 + int(np.argmax(sizes)))
    ic = ndi.binary_opening(ic, iterations=2)
    if ic.mean() < MIN_INTRACRANIAL_FRACTION:
        return None
    # depth from the inner table only: a calcification (choroid plexus, pineal; >= 72 HU like bone) is a hole in the
    # intracranial space, and measured from it an extra-axial insert would ring the calcification (stop 19: 16 % of
    # CT-ICH training slices have such holes; 3-12 % of extra-axial inserts touched one)
    depth = ndi.distance_transform_edt(ndi.binary_fill_holes(ic))
    yy, xx = np.nonzero(ic)
    cy, cx = float(yy.mean()), float(xx.mean())
    Y, X = np.mgrid[: hu.shape[0], : hu.shape[1]]
    return Anatomy(ic, depth, (cy, cx), np.arctan2(Y - cy, X - cx), px_mm)


def _arc_weight(angle: np.ndarray, centre: float, half_span: float) -> np.ndarray:
    d = np.angle(np.exp(1j * (angle - centre)))
    return np.clip(1 - (d / half_span) ** 2, 0, None)


def _blend_blood(hu: np.ndarray, mask: np.ndarray, rng: np.random.Generator, level: tuple[float, float] = (50, 90),
                 sharp: float | None = None) -> np.ndarray:
    blood = rng.uniform(*level) + rng.normal(0, 3, hu.shape).astype(np.float32)
    sigma = sharp if sharp is not None else rng.uniform(0.5, 1.2)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return (hu * (1 - alpha) + blood * alpha).astype(np.float32)


#: (greatest thickness in mm, half the arc in degrees) drawn uniformly per extra-axial insert. An epidural is a
#: short thick lens; a subdural a long crescent. Acute subdurals reach 10-20 mm: up to 0.7.0 they were drawn
#: 2.5-10 mm only, so every thick extra-axial collection the trunk saw was an epidural lens, and 0.7.0 read the
#: real demo's 12 mm, 160-degree subdural (and 53 % of inserted validation subdurals) as epidural (stop 17).
EXTRA_AXIAL_SHAPE: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "epidural": ((6.0, 18.0), (15.0, 35.0)),
    "subdural": ((2.5, 16.0), (35.0, 85.0)),
    "subdural_thin": ((2.0, 5.0), (40.0, 90.0)),
}
#: generated variants and the label they carry. A thin subdural is a 2-5 mm crescent over a long arc at 40-70 HU, as
#: CT-ICH's two real training subdurals are (patients 071 and 081, one nearly isodense; stop 18). It is not in KINDS, so
#: the held-out inserted sets (training.evaluate_real.inserted_set) stay as they were unless asked for it.
LABEL_OF_KIND = {"subdural_thin": "subdural"}
KIND_BLOOD_HU = {"subarachnoid": (45.0, 70.0), "intraparenchymal": (55.0, 85.0), "subdural_thin": (40.0, 70.0),
                 "epidural": EXTRA_AXIAL_BLOOD_HU, "subdural": EXTRA_AXIAL_BLOOD_HU}
#: thickness along the arc from its weight (1 at the centre, 0 at the ends): a lens peaks in the middle, a crescent
#: keeps nearly its full thickness over most of the arc.
EXTRA_AXIAL_PROFILE = {"epidural": lambda w: w, "subdural": np.sqrt, "subdural_thin": np.sqrt}


def extra_axial_shape(rng: np.random.Generator, kind: str, px_mm: float) -> tuple[float, float, float]:
    """(centre angle, half arc in radians, greatest thickness in pixels) of one epidural or subdural."""
    theta0 = rng.uniform(-np.pi, np.pi)
    (t_lo, t_hi), (h_lo, h_hi) = EXTRA_AXIAL_SHAPE[kind]
    half = np.radians(rng.uniform(h_lo, h_hi))
    return theta0, half, rng.uniform(t_lo, t_hi) / px_mm


def extra_axial_mask(an: Anatomy, kind: str, theta0: float, half: float, tmax: float) -> np.ndarray:
    """The collection along the inner table: EXTRA_AXIAL_PROFILE of the arc weight times tmax (pixels) deep."""
    thick = tmax * EXTRA_AXIAL_PROFILE[kind](_arc_weight(an.angle, theta0, half))
    return an.intracranial & (an.depth > 0) & (an.depth <= thick)


def _extra_axial(hu, an, rng, kind):
    return extra_axial_mask(an, kind, *extra_axial_shape(rng, kind, an.px_mm))


def _blob(shape, centre, radius, rng):
    """An irregular clot: 2-4 overlapping ellipses with a noisy edge (real hematomas are rarely round)."""
    Y, X = np.mgrid[: shape[0], : shape[1]]
    wobble = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), max(radius / 3, 1.0))
    wobble /= max(float(np.abs(wobble).max()), 1e-6)
    out = np.zeros(shape, dtype=bool)
    for i in range(int(rng.integers(2, 5))):
        r = radius * (1.0 if i == 0 else rng.uniform(0.4, 0.8))
        off = (0.0, 0.0) if i == 0 else tuple(rng.normal(0, radius * 0.45, 2))
        a, b = r * rng.uniform(0.55, 1.0), r * rng.uniform(0.55, 1.0)
        t = rng.uniform(0, np.pi)
        dy, dx = Y - centre[0] - off[0], X - centre[1] - off[1]
        u = (dx * np.cos(t) + dy * np.sin(t)) / a
        v = (-dx * np.sin(t) + dy * np.cos(t)) / b
        out |= np.sqrt(u ** 2 + v ** 2) + 0.35 * wobble < 1.0
    return out


def _intraparenchymal(hu, an, rng, centre=None, radius_mm=None):
    if centre is None:
        ok = an.intracranial & (an.depth > 12 / an.px_mm) & (hu > 18) & (hu < 50)
        ys, xs = np.nonzero(ok)
        if len(ys) == 0:
            return None, hu
        i = rng.integers(len(ys))
        centre = (ys[i], xs[i])
    radius = (radius_mm or rng.uniform(4, 18)) / an.px_mm
    m = _blob(hu.shape, centre, radius, rng) & an.intracranial & (an.depth > 2)
    rim = ndi.binary_dilation(m, iterations=max(1, int(round(rng.uniform(1, 5) / an.px_mm)))) & ~m & an.intracranial
    out = hu.copy()
    out[rim] = np.minimum(out[rim], rng.uniform(12, 22))  # perihematomal edema is darker
    out = cv2.GaussianBlur(out, (0, 0), 0.6) * rim + out * ~rim
    return m, out.astype(np.float32)


def _intraventricular(hu, an, rng):
    csf = an.intracranial & (hu < 20) & (an.depth > 12 / an.px_mm)
    csf = ndi.binary_opening(csf, iterations=1)
    lab, n = ndi.label(csf)
    if n == 0:
        return None
    sizes = ndi.sum(csf, lab, range(1, n + 1))
    good = [i + 1 for i, s in enumerate(sizes) if s * an.px_mm ** 2 >= 12]
    if not good:
        return None
    comp = lab == good[int(rng.integers(len(good)))]
    ys = np.nonzero(comp)[0]
    level = np.quantile(ys, rng.uniform(0.2, 0.8))  # fluid level: blood layers posteriorly (image bottom)
    m = comp & (np.arange(hu.shape[0])[:, None] >= level)
    return m if m.sum() >= 6 else None


def _subarachnoid(hu, an, rng):
    sulci = an.intracranial & (hu < 20) & (an.depth > 1) & (an.depth < 22 / an.px_mm)
    sector = _arc_weight(an.angle, rng.uniform(-np.pi, np.pi), np.radians(rng.uniform(30, 90))) > 0
    m = ndi.binary_dilation(sulci & sector, iterations=1) & an.intracranial & (hu < 35)
    return m if m.sum() >= 10 else None


def insert_lesion(hu: np.ndarray, kind: str, rng: np.random.Generator, px_mm: float = 1.0,
                  an: Anatomy | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Insert one hemorrhage of `kind` (KINDS or LABEL_OF_KIND's variants); returns (new HU, blood mask) or None where the slice cannot take it."""
    an = an or anatomy(hu, px_mm)
    if an is None:
        return None
    if kind in EXTRA_AXIAL:
        m = _extra_axial(hu, an, rng, kind)
        out = hu
    elif kind == "intraparenchymal":
        m, out = _intraparenchymal(hu, an, rng)
    elif kind == "intraventricular":
        m, out = _intraventricular(hu, an, rng), hu
    elif kind == "subarachnoid":
        m, out = _subarachnoid(hu, an, rng), hu
    else:
        raise ValueError(f"unknown hemorrhage kind {kind!r}")
    if m is None or m.sum() * px_mm ** 2 < 10:
        return None
    level = KIND_BLOOD_HU.get(kind, (50.0, 90.0))
    new = _blend_blood(out, m, rng, level)
    if visible_mm2(hu, new, px_mm, below_bone=kind in EXTRA_AXIAL) < MIN_VISIBLE_MM2:
        return None
    return new, m


def visible_mm2(before: np.ndarray, after: np.ndarray, px_mm: float = 1.0, below_bone: bool = False) -> float:
    """Area where an insert brightened the brain-window export (0-80 HU) by VISIBLE_HU or more.

    below_bone: count only blood that also stays distinct from the saturated skull (<= BONE_DISTINCT_HU), as an
    extra-axial collection must to be told from the inner table.
    """
    d = np.clip(after, 0, 80) - np.clip(before, 0, 80)
    seen = d >= VISIBLE_HU
    if below_bone:
        seen &= after <= BONE_DISTINCT_HU
    return float(seen.sum()) * px_mm ** 2


def basal_ganglia_centre(an: Anatomy, side: str, rng: np.random.Generator) -> tuple[float, float]:
    """Deep grey matter: lateral to the midline by ~20-30 mm, near the AP middle. Patient left = image right."""
    cy, cx = an.centre
    ys, xs = np.nonzero(an.intracranial)
    half_w = (xs.max() - xs.min()) / 2
    off = rng.uniform(0.22, 0.38) * half_w
    x = cx + off if side == "left" else cx - off
    y = cy + rng.uniform(-0.12, 0.08) * (ys.max() - ys.min())
    return y, x


def insert_bg_hematoma(hu: np.ndarray, side: str, rng: np.random.Generator, px_mm: float = 1.0,
                       an: Anatomy | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    an = an or anatomy(hu, px_mm)
    if an is None or an.intracranial.mean() < 0.18:
        return None
    m, out = _intraparenchymal(hu, an, rng, centre=basal_ganglia_centre(an, side, rng), radius_mm=rng.uniform(6, 20))
    if m is None or m.sum() * px_mm ** 2 < 10:
        return None
    return _blend_blood(out, m, rng, (55, 85)), m


def insert_calcification(hu: np.ndarray, rng: np.random.Generator, px_mm: float = 1.0, an: Anatomy | None = None) -> np.ndarray | None:
    """Hard negative: 1-4 dense dots (150-600 HU) in the deep grey matter or the pineal region."""
    an = an or anatomy(hu, px_mm)
    if an is None:
        return None
    out = hu.copy()
    for _ in range(int(rng.integers(1, 5))):
        y, x = basal_ganglia_centre(an, str(rng.choice(["left", "right"])), rng) if rng.random() < 0.7 else (an.centre[0] + 8 / px_mm, an.centre[1])
        r = rng.uniform(0.8, 3.0) / px_mm
        Y, X = np.ogrid[: hu.shape[0], : hu.shape[1]]
        dot = (Y - y) ** 2 + (X - x) ** 2 <= r * r
        out[dot & an.intracranial] = rng.uniform(150, 600)
    return cv2.GaussianBlur(out, (0, 0), 0.5)
