"""Stacked skull-strip QC scores: the CNN's three logits and the deterministic measures
(core.qc.measures) combined by one logistic regression per output. The coefficients are fitted in
training (training.qc_stack, inside every leave-one-head-out fold for the card's table) and stored
in the model card under `stack`, so the engine needs neither torch nor a second model file.

Why: on its 4 mm grid the CNN sees a defaced head and a head with its face much alike, and a brain
cut by a few percent much like a whole one; the head-frame measures (tissue in the face region,
how far it reaches past the forehead, kept volume against the head's width) separate those cases.
"""

from __future__ import annotations

import math

import numpy as np

from core.qc.measures import Measures

_EPS = 1e-6


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def features(probs: np.ndarray, m: Measures) -> dict[str, float]:
    """Every named input a stack may use (the card lists the ones each output uses)."""
    width = max(m.width_mm, 1.0)
    return {
        "logit_face": _logit(probs[0]), "logit_brain_loss": _logit(probs[1]), "logit_not_stripped": _logit(probs[2]),
        "log_kept_ml": math.log1p(m.kept_ml), "log_inferior_ai_ml": math.log1p(m.inferior_ai_ml),
        "log_face_ml": math.log1p(m.face_ml), "face_forward_mm": m.face_forward_mm, "log_below_ml": math.log1p(m.below_ml),
        "anterior_mm": m.anterior_mm, "background_zero": m.background_zero, "boundary_bright": m.boundary_bright,
        "flat_top": m.flat_top, "cut_plane": m.cut_plane, "height_mm": m.height_mm, "length_mm": m.length_mm,
        "width_mm": m.width_mm, "height_per_width": m.height_mm / width, "length_per_width": m.length_mm / width,
        "kept_per_width3": m.kept_ml * 1000.0 / width ** 3,
        "plane_frac": m.plane_frac, "plane_lost_pct": m.plane_lost_pct, "rim_rel": m.rim_rel, "rim_dark": m.rim_dark,
        "dark_frac": m.dark_frac, "rim_bright": m.rim_bright,
    }


def stacked_probs(probs: np.ndarray, m: Measures, stack: dict) -> np.ndarray:
    """P(face), P(brain loss), P(not stripped) from the card's `stack`: per output, the feature names,
    their training mean and standard deviation, the coefficients and the intercept."""
    f = features(probs, m)
    out = np.empty(len(stack["labels"]), np.float64)
    for j, lab in enumerate(stack["labels"]):
        s = stack["outputs"][lab]
        x = np.array([f[name] for name in s["features"]], np.float64)
        z = float(s["intercept"]) + float(np.dot((x - np.asarray(s["mean"])) / np.asarray(s["std"]), np.asarray(s["coef"])))
        out[j] = 1.0 / (1.0 + math.exp(-min(max(z, -50.0), 50.0)))
    return out
