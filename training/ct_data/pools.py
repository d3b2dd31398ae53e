"""Training samples drawn from every CT source, in fixed proportions per epoch.

A sample is (8-bit image, 6 ICH labels with -1 = unknown, BG class, blood mask or None). Real slices
come as they are; mirrored half-slices make real bleed-free deep-brain negatives out of PHE-SICH's
lesion slices (the hemisphere without the bleed, reflected); inserted lesions turn real bleed-free
slices into exactly labelled positives of every subtype and of both basal-ganglia sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from core.imaging.pseudo_hu import hu_to_window8, window8_to_hu
from training.ct_data.insert import KINDS, LABEL_OF_KIND, anatomy, insert_bg_hematoma, insert_calcification, insert_lesion
from training.ct_data.phantom import SliceSeries

UNKNOWN = -1.0
LABEL_INDEX = {"any": 0, "epidural": 1, "intraparenchymal": 2, "intraventricular": 3, "subarachnoid": 4, "subdural": 5}


@dataclass
class Sample:
    img: np.ndarray  # uint8 [256, 256]
    labels: np.ndarray  # float32 [6]
    bg: int  # 0 none, 1 left, 2 right, 3 hemorrhage side unknown, -1 unknown
    mask: np.ndarray | None
    source: str


@dataclass
class Pools:
    series: list[SliceSeries]
    pos: list[tuple[int, int]] = field(default_factory=list)  # real slices with blood
    neg: list[tuple[int, int]] = field(default_factory=list)  # real slices without
    mirror: list[tuple[int, int]] = field(default_factory=list)  # PHE lesion slices to mirror
    background: list[tuple[int, int]] = field(default_factory=list)  # bleed-free real slices for inserts
    phantom: list[tuple[int, int]] = field(default_factory=list)
    by_source: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)
    trauma_background: list[tuple[int, int]] = field(default_factory=list)  # the backgrounds from CT-ICH and GE
    #: share of inserts whose background is a CT-ICH or GE slice (trauma-like mid-brain anatomy) rather than any
    background_trauma_share: float = 0.0

    @classmethod
    def build(cls, series: list[SliceSeries]) -> "Pools":
        p = cls(series)
        for i, s in enumerate(series):
            for z in range(len(s.img)):
                key = (i, z)
                if s.source == "phantom":
                    p.phantom.append(key)
                    continue
                if s.labels[z, 0] < 0:
                    continue  # unlabelled slice
                if s.labels[z, 0] > 0:
                    p.pos.append(key)
                    p.by_source.setdefault(("pos", s.source), []).append(key)
                    if s.source == "phe-sich" and s.mask is not None and s.mask[z].any():
                        p.mirror.append(key)
                else:
                    p.neg.append(key)
                    p.by_source.setdefault(("neg", s.source), []).append(key)
                    patient_clean = s.source in ("ge", "phe-sich") or s.labels[:, 0].max() == 0
                    if patient_clean:
                        p.background.append(key)
                        if s.source in ("ct-ich", "ge"):
                            p.trauma_background.append(key)
        return p

    def real(self, key: tuple[int, int]) -> Sample:
        s = self.series[key[0]]
        z = key[1]
        return Sample(s.img[z], s.labels[z].copy(), int(s.bg[z]), None if s.mask is None else s.mask[z], s.source)

    def mirrored(self, key: tuple[int, int]) -> Sample | None:
        """The bleed-free hemisphere reflected onto the other side: a real deep-brain negative."""
        s = self.series[key[0]]
        img, m = s.img[key[1]], s.mask[key[1]]
        an = anatomy(window8_to_hu(img).hu)
        if an is None:
            return None
        cx = int(round(an.centre[1]))
        xs = np.nonzero(ndi.binary_dilation(m, iterations=8).any(axis=0))[0]
        if len(xs) == 0:
            return None
        lesion_right = xs.mean() > cx
        if (lesion_right and xs.min() <= cx) or (not lesion_right and xs.max() >= cx):
            return None  # the bleed crosses the midline: no clean half
        w = img.shape[1]
        out = np.zeros_like(img)
        x = np.arange(w)
        if lesion_right:  # keep image-left half, reflect onto the right
            src = 2 * cx - x
            ok = (x >= cx) & (src >= 0)
            out[:, :cx] = img[:, :cx]
            out[:, x[ok]] = img[:, src[ok]]
        else:
            src = 2 * cx - x
            ok = (x <= cx) & (src < w)
            out[:, cx:] = img[:, cx:]
            out[:, x[ok]] = img[:, src[ok]]
        labels = np.zeros(6, np.float32)
        labels[[3, 4]] = UNKNOWN  # ventricular / subarachnoid extension is not labelled in PHE-SICH
        return Sample(out, labels, 0, None, "phe-mirror")

    def inserted(self, rng: np.random.Generator, kind: str) -> Sample | None:
        """kind: one of KINDS, 'bg_left', 'bg_right' or 'calcification' (a negative)."""
        trauma = self.trauma_background if self.background_trauma_share else []
        pool = trauma if trauma and rng.random() < self.background_trauma_share else self.background
        key = pool[int(rng.integers(len(pool)))]
        s = self.series[key[0]]
        hu = window8_to_hu(s.img[key[1]]).hu
        an = anatomy(hu)
        if an is None:
            return None
        labels = np.zeros(6, np.float32)
        if s.source == "phe-sich":
            labels[[3, 4]] = UNKNOWN
        bg = 0
        if kind == "calcification":
            out = insert_calcification(hu, rng, an=an)
            return None if out is None else Sample(hu_to_window8(out), labels, 0, None, "calcification")
        if kind.startswith("bg_"):
            side = kind[3:]
            res = insert_bg_hematoma(hu, side, rng, an=an)
            bg = 1 if side == "left" else 2
            kind_label = "intraparenchymal"
        else:
            res = insert_lesion(hu, kind, rng, an=an)
            kind_label = LABEL_OF_KIND.get(kind, kind)
        if res is None:
            return None
        out, m = res
        labels[0] = 1
        labels[LABEL_INDEX[kind_label]] = 1
        if s.source == "phe-sich" or s.bg[key[1]] < 0:
            bg = bg if kind.startswith("bg_") else -1
        elif kind == "intraparenchymal":
            bg = -1  # a random parenchymal blob may sit in the basal ganglia
        return Sample(hu_to_window8(out), labels, bg, m, "inserted")


EPOCH_MIX = {"pos": 2.0, "neg": 600, "mirror": 150, "phantom": 300, "inserted_each": 120, "calcification": 80}


#: second stage: every real bleed-free CT-ICH slice each epoch, CT-ICH bleeds oversampled, fewer PHE-SICH
#: lesions (all at the basal-ganglia level) and inserts, so that the level of a slice stops predicting blood
BALANCED_MIX = {("pos", "ct-ich"): 3.0, ("pos", "phe-sich"): 1.0, ("neg", "ct-ich"): 1.0, ("neg", "phe-sich"): 400, ("neg", "ge"): 1.0,
                "mirror": 100, "phantom": 200, "inserted_each": 70, "calcification": 80}


#: third stage: CT-ICH's trauma slices dominate (its epidurals against the skull were ranked below normal mid-brain slices)
TRAUMA_MIX = {("pos", "ct-ich"): 4.0, ("pos", "phe-sich"): 150, ("neg", "ct-ich"): 1.0, ("neg", "phe-sich"): 300, ("neg", "ge"): 1.0,
              "mirror": 80, "phantom": 150, "inserted_each": 40, "calcification": 60}


#: fourth stage (0.4): CT-ICH's real trauma slices dominate each epoch (the 0.3 trunk fitted its own CT-ICH
#: training slices only to AUC 0.84), with enough PHE-SICH, inserts and phantoms to keep what they taught
REAL_MIX = {("pos", "ct-ich"): 4.0, ("pos", "phe-sich"): 250, ("neg", "ct-ich"): 1.0, ("neg", "phe-sich"): 250, ("neg", "ge"): 1.0,
            "mirror": 80, "phantom": 150, "inserted_each": 50, "calcification": 40}


#: fifth stage (0.4.1 candidate): the 0.4.0 trunk fitted inserted extra-axial, intraventricular and subarachnoid
#: blood poorly even on training anatomy (any AUC 0.68-0.75 against CT-ICH negatives): more of them, mostly in
#: CT-ICH and GE backgrounds (PHE-SICH's lesion-free slices are mostly skull base and vertex)
INSERT_MIX = {("pos", "ct-ich"): 3.0, ("pos", "phe-sich"): 150, ("neg", "ct-ich"): 1.0, ("neg", "phe-sich"): 150, ("neg", "ge"): 1.0,
              "mirror": 60, "phantom": 100, "inserted_each": 110, "calcification": 40, "background_trauma_share": 0.75}


#: stop 16: the trunk fitted inserted extra-axial blood worst (training.fit_check on 0.5.0's insert snapshot: "any" AUC
#: 0.75 subdural, 0.85 epidural against CT-ICH training negatives, 0.97 intraparenchymal): 250 epidural and 250
#: subdural inserts an epoch instead of 110, now drawn distinct from bone (training.ct_data.insert.BONE_DISTINCT_HU)
EXTRA_AXIAL_MIX = {**INSERT_MIX, "inserted_kind": {"epidural": 250, "subdural": 250}}


#: stop 19: CT-ICH's real training subdurals are 2-5 mm crescents (one nearly isodense) and the single test subdural
#: ranks below most negatives; inserted ventricular blood was read as intraparenchymal (38 % of training inserts at
#: P >= 0.5). So thin subdurals (training.ct_data.insert's subdural_thin) and more intraventricular inserts, which
#: carry intraparenchymal = 0.
THIN_MIX = {**INSERT_MIX, "inserted_kind": {"epidural": 250, "subdural": 250, "subdural_thin": 200, "intraventricular": 200}}


def _take(keys: list, amount: float, rng: np.random.Generator) -> list:
    """amount <= 4: a multiple of the pool (oversampling); larger: that many drawn without replacement."""
    if amount <= 4:
        whole, frac = int(amount), amount - int(amount)
        extra = [keys[i] for i in rng.choice(len(keys), size=int(len(keys) * frac), replace=False)] if frac else []
        return list(keys) * whole + extra
    return [keys[i] for i in rng.choice(len(keys), size=min(len(keys), int(amount)), replace=False)]


def epoch_samples(p: Pools, rng: np.random.Generator, mix: dict = EPOCH_MIX) -> list:
    """The draws of one epoch (built lazily in the batch loop)."""
    draws: list = []
    if any(isinstance(k, tuple) for k in mix):
        for key, amount in mix.items():
            if isinstance(key, tuple) and p.by_source.get(key):
                draws += [("real", k) for k in _take(p.by_source[key], amount, rng)]
        mix = {**EPOCH_MIX, **{k: v for k, v in mix.items() if not isinstance(k, tuple)}, "pos": 0, "neg": -len(p.pos)}
    draws += [("real", k) for k in list(p.pos) * int(mix["pos"])]
    if mix["neg"] + len(p.pos) > 0:
        neg_idx = rng.choice(len(p.neg), size=min(len(p.neg), mix["neg"] + len(p.pos)), replace=False)
        draws += [("real", p.neg[i]) for i in neg_idx]
    return _generated(p, rng, mix, draws)


def _generated(p: Pools, rng: np.random.Generator, mix: dict, draws: list) -> list:
    if p.mirror:
        draws += [("mirror", p.mirror[i]) for i in rng.choice(len(p.mirror), size=min(len(p.mirror), mix["mirror"]), replace=False)]
    if p.phantom:
        draws += [("real", p.phantom[i]) for i in rng.choice(len(p.phantom), size=min(len(p.phantom), mix["phantom"]), replace=False)]
    if p.background:
        per_kind = mix.get("inserted_kind", {})
        variants = [k for k in per_kind if k in LABEL_OF_KIND]  # e.g. subdural_thin: drawn only when a mix names it
        for kind in (*KINDS, "bg_left", "bg_right", *variants):
            draws += [("insert", kind)] * int(per_kind.get(kind, mix["inserted_each"]))
        draws += [("insert", "calcification")] * mix["calcification"]
    order = rng.permutation(len(draws))
    return [draws[i] for i in order]


def draw(p: Pools, d: tuple, rng: np.random.Generator) -> Sample | None:
    kind, arg = d
    if kind == "real":
        return p.real(arg)
    if kind == "mirror":
        return p.mirrored(arg)
    for _ in range(6):  # inserts: a few backgrounds may not take the lesion
        s = p.inserted(rng, arg)
        if s is not None:
            return s
    return None
