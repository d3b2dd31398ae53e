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


def test_pooled_leave_one_head_out_sees_the_shift_the_per_head_table_hides():
    """Three heads whose brain-loss logit ranks their own strips perfectly but sits at a head-dependent offset: every
    head's AUC is 1.0, the pooled one (one threshold for all heads) is not (training.qc_stack.loho_pooled)."""
    from dataclasses import dataclass
    from pathlib import Path

    from training.qc_stack import loho_pooled, loho_table

    @dataclass
    class Item:
        path: Path
        subject: str

    rng = np.random.default_rng(3)
    heads, n = ("a", "b", "c"), 30
    items = [Item(Path(f"/x/{h}_{i}.nii.gz"), h) for h in heads for i in range(n)]
    y = np.zeros((len(items), 3))
    y[:, 1] = np.tile(np.r_[np.zeros(n // 2), np.ones(n // 2)], len(heads))
    y[:, 0] = rng.random(len(items)) < 0.3
    y[:, 2] = rng.random(len(items)) < 0.3
    offset = np.repeat([-3.0, 0.0, 3.0], n)
    logits = np.stack([4 * (y[:, 0] - 0.5), 2.0 * (y[:, 1] - 0.5) + offset + rng.normal(0, 0.1, len(items)), 4 * (y[:, 2] - 0.5)], 1)
    preds = {"files": np.array([str(it.path) for it in items]), "folds": np.array(heads), "trainable": np.ones(len(items), bool),
             "logits": np.stack([logits] * len(heads)).astype(np.float32)}
    meas = _measures(np.random.default_rng(0), 1) * len(items)  # one set of measures: only the logits differ
    thr = {lab: 0.5 for lab in LABELS}
    table, _ = loho_table(preds, items, meas, y, thr)
    assert all(table[h]["brain_loss"]["auc"] == 1.0 for h in heads)
    pooled = loho_pooled(preds, items, meas, y, thr)
    assert pooled["brain_loss"]["n"] == len(items) and pooled["brain_loss"]["auc"] < 0.9
    lo, hi = pooled["brain_loss"]["auc_ci"]
    assert lo <= pooled["brain_loss"]["auc"] <= hi and pooled["face"]["auc"] == 1.0
