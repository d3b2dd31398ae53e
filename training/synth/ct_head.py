"""A normal adult head in CT numbers, evaluated analytically per slice.

Head frame (mm): u to patient Right, v Anterior, w Superior, origin near the third ventricle.
Layers follow the depth below the skin (scalp, outer table, diploe, inner table, CSF, cortex, white
matter), so head shape, skull thickness and atrophy vary smoothly per seed; deep structures are
ellipsoids placed where they sit in a real head (ventricles, basal ganglia, thalami, cisterns,
posterior fossa, orbits, sinuses, petrous bones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training.synth.shapes import angle_diff, ellipsoid, ellipsoid_q

AIR = -1000.0


@dataclass
class HeadParams:
    ax: float  # half width of the head (skin), mm
    ay: float  # half length
    az_top: float  # vertex height above the origin
    az_low: float  # shape scale below the origin
    harm: tuple[float, float, float, float]  # shape harmonics: a2, phase2, a3, phase3
    scalp: float
    skull: float  # mean skull thickness
    skull_var: tuple[float, float]  # thickness harmonic amplitude and phase
    csf_gap: float  # extra-axial CSF (atrophy)
    vent: float  # ventricle enlargement, mm
    grey: float
    white: float
    csf: float
    table_hu: float
    diploe_hu: float
    calcified: bool
    calc_hu: float
    sulcus_n: int
    sulcus_phase: float
    noise_sd: float
    streak: float
    streak_phase: float
    fissure: float = 1.2
    extras: dict = field(default_factory=dict)

    @staticmethod
    def draw(rng: np.random.Generator) -> "HeadParams":
        atrophy = rng.uniform(0.0, 1.0) ** 2
        return HeadParams(
            ax=rng.uniform(68, 78), ay=rng.uniform(86, 98), az_top=rng.uniform(82, 94), az_low=rng.uniform(72, 82),
            harm=(rng.uniform(0, 0.03), rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.02), rng.uniform(0, 2 * np.pi)),
            scalp=rng.uniform(4, 7), skull=rng.uniform(5.5, 8.0), skull_var=(rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)),
            csf_gap=1.0 + 3.0 * atrophy, vent=4.0 * atrophy + rng.uniform(-0.5, 1.0),
            grey=rng.uniform(36, 42), white=rng.uniform(25, 30), csf=rng.uniform(3, 12),
            table_hu=rng.uniform(1300, 1900), diploe_hu=rng.uniform(450, 800),
            calcified=bool(rng.random() < 0.35), calc_hu=rng.uniform(140, 420),
            sulcus_n=int(rng.integers(22, 34)), sulcus_phase=rng.uniform(0, 2 * np.pi),
            noise_sd=rng.uniform(3.0, 5.0), streak=rng.uniform(4, 14), streak_phase=rng.uniform(0, 2 * np.pi),
            fissure=1.0 + 1.5 * atrophy,
        )


# deep structures: name -> (center (u, v, w), radii) for the right side; mirrored for the left
LATERAL_VENTRICLE = [((8.0, 2.0, 20.0), (4.0, 26.0, 9.0)),  # body
                     ((10.0, 24.0, 12.0), (4.5, 9.0, 8.0)),  # frontal horn
                     ((14.0, -28.0, 8.0), (4.0, 12.0, 7.0))]  # occipital horn (dependent when supine)
CAUDATE = ((14.0, 18.0, 10.0), (4.5, 8.0, 8.0))
LENTIFORM = ((22.0, 4.0, 3.0), (6.5, 13.0, 9.0))
PALLIDUM = ((17.0, 4.0, 2.0), (2.2, 3.5, 3.0))
THALAMUS = ((9.0, -12.0, 6.0), (7.0, 10.0, 8.0))


def outer_radius(theta, w, p: HeadParams):
    """Skin radius (mm) at angle theta in the axial plane, height w."""
    if np.ndim(w) == 0:
        s = np.sqrt(max(0.0, 1 - (w / (p.az_top if w >= 0 else p.az_low)) ** 2))
    else:
        scale = np.where(w >= 0, p.az_top, p.az_low)
        s = np.sqrt(np.clip(1 - (w / scale) ** 2, 0.0, None))
    a2, f2, a3, f3 = p.harm
    base = p.ax * p.ay / np.sqrt((p.ay * np.cos(theta)) ** 2 + (p.ax * np.sin(theta)) ** 2)
    return s * base * (1 + a2 * np.cos(2 * theta + f2) + a3 * np.cos(3 * theta + f3))


def head_layers(u, v, w, p: HeadParams) -> dict[str, np.ndarray]:
    """Geometry shared by anatomy and lesions: angle, depth below skin, inner-table depth."""
    theta = np.arctan2(v, u)
    r = np.hypot(u, v)
    depth = outer_radius(theta, w, p) - r
    skull_t = p.skull * (1 + 0.15 * np.cos(2 * theta + p.skull_var[1])) + p.skull_var[0] * np.cos(theta * 3)
    table_in = p.scalp + skull_t  # depth of the inner table
    return {"theta": theta, "r": r, "depth": depth, "skull_t": skull_t, "table_in": table_in}


def render_normal(u, v, w, p: HeadParams, geo: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """HU of a normal head on one slice's grid, plus masks lesions need (brain, csf, ventricles...)."""
    theta, depth, skull_t, table_in = geo["theta"], geo["depth"], geo["skull_t"], geo["table_in"]
    hu = np.full(u.shape, AIR, dtype=np.float32)
    inside = depth > 0
    hu[inside] = 30.0 + 10 * np.cos(theta[inside] * 5)  # scalp soft tissue
    fat = inside & (depth > 1.5) & (depth < p.scalp * 0.6)
    hu[fat] = -70.0
    bone = (depth >= p.scalp) & (depth < table_in)
    rel = (depth - p.scalp) / np.maximum(skull_t, 1e-3)
    hu[bone] = np.where(np.abs(rel[bone] - 0.5) < 0.22, p.diploe_hu, p.table_hu)
    intracranial = depth >= table_in
    brain_surface = table_in + p.csf_gap
    csf = intracranial & (depth < brain_surface)
    brain = depth >= brain_surface
    low = float(np.max(w)) < -14.0

    # cortex and white matter by depth below the brain surface
    bdepth = depth - brain_surface
    cortex = brain & (bdepth < 3.2)
    # sulci: radial CSF clefts whose angle wanders with height
    sulc_angle = p.sulcus_n * theta + 2.2 * np.sin(w / 9.0 + p.sulcus_phase) + 0.8 * np.sin(3 * theta)
    sulc_len = 5.0 + 9.0 * (0.5 + 0.5 * np.sin(7 * theta + 3 * np.sin(w / 15.0) + p.sulcus_phase))
    taper = np.clip(bdepth / sulc_len, 0, 1)  # clefts narrow with depth, like real sulci
    sulci = brain & (bdepth < sulc_len) & (np.cos(sulc_angle) > 0.90 - 0.03 * p.csf_gap + 0.08 * taper)
    # Sylvian fissures (deep lateral clefts, level of the basal ganglia)
    sylvian = brain & (np.abs(w - 2) < 14) & (bdepth < 28) & (
        (np.abs(angle_diff(theta, np.radians(12))) < 0.06 + 0.02 * p.csf_gap) | (np.abs(angle_diff(theta, np.radians(168))) < 0.06 + 0.02 * p.csf_gap))
    # interhemispheric fissure and falx above the third ventricle, front and back
    fissure = brain & (np.abs(u) < p.fissure) & (w > -5) & (np.abs(v) > 18 - np.clip(w, 0, 60) * 0.3)
    falx = fissure & (np.abs(u) < 0.45) & (w > 5)

    hu[intracranial] = p.csf
    hu[brain] = p.white
    hu[cortex] = p.grey

    masks = {"brain": brain.copy(), "intracranial": intracranial, "csf_space": csf | sulci | sylvian | fissure}
    # deep grey matter
    for center, radii, val in ((CAUDATE[0], CAUDATE[1], p.grey), (LENTIFORM[0], LENTIFORM[1], p.grey - 1),
                               (THALAMUS[0], THALAMUS[1], p.grey - 3)):
        for side in (1, -1):
            m = ellipsoid(u, v, w, (side * center[0], center[1], center[2]), radii)
            if m is not None:
                hu[m & brain] = val
    # posterior fossa: cerebellum lower and posterior, brainstem in front of it
    if low:
        cereb = ellipsoid(u, v, w, (0, -40, -32), (48, 30, 22))
        if cereb is not None:
            hu[cereb & brain] = p.grey - 2
    pons = ellipsoid(u, v, w, (0, -14, -28), (13, 12, 18))
    if pons is not None:
        hu[pons & brain] = p.white + 3
    midbrain_q = ellipsoid_q(u, v, w, (0, -10, -8), (11, 10, 9))

    # CSF spaces
    hu[csf | sulci | sylvian | fissure] = p.csf
    hu[falx] = 75.0
    vent = np.zeros(u.shape, dtype=bool)
    grow = p.vent
    for center, radii in LATERAL_VENTRICLE:
        for side in (1, -1):
            m = ellipsoid(u, v, w, (side * (center[0] + grow * 0.5), center[1], center[2]),
                          (radii[0] + grow * 0.6, radii[1] + grow, radii[2] + grow * 0.5))
            if m is not None:
                vent |= m
    third = ellipsoid(u, v, w, (0, -2, 2), (1.3 + grow * 0.35, 11, 9))
    if third is not None:
        vent |= third
    fourth = ellipsoid(u, v, w, (0, -27, -33), (5, 3.5, 6))
    if fourth is not None:
        vent |= fourth
    vent &= brain
    hu[vent] = p.csf
    masks["ventricles"] = vent
    cisterns = np.zeros(u.shape, dtype=bool)
    if midbrain_q is not None:
        cisterns |= (midbrain_q > 1.0) & (midbrain_q < 1.55) & brain
        hu[(midbrain_q <= 1.0) & brain] = p.white + 4
    supra = ellipsoid(u, v, w, (0, 12, -13), (11, 7, 4.5))
    if supra is not None:
        cisterns |= supra & brain
    hu[cisterns] = p.csf
    masks["cisterns"] = cisterns
    masks["sulci"] = (sulci | sylvian) & ~vent
    masks["sylvian"] = sylvian

    # basal ganglia calcification (bilateral, a hemorrhage mimic)
    calc = np.zeros(u.shape, dtype=bool)
    if p.calcified:
        for side in (1, -1):
            m = ellipsoid(u, v, w, (side * PALLIDUM[0][0], PALLIDUM[0][1], PALLIDUM[0][2]), PALLIDUM[1])
            if m is not None:
                calc |= m & brain
        hu[calc] = p.calc_hu
    masks["calcification"] = calc

    # skull base: orbits, sinuses, petrous bones, anterior cranial fossa floor
    if float(np.min(w)) < -12:
        _skull_base(u, v, w, p, hu, geo, masks)
    masks["brain"] &= hu < 100  # what remains brain-like after the skull base
    return hu, masks


