"""Head CT phantom series with known hemorrhages: `make_ct_case(seed)`.

The case is built in canonical R, A, S arrays like `core.volume.Volume` ([z, y, x], x to the
patient's Right). Per-slice labels come from the inserted masks: a slice is positive for a subtype
when its mask covers at least `MIN_LESION_MM2` mm^2 of that slice (a one-voxel sliver is not a
finding a reader could call). A basal-ganglia hematoma also counts as intraparenchymal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from core.volume import SeriesIds, Volume, Window
from training.synth.ct_head import AIR, HeadParams, head_layers, render_normal
from training.synth.ct_lesions import SUBTYPES, Lesion, draw_lesion

ICH_LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
MIN_LESION_MM2 = 10.0
BG_LEVEL_W = (-6.0, 14.0)  # head-frame heights whose slices show the basal ganglia


@dataclass
class SynthCT:
    seed: int
    hu: np.ndarray  # int16 [z, y, x], canonical R, A, S
    affine: np.ndarray  # (x, y, z, 1) -> RAS mm
    masks: dict[str, np.ndarray]  # bool [z, y, x] per lesion kind present (+ calcification)
    slice_labels: dict[str, np.ndarray]  # bool [z] for the 6 ICH labels
    bg_side: str  # 'none' | 'left' | 'right' (patient side)
    bg_slices: np.ndarray  # bool [z]: slices at the basal-ganglia level
    lesions: list[Lesion] = field(default_factory=list)
    calcified: bool = False
    slice_mm: float = 5.0

    @property
    def spacing(self) -> tuple[float, float, float]:
        cols = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(cols[2]), float(cols[1]), float(cols[0]))

    @property
    def series_labels(self) -> dict[str, bool]:
        return {k: bool(v.any()) for k, v in self.slice_labels.items()}

    def to_volume(self) -> Volume:
        ids = SeriesIds(patient_id=f"SYN{self.seed:06d}", series_uid=f"synthetic-{self.seed}", series_description="synthetic head CT")
        return Volume(voxels=self.hu.astype(np.float32), affine=self.affine, modality="CT", ids=ids, window=Window(80, 40))


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cz, sz = np.cos(yaw), np.sin(yaw)
    cx, sx = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(roll), np.sin(roll)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rz @ rx @ ry


BG_FRACTION = 0.25  # share of generated heads with a basal-ganglia hematoma (half left, half right)


def draw_findings(rng: np.random.Generator, lesions: tuple[str, ...] | None, bg_side: str | None,
                  bg_fraction: float = BG_FRACTION) -> tuple[tuple[str, ...], str]:
    """Random findings when not given: ~30% normal, else 1-3 subtypes; `bg_fraction` with a BG hematoma.

    The default reproduces the historical rule (r < 0.125 left, r < 0.25 right), so existing seeds
    give the same data. The head anatomy is drawn before this, so it does not depend on
    `bg_fraction`; the findings (and the draws after them) do.
    """
    if not 0.0 <= bg_fraction <= 1.0:
        raise ValueError(f"bg_fraction must be within [0, 1], got {bg_fraction}")
    if bg_side is None:
        r = rng.random()
        bg_side = "left" if r < bg_fraction / 2 else ("right" if r < bg_fraction else "none")
    if lesions is None:
        if bg_side != "none" or rng.random() < 0.3:
            lesions = () if rng.random() < 0.7 else (str(rng.choice(SUBTYPES)),)
        else:
            k = int(rng.choice([1, 1, 2, 2, 3]))
            lesions = tuple(sorted(rng.choice(SUBTYPES, size=k, replace=False).tolist()))
    if bg_side not in ("none", "left", "right"):
        raise ValueError(f"bg_side must be none/left/right, got {bg_side!r}")
    bad = [k for k in lesions if k not in SUBTYPES]
    if bad:
        raise ValueError(f"unknown lesion types {bad}; choose from {SUBTYPES}")
    return tuple(lesions), bg_side


def make_ct_case(seed: int, *, n_slices: int | None = None, slice_mm: float = 5.0, size: int = 512,
                 lesions: tuple[str, ...] | None = None, bg_side: str | None = None,
                 calcified: bool | None = None, bg_fraction: float = BG_FRACTION) -> SynthCT:
    """One head CT series from skull base to vertex; deterministic for a given seed and arguments."""
    rng = np.random.default_rng(seed)
    head = HeadParams.draw(rng)
    if calcified is not None:
        head.calcified = calcified
    kinds, bg_side = draw_findings(rng, lesions, bg_side, bg_fraction)
    les = [draw_lesion(k, rng, head) for k in kinds]
    if bg_side != "none":
        les.append(draw_lesion("bg_hematoma", rng, head, side=bg_side))

    fov = rng.uniform(220, 250)
    dx = fov / size
    w_start = rng.uniform(-58, -46)
    if n_slices is None:
        n_slices = int(np.clip(np.ceil((head.az_top + 4 - w_start) / slice_mm), 28, 40) if slice_mm >= 4 else np.ceil((head.az_top + 4 - w_start) / slice_mm))
    rot = _rotation(np.radians(rng.uniform(-8, 8)), np.radians(rng.uniform(-7, 7)), np.radians(rng.uniform(-3, 3)))
    shift = np.array([rng.uniform(-10, 10), rng.uniform(-10, 10), 0.0])
    origin = np.array([-(size - 1) / 2 * dx, -(size - 1) / 2 * dx, w_start])
    affine = np.diag([dx, dx, slice_mm, 1.0])
    affine[:3, 3] = origin
    noise_sd = head.noise_sd * np.sqrt(5.0 / slice_mm)

    coords = (np.arange(size, dtype=np.float32) * dx + origin[0]).astype(np.float32)
    X, Y = np.meshgrid(coords - shift[0], (np.arange(size, dtype=np.float32) * dx + origin[1] - shift[1]), indexing="xy")
    rt = rot.T.astype(np.float32)
    hu = np.empty((n_slices, size, size), dtype=np.int16)
    masks = {k: np.zeros((n_slices, size, size), dtype=bool) for k in {l.kind for l in les} | {"calcification"}}
    bg_slices = np.zeros(n_slices, dtype=bool)
    for k in range(n_slices):
        Z = np.float32(origin[2] + k * slice_mm)
        u = rt[0, 0] * X + rt[0, 1] * Y + rt[0, 2] * Z
        v = rt[1, 0] * X + rt[1, 1] * Y + rt[1, 2] * Z
        w = rt[2, 0] * X + rt[2, 1] * Y + rt[2, 2] * Z
        geo = head_layers(u, v, w, head)
        sl, anat = render_normal(u, v, w, head, geo)
        anat["intracranial_or_brain"] = anat["intracranial"]
        wc = float(np.median(w[size // 2 - 8: size // 2 + 8, size // 2 - 8: size // 2 + 8]))
        bg_slices[k] = BG_LEVEL_W[0] <= wc <= BG_LEVEL_W[1]
        masks["calcification"][k] = anat["calcification"]
        for lesion in les:
            blood, edema = lesion.mask(u, v, w, geo, anat)
            if edema is not None:
                sl[edema] = np.minimum(sl[edema], head.white) - 9.0
            if blood is not None and blood.any():
                texture = 3.0 * np.cos(u[blood] * 0.7 + v[blood] * 0.5)
                sl[blood] = lesion.hu + texture
                masks[lesion.kind][k] |= blood
        # scanner look: slight blur, quantum noise, beam-hardening-like streaks near the skull base
        sl = cv2.GaussianBlur(sl, (0, 0), 0.6)
        inside = geo["depth"] > 0
        if wc < -10:
            streaks = head.streak * np.cos(36 * geo["theta"] + head.streak_phase) * np.exp(-np.clip(geo["depth"] - geo["table_in"], 0, None) / 25.0)
            sl[inside] += streaks[inside]
        noise = rng.standard_normal(sl.shape, dtype=np.float32) * np.float32(noise_sd)
        sl[inside] += noise[inside]
        sl[~inside] = AIR + noise[~inside] * 2.0
        np.clip(sl, -1024, 3071, out=sl)
        hu[k] = np.rint(sl)

    min_vox = MIN_LESION_MM2 / (dx * dx)
    per_slice = {kind: masks[kind].reshape(n_slices, -1).sum(axis=1) >= min_vox for kind in masks}
    labels = {name: np.zeros(n_slices, dtype=bool) for name in ICH_LABELS}
    for kind, pos in per_slice.items():
        if kind in SUBTYPES:
            labels[kind] |= pos
        elif kind == "bg_hematoma":
            labels["intraparenchymal"] |= pos
    labels["any"] = np.logical_or.reduce([labels[k] for k in SUBTYPES])
    return SynthCT(seed=seed, hu=hu, affine=affine, masks=masks, slice_labels=labels, bg_side=bg_side,
                   bg_slices=bg_slices, lesions=les, calcified=head.calcified, slice_mm=slice_mm)
