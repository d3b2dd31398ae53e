"""Fitting the stacked QC model (training.qc_stack): the engine's numpy formula (core.qc.stack) gives
exactly what the training fit predicts, and the fit learns a rule that a measure and a logit carry."""

from __future__ import annotations

import numpy as np

from core.qc.measures import Measures
from core.qc.stack import stacked_probs
from training.qc_stack import LABELS, apply, design, fit_stack


def _measures(rng: np.random.Generator, n: int) -> list[Measures]:
    return [Measures(kept_ml=float(rng.uniform(1000, 4500)), anterior_mm=float(rng.uniform(70, 130)),
                     inferior_ai_ml=float(rng.uniform(0, 600)), boundary_bright=float(rng.uniform(0, 1)), flat_top=float(rng.uniform(0, 0.6)),
                     cut_plane=float(rng.uniform(0, 0.6)), background_zero=float(rng.uniform(0, 1)), cut_side="top",
                     face_ml=float(rng.uniform(0, 600)), face_forward_mm=float(rng.uniform(-40, 40)), below_ml=float(rng.uniform(0, 2500)),
                     height_mm=float(rng.uniform(90, 200)), length_mm=float(rng.uniform(130, 210)), width_mm=float(rng.uniform(110, 170)))
            for _ in range(n)]


def test_engine_formula_equals_the_training_fit():
    rng = np.random.default_rng(0)
    meas = _measures(rng, 120)
    probs = rng.uniform(0.01, 0.99, (120, 3))
    # labels that depend on a measure and a logit, so the fit has something to find
    y = np.stack([(np.array([m.face_ml for m in meas]) + 300 * (probs[:, 0] - 0.5) > 300),
                  np.array([m.kept_ml for m in meas]) < 1600, probs[:, 2] > 0.6], 1).astype(np.float64)
    stack = fit_stack(probs, meas, y)
    for j, lab in enumerate(LABELS):
        ref = apply(stack["outputs"][lab], design(probs, meas, stack["outputs"][lab]["features"]))
        got = np.array([stacked_probs(p, m, stack)[j] for p, m in zip(probs, meas)])
        np.testing.assert_allclose(got, ref, atol=1e-9)
        assert ((got >= 0.5) == (y[:, j] > 0.5)).mean() > 0.85  # the fit learned the rule
