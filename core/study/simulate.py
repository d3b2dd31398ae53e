"""A generated reader study (known truth, simulated readers and model) as `StudyFrames`.

Why: the statistics and exports need a study with known answers to be tested and demonstrated
without a database or real readers. Readers follow an equal-variance binormal model: a reader of skill
d' sees x = d' * truth + N(0, 1), answers 'present' when x > d'/2 and gives a confidence 1-5 from the
distance to that cut; in the aided arm the reader's evidence is pulled toward the model's. Everything
is drawn from one seeded generator, so a seed gives the same study.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.study.frames import (AGREEMENT_COLUMNS, DESIGN, MODEL_COLUMNS, RATINGS_COLUMNS, READS_COLUMNS, StudyFrames,
                               confidence_score)

ICH = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")


def _truth(rng: np.random.Generator, n_cases: int, labels: tuple[str, ...], min_each: int) -> np.ndarray:
    """Cases x labels; every subtype has >= min_each positives and negatives; 'any' = union of subtypes."""
    sub = [i for i, lab in enumerate(labels) if lab != "any"]
    t = np.zeros((n_cases, len(labels)), bool)
    for i in sub:
        k = int(rng.integers(min_each, max(min_each + 1, n_cases // 3)))
        t[rng.choice(n_cases, k, replace=False), i] = True
    if "any" in labels:
        t[:, labels.index("any")] = t[:, sub].any(axis=1)
    return t


def _confidence(x: np.ndarray, cut: float) -> np.ndarray:
    return np.clip(np.ceil(np.abs(x - cut) / 0.45), 1, 5).astype(int)


def simulate_study(n_cases: int = 20, readers: tuple[str, ...] = ("reader A", "reader B", "reader C"),
                   skills: tuple[float, ...] = (1.0, 1.6, 2.2), labels: tuple[str, ...] = ICH,
                   model_skill: float = 2.2, aid_weight: float = 0.45, seed: int = 0) -> StudyFrames:
    rng = np.random.default_rng(seed)
    truth = _truth(rng, n_cases, labels, min_each=3)
    case_ids = [f"C{i + 1:03d}" for i in range(n_cases)]
    model_x = model_skill * truth + rng.normal(0, 1, truth.shape)
    prob = 1 / (1 + np.exp(-1.6 * (model_x - model_skill / 2)))
    threshold = 0.5
    model_present = prob >= threshold
    model_rows = [[cid, lab, float(prob[i, j]), threshold, "ich_cnn", "1.0.0", "0" * 64, bool(truth[i, j])]
                  for i, cid in enumerate(case_ids) for j, lab in enumerate(labels)]

    reads, agree, ratings = [], [], []
    for reader, d in zip(readers, skills):
        x_un = d * truth + rng.normal(0, 1, truth.shape)
        cut = d / 2
        x_aid = (1 - aid_weight) * x_un + aid_weight * (model_x - model_skill / 2 + cut) + rng.normal(0, 0.3, truth.shape)
        secs_un = rng.lognormal(np.log(70), 0.35, n_cases)
        secs_aid = rng.lognormal(np.log(40), 0.35, n_cases)
        for arm, x, secs in (("unaided", x_un, secs_un), ("aided", x_aid, secs_aid)):
            pres, conf = x > cut, _confidence(x, cut)
            if "any" in labels:  # a consistent read: "any" is the union of the subtypes (the store refuses others)
                sub = [j for j, lab in enumerate(labels) if lab != "any"]
                pres[:, labels.index("any")] = pres[:, sub].any(axis=1)
            for i, cid in enumerate(case_ids):
                for j, lab in enumerate(labels):
                    reads.append([reader, cid, arm, lab, bool(pres[i, j]), confidence_score(bool(pres[i, j]), int(conf[i, j])),
                                  "confidence", float(secs[i]), bool(truth[i, j])])
                    if arm == "aided":
                        agree.append([reader, cid, lab, bool(model_present[i, j]), bool(pres[i, j] == model_present[i, j]),
                                      bool(pres[i, j]), bool(truth[i, j])])
                        if model_present[i, j]:
                            p_ok = 0.75 if truth[i, j] else 0.15
                            u = rng.random()
                            ratings.append([reader, cid, lab, "correct" if u < p_ok else
                                            ("partially correct" if u < p_ok + (1 - p_ok) / 2 else "incorrect")])
    per_label = {lab: {"positive": int(truth[:, j].sum()), "negative": int((~truth[:, j]).sum()), "unknown": 0}
                 for j, lab in enumerate(labels)}
    info = {"name": f"generated study (seed {seed})", "description": "Generated data: simulated readers and model.",
            "labels": list(labels), "n_cases": n_cases, "readers": list(readers), "arms": ["unaided", "aided"],
            "reference_standard": "generator ground truth (hemorrhage inserted into the phantom)",
            "cases_per_label": per_label, "score_kind": "confidence", "design": DESIGN,
            "unit_of_analysis": "case (scan level), per label", "truth_complete": True,
            "model": {"name": "ich_cnn", "version": "1.0.0", "sha256": "0" * 64, "provider": "CPUExecutionProvider",
                      "thresholds": {lab: threshold for lab in labels}, "cases_scored": n_cases}}
    return StudyFrames(info=info, reads=pd.DataFrame(reads, columns=READS_COLUMNS),
                       agreement=pd.DataFrame(agree, columns=AGREEMENT_COLUMNS),
                       ratings=pd.DataFrame(ratings, columns=RATINGS_COLUMNS),
                       model=pd.DataFrame(model_rows, columns=MODEL_COLUMNS))