def _skull_base(u, v, w, p: HeadParams, hu: np.ndarray, geo: dict, masks: dict) -> None:
    depth = geo["depth"]
    inside = depth > 0
    ant = p.ay * 0.62
    # anterior skull base: below the frontal lobes the front of the head is bone, orbits, sinuses
    floor = -14 - 0.25 * np.abs(u)
    front = inside & (v > 18) & (w < floor) & (depth > p.scalp)
    hu[front] = np.where((np.cos(u * 0.9) * np.cos(v * 0.7) > 0.3), p.table_hu * 0.8, 350.0)[front]
    for side in (1, -1):
        orbit = ellipsoid(u, v, w, (side * 30, ant, -30), (17, 20, 15))
        if orbit is not None:
            o = orbit & inside
            hu[o] = -85.0  # orbital fat
            globe = ellipsoid(u, v, w, (side * 31, ant + 6, -30), (11.5, 11.5, 11.5))
            if globe is not None:
                hu[globe & inside] = 12.0
                lens = ellipsoid(u, v, w, (side * 31, ant + 16, -30), (4, 1.8, 4))
                if lens is not None:
                    hu[lens & inside] = 95.0
            nerve = ellipsoid(u, v, w, (side * 22, ant - 14, -30), (2.2, 10, 2.2))
            if nerve is not None:
                hu[nerve & inside] = 30.0
    ethmoid = ellipsoid(u, v, w, (0, ant - 2, -34), (11, 24, 14))
    if ethmoid is not None:
        m = ethmoid & inside
        septa = (np.abs(np.sin(v * 0.55)) < 0.18) | (np.abs(np.sin(u * 0.6)) < 0.15)
        hu[m] = np.where(septa[m], 600.0, AIR)
    sphenoid = ellipsoid(u, v, w, (0, 14, -26), (12, 11, 10))
    if sphenoid is not None:
        m = sphenoid & inside
        hu[m] = np.where(np.abs(u[m]) < 0.8, 700.0, AIR)
    for side in (1, -1):
        maxillary = ellipsoid(u, v, w, (side * 26, ant - 4, -58), (14, 18, 14))
        if maxillary is not None:
            hu[maxillary & inside] = AIR
        petrous = ellipsoid(u, v, w, (side * 34, -14, -36), (16, 8, 9))
        if petrous is not None:
            m = petrous & inside
            mastoid = ellipsoid(u, v, w, (side * 50, -22, -40), (9, 10, 10))
            hu[m] = p.table_hu
            if mastoid is not None:
                mm = mastoid & inside & (depth > p.scalp)
                cells = (np.sin(u * 1.3) * np.sin(v * 1.1) * np.sin(w * 1.2)) > 0.1
                hu[mm] = np.where(cells[mm], AIR, 900.0)
    clivus = ellipsoid(u, v, w, (0, 2, -40), (9, 7, 16))
    if clivus is not None:
        hu[clivus & inside] = 800.0
    masks["brain"] &= ~front
