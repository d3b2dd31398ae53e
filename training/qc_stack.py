"""The stacked skull-strip QC model (core.qc.stack): one logistic regression per output on the CNN's
logits and the deterministic measures, fitted with numpy (ridge-penalised IRLS).

Leave-one-head-out: for held-out head H the regression is fitted on the fold's own training volumes
(the other heads' strips, with the CNN of that fold, trained without H: training.qc_loho) and scored
on H's volumes, so H is seen in no form. The shipped stack is fitted on all training volumes with the
shipped CNN. Coefficients go into the model card (`stack`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.qc.measures import Measures
from core.qc.stack import features

LABELS = ("face", "brain_loss", "not_stripped")
MEASURES_VERSION = "22"  # bump when core.qc.measures changes (the per-file cache)
# Inputs per output (names of core.qc.stack.features), chosen on the leave-one-head-out table.
FEATURE_SETS = {
    "face": ["logit_face", "logit_not_stripped", "log_face_ml", "face_forward_mm", "log_inferior_ai_ml", "log_below_ml",
             "log_kept_ml", "background_zero"],
    # brain loss: the kept volume alone beside the CNN generalised best across heads (ten measures: 0.895 on
    # studyforrest; 150 subsets were tried on the table, so its brain-loss column is optimistic)
    "brain_loss": ["logit_brain_loss", "log_kept_ml"],
    "not_stripped": ["logit_not_stripped", "logit_face", "log_kept_ml", "log_below_ml", "background_zero", "height_mm"],
}
RIDGE = {"face": 0.3, "brain_loss": 1.0, "not_stripped": 1.0}  # L2 on standardised inputs, chosen on the table


def measure_items(paths: list[Path], cache: Path | None) -> list[Measures]:
    """core.qc.measures on every file, as the engine computes them (cached as JSON per file)."""
    from core.io import load
    from core.qc.measures import measure

    out = []
    for p in paths:
        c = cache / f"qc_measures_v{MEASURES_VERSION}" / f"{p.parent.name}_{p.name}.json" if cache else None
        if c is not None and c.exists():
            out.append(Measures(**json.loads(c.read_text())))
            continue
        m = measure(load(str(p)))
        if c is not None:
            c.parent.mkdir(parents=True, exist_ok=True)
            c.write_text(json.dumps(m.__dict__))
        out.append(m)
    return out


def design(probs: np.ndarray, measures: list[Measures], names: list[str]) -> np.ndarray:
    return np.array([[features(p, m)[n] for n in names] for p, m in zip(probs, measures)], np.float64)


def fit_logistic(x: np.ndarray, t: np.ndarray, ridge: float = 1.0, iters: int = 100) -> dict:
    """Standardised inputs, intercept unpenalised; Newton steps until the change is tiny."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = np.c_[np.ones(len(x)), (x - mu) / sd]
    w = np.zeros(z.shape[1])
    pen = ridge * np.eye(z.shape[1])
    pen[0, 0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + pen, z.T @ (p - t) + pen @ w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"mean": [round(float(v), 6) for v in mu], "std": [round(float(v), 6) for v in sd],
            "coef": [round(float(v), 6) for v in w[1:]], "intercept": round(float(w[0]), 6)}


def apply(model: dict, x: np.ndarray) -> np.ndarray:
    z = model["intercept"] + ((x - np.asarray(model["mean"])) / np.asarray(model["std"])) @ np.asarray(model["coef"])
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def fit_stack(probs: np.ndarray, measures: list[Measures], y: np.ndarray) -> dict:
    """The card's `stack`: per output its features, standardisation, coefficients and intercept."""
    outputs = {}
    for j, lab in enumerate(LABELS):
        names = FEATURE_SETS[lab]
        outputs[lab] = {"features": names, **fit_logistic(design(probs, measures, names), y[:, j], RIDGE[lab])}
    return {"labels": list(LABELS), "outputs": outputs, "ridge": RIDGE,
            "what": "per output, P = sigmoid(intercept + coef . (features - mean) / std) on the CNN logits and the "
                    "deterministic measures (core.qc.stack); fitted on the training volumes with the shipped CNN"}


