"""Acute hemorrhages with each subtype's morphology and location (head frame, mm).

epidural          biconvex lens against the inner table, within one bone (never wider than ~70 deg)
subdural          thin crescent along the convexity, wide, may cross sutures
intraparenchymal  lobar or deep blob with a rim of low-density edema
intraventricular  blood layering in the dependent (posterior) ventricles of a supine patient
subarachnoid      blood replacing CSF in basal cisterns, Sylvian fissures and convexity sulci
bg_hematoma       putaminal hematoma on the patient's left or right (also intraparenchymal)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synth.ct_head import LENTIFORM, HeadParams
from training.synth.shapes import angle_diff, ellipsoid_q

SUBTYPES = ("epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")


@dataclass
class Lesion:
    kind: str  # one of SUBTYPES or 'bg_hematoma'
    hu: float
    params: dict

    def mask(self, u, v, w, geo: dict, anat: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(blood mask, edema mask) on this slice; None when the slice misses the lesion."""
        return _MASKERS[self.kind](self, u, v, w, geo, anat)


def draw_lesion(kind: str, rng: np.random.Generator, head: HeadParams, side: str | None = None) -> Lesion:
    hu = float(rng.uniform(58, 88))
    if kind == "epidural":
        params = dict(theta=_lateral_angle(rng), w=rng.uniform(0, 45), half_angle=np.radians(rng.uniform(20, 34)),
                      half_height=rng.uniform(18, 32), thick=rng.uniform(9, 20))
    elif kind == "subdural":
        params = dict(theta=_lateral_angle(rng), w=rng.uniform(10, 45), half_angle=np.radians(rng.uniform(50, 85)),
                      half_height=rng.uniform(35, 60), thick=rng.uniform(5, 13))
        hu = float(rng.uniform(55, 80))
    elif kind == "intraparenchymal":
        lobar = rng.random() < 0.6
        if lobar:
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(30, 45)
            center = (dist * np.cos(ang) * head.ax / 75, dist * np.sin(ang) * head.ay / 92, rng.uniform(10, 45))
        else:
            s = rng.choice([-1, 1])
            center = (s * rng.uniform(8, 14), rng.uniform(-16, -6), rng.uniform(2, 10))  # thalamic
        r = rng.uniform(7, 17)
        params = dict(center=center, radii=(r * rng.uniform(0.7, 1.0), r * rng.uniform(0.8, 1.2), r * rng.uniform(0.6, 0.9)),
                      edema=rng.uniform(3, 8), lobe=rng.uniform(0, 2 * np.pi))
    elif kind == "bg_hematoma":
        sgn = -1.0 if side == "left" else 1.0  # head frame u points to the patient's Right
        c = LENTIFORM[0]
        r = rng.uniform(8, 16)
        params = dict(center=(sgn * (c[0] + rng.uniform(-2, 3)), c[1] + rng.uniform(-5, 5), c[2] + rng.uniform(-2, 4)),
                      radii=(r * rng.uniform(0.6, 0.8), r * rng.uniform(0.9, 1.3), r * rng.uniform(0.6, 0.85)),
                      edema=rng.uniform(3, 7), lobe=rng.uniform(0, 2 * np.pi), side=side)
        hu = float(rng.uniform(62, 88))
    elif kind == "intraventricular":
        params = dict(level=rng.uniform(5, 14), body=bool(rng.random() < 0.5))
        hu = float(rng.uniform(55, 82))
    elif kind == "subarachnoid":
        params = dict(cisterns=bool(rng.random() < 0.75), sylvian=bool(rng.random() < 0.7),
                      sulci_theta=rng.uniform(0, 2 * np.pi), sulci_span=np.radians(rng.uniform(45, 110)),
                      sulci_w=rng.uniform(15, 55))
        if not params["cisterns"] and not params["sylvian"]:
            params["sylvian"] = True
        hu = float(rng.uniform(50, 72))
    else:
        raise ValueError(f"unknown lesion kind {kind!r}")
    return Lesion(kind, hu, params)


def _lateral_angle(rng) -> float:
    """Convexity location: lateral (temporo-parietal) or frontal/occipital-lateral."""
    base = rng.choice([0.0, np.pi])
    return float(base + rng.uniform(-0.9, 0.9))


def _extra_axial(les: Lesion, u, v, w, geo, anat, power: float):
    p = les.params
    dth = angle_diff(geo["theta"], p["theta"]) / p["half_angle"]
    dw = (w - p["w"]) / p["half_height"]
    prof = 1 - np.abs(dth) ** power - np.abs(dw) ** power
    if float(prof.max()) <= 0:
        return None, None
    thick = p["thick"] * np.sqrt(np.clip(prof, 0, None))
    d = geo["depth"] - geo["table_in"]
    blood = (d >= 0) & (d < thick) & anat["intracranial_or_brain"]
    return blood, None


def _epidural(les, u, v, w, geo, anat):
    return _extra_axial(les, u, v, w, geo, anat, power=2.0)  # lens: biconvex, bounded by sutures


def _subdural(les, u, v, w, geo, anat):
    return _extra_axial(les, u, v, w, geo, anat, power=4.0)  # flat wide crescent


def _blob(les, u, v, w, geo, anat):
    p = les.params
    q = ellipsoid_q(u, v, w, p["center"], tuple(r + p["edema"] for r in p["radii"]))
    if q is None:
        return None, None
    ang = np.arctan2(v - p["center"][1], u - p["center"][0])
    wobble = 1 + 0.12 * np.cos(3 * ang + p["lobe"]) + 0.06 * np.cos(5 * ang + 2 * p["lobe"])
    qb = ellipsoid_q(u, v, w, p["center"], p["radii"])
    blood = ((qb < wobble ** 2) & anat["brain"]) if qb is not None else np.zeros(u.shape, dtype=bool)
    edema = (q < wobble ** 2) & ~blood & anat["brain"]
    return blood, edema


def _ivh(les, u, v, w, geo, anat):
    vent = anat["ventricles"]
    if not vent.any():
        return None, None
    p = les.params
    # dependent layering: blood fills the most posterior part of the ventricles (supine patient)
    post = -30.0 - 0.0 * w
    level = post + p["level"] + (12.0 if p["body"] else 0.0)
    blood = vent & (v < level) & (np.abs(u) > 3)
    return (blood if blood.any() else None), None


def _sah(les, u, v, w, geo, anat):
    p = les.params
    blood = np.zeros(u.shape, dtype=bool)
    if p["cisterns"]:
        blood |= anat["cisterns"]
    if p["sylvian"]:
        blood |= anat["sylvian"]
    near = (np.abs(angle_diff(geo["theta"], p["sulci_theta"])) < p["sulci_span"] / 2) & (np.abs(w - p["sulci_w"]) < 22)
    blood |= anat["sulci"] & near
    return (blood if blood.any() else None), None


_MASKERS = {
    "epidural": _epidural, "subdural": _subdural, "intraparenchymal": _blob, "bg_hematoma": _blob,
    "intraventricular": _ivh, "subarachnoid": _sah,
}
