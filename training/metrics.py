"""Held-out metrics for the model cards: AUC, sensitivity, specificity, weighted log loss."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from statsmodels.stats.proportion import proportion_confint

ICH_WEIGHTS = np.array([2.0, 1, 1, 1, 1, 1])  # any counts twice (RSNA 2019 metric)


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return None
    r = rankdata(score)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def sens_spec(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict:
    y = np.asarray(y).astype(bool)
    pred = np.asarray(score) >= threshold
    tp, fn = int((pred & y).sum()), int((~pred & y).sum())
    tn, fp = int((~pred & ~y).sum()), int((pred & ~y).sum())
    out = {"tp": tp, "fn": fn, "tn": tn, "fp": fp, "threshold": threshold}
    if tp + fn:
        lo, hi = proportion_confint(tp, tp + fn, method="wilson")
        out.update(sensitivity=tp / (tp + fn), sensitivity_ci95=[float(lo), float(hi)])
    if tn + fp:
        lo, hi = proportion_confint(tn, tn + fp, method="wilson")
        out.update(specificity=tn / (tn + fp), specificity_ci95=[float(lo), float(hi)])
    out["accuracy"] = (tp + tn) / max(1, tp + tn + fp + fn)
    return out


def weighted_log_loss(y: np.ndarray, p: np.ndarray, weights: np.ndarray = ICH_WEIGHTS) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    ll = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float((ll * weights).sum(axis=1).mean() / weights.sum())


def label_table(y: np.ndarray, p: np.ndarray, labels: tuple[str, ...]) -> dict:
    rows = {}
    for j, name in enumerate(labels):
        rows[name] = {"auc": auc(y[:, j], p[:, j]), "n_positive": int(y[:, j].sum()), "n": int(len(y)), **sens_spec(y[:, j], p[:, j])}
    return rows