def stacked(stack: dict, probs: np.ndarray, measures: list[Measures]) -> np.ndarray:
    return np.stack([apply(stack["outputs"][lab], design(probs, measures, stack["outputs"][lab]["features"]))
                     for lab in LABELS], 1)


def loho_predictions(preds: dict, items: list, measures: list[Measures], y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every volume's held-out probabilities [N, 3], stacked and the fold CNN's alone, and its head group [N].
    `preds` is training.qc_loho's npz (fold logits of every volume, in the order of `items`)."""
    files = [str(it.path) for it in items]
    if [str(f) for f in preds["files"]] != files:
        raise ValueError("the leave-one-head-out predictions were made on other volumes (or another order)")
    groups = np.array([it.subject for it in items])
    trainable = preds["trainable"].astype(bool)
    p_stack = np.full((len(items), len(LABELS)), np.nan)
    p_cnn = np.full((len(items), len(LABELS)), np.nan)
    for k, g in enumerate(preds["folds"]):
        probs = 1.0 / (1.0 + np.exp(-preds["logits"][k].astype(np.float64)))
        te = groups == str(g)
        tr = trainable & ~te
        stack = fit_stack(probs[tr], [m for m, t in zip(measures, tr) if t], y[tr])
        p_stack[te] = stacked(stack, probs[te], [m for m, t in zip(measures, te) if t])
        p_cnn[te] = probs[te]
    return p_stack, p_cnn, groups


def loho_metrics(preds: dict, items: list, measures: list[Measures], y: np.ndarray, thresholds: dict) -> tuple[dict, dict, dict]:
    """The per-head table (stacked), the fold CNN's per-head AUCs and the pooled figure, from one pass of fold stacks."""
    from training.qc import evaluate

    p_stack, p_cnn, groups = loho_predictions(preds, items, measures, y)
    stacked_table, cnn_table = {}, {}
    for g in preds["folds"]:
        te = groups == str(g)
        stacked_table[str(g)] = evaluate(p_stack[te], y[te], thresholds)
        cnn_table[str(g)] = {lab: {"auc": v["auc"]} for lab, v in evaluate(p_cnn[te], y[te], thresholds).items()}
    return stacked_table, cnn_table, _pooled(p_stack, p_cnn, groups, preds["folds"], y, thresholds)


def loho_table(preds: dict, items: list, measures: list[Measures], y: np.ndarray, thresholds: dict) -> tuple[dict, dict]:
    """Per held-out head: the stacked model's metrics and the CNN's alone (same fold CNN)."""
    return loho_metrics(preds, items, measures, y, thresholds)[:2]


def loho_pooled(preds: dict, items: list, measures: list[Measures], y: np.ndarray, thresholds: dict) -> dict:
    """The held-out predictions of every head pooled: one threshold for all heads, as on a new site's data.
    Why: per head a score can rank strips well while its scale shifts between heads (brain loss in 2.2.0:
    0.954-1.000 per head, 0.876 pooled); only the pooled figure says how a flag behaves on heads never seen."""
    return loho_metrics(preds, items, measures, y, thresholds)[2]


def _pooled(p_stack: np.ndarray, p_cnn: np.ndarray, groups: np.ndarray, folds, y: np.ndarray, thresholds: dict) -> dict:
    from core.study.stats import auc_delong
    from training.qc import evaluate

    held = np.isin(groups, [str(g) for g in folds])
    out = evaluate(p_stack[held], y[held], thresholds)
    for j, lab in enumerate(LABELS):
        t = y[held, j].astype(int)
        if 0 < t.sum() < len(t):
            a = auc_delong(t, p_stack[held, j])
            out[lab]["auc_ci"] = [round(a.lo, 4), round(a.hi, 4)]
            out[lab]["cnn_only_auc"] = round(auc_delong(t, p_cnn[held, j]).auc, 4)
    return out
