"""Study data as pandas frames: the one interface between the store and the statistics/exports.

Columns are fixed by the study contract (notes/study_contract.md). Only the newest read of each
(reader, case, arm) counts (corrections are appended, the newest wins). Case IDs are pseudonymous;
paths never leave the store through these frames.

`score` is the ROC input, higher = more likely present: for a probability study the reader's 0-100;
for a confidence study the answer and its confidence 1-5 on one 10-point scale:
absent & sure (5) -> 1 ... absent & unsure (1) -> 5, present & unsure (1) -> 6 ... present & sure (5) -> 10.

`truth` is bool when every case has truth for every label; otherwise pandas' nullable "boolean" with
<NA> where truth was not imported (study_info["truth_complete"] says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from core.study.store import Answer, StudyStore

READS_COLUMNS = ["reader", "case_id", "arm", "label", "present", "score", "score_kind", "seconds", "truth"]
AGREEMENT_COLUMNS = ["reader", "case_id", "label", "model_present", "agree", "final_present", "truth"]
RATINGS_COLUMNS = ["reader", "case_id", "label", "rating"]
MODEL_COLUMNS = ["case_id", "label", "probability", "threshold", "model_name", "model_version", "model_sha256",
                 "truth"]
#: appended to MODEL_COLUMNS by `model_frame`: the stored out-of-distribution verdict (nullable "boolean": <NA> when
#: the output was stored without one) and its score; frames built without them (core.study.simulate) mean "no verdict"
MODEL_OOD_COLUMNS = ["in_distribution", "ood_score"]

DESIGN = ("sequential reading: each reader reads every case unaided (all labels), the read is committed, then in "
          "the aided arm the model's findings and Grad-CAM are shown and the reader records agreement, a final "
          "answer with its score, and a heat-map rating for each label the model calls present")


def confidence_score(present: bool, confidence: int) -> float:
    """Answer + confidence 1-5 on a 1-10 scale, higher = more likely present."""
    return float(5 + confidence if present else 6 - confidence)


def answer_score(a: Answer, score_kind: str) -> float:
    return confidence_score(a.present, int(a.confidence)) if score_kind == "confidence" else float(a.probability)


def _truth_series(values: list, complete: bool) -> pd.Series:
    return pd.Series(values, dtype=bool if complete else "boolean")


def _latest(store: StudyStore, study: str):
    latest = {}
    for r in store.reads_of(study):  # oldest first: a later read of the same key replaces it
        latest[(r.reader, r.case_id, r.arm)] = r
    return latest


def _truth_complete(store: StudyStore, study: str, truth: dict) -> bool:
    labels = store.study(study).labels
    return all((c.case_id, lab) in truth for c in store.cases(study) for lab in labels)


def reads_frame(store: StudyStore, study: str) -> pd.DataFrame:
    info = store.study(study)
    truth = store.truth(study)
    complete = _truth_complete(store, study, truth)
    rows = []
    for (reader, cid, arm), r in sorted(_latest(store, study).items()):
        for lab in info.labels:
            a = r.answers[lab]
            rows.append([reader, cid, arm, lab, bool(a.present), answer_score(a, info.score_kind), info.score_kind,
                         float(r.seconds), truth.get((cid, lab), pd.NA)])
    df = pd.DataFrame(rows, columns=READS_COLUMNS)
    df = df.astype({"reader": str, "case_id": str, "arm": str, "label": str, "present": bool, "score": float,
                    "score_kind": str, "seconds": float})
    df["truth"] = _truth_series(df["truth"].tolist(), complete)
    return df


def agreement_frame(store: StudyStore, study: str) -> pd.DataFrame:
    info = store.study(study)
    truth = store.truth(study)
    complete = _truth_complete(store, study, truth)
    rows = []
    for (reader, cid, arm), r in sorted(_latest(store, study).items()):
        if arm != "aided":
            continue
        for lab in info.labels:
            g = r.agreements[lab]
            rows.append([reader, cid, lab, bool(g["model_present"]), bool(g["agree"]), bool(g["final_present"]),
                         truth.get((cid, lab), pd.NA)])
    df = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    df = df.astype({"reader": str, "case_id": str, "label": str, "model_present": bool, "agree": bool,
                    "final_present": bool})
    df["truth"] = _truth_series(df["truth"].tolist(), complete)
    return df


def ratings_frame(store: StudyStore, study: str) -> pd.DataFrame:
    info = store.study(study)
    rows = []
    for (reader, cid, arm), r in sorted(_latest(store, study).items()):
        for lab in info.labels:
            if lab in r.ratings:
                rows.append([reader, cid, lab, r.ratings[lab]])
    return pd.DataFrame(rows, columns=RATINGS_COLUMNS).astype(str)


def model_frame(store: StudyStore, study: str) -> pd.DataFrame:
    info = store.study(study)
    truth = store.truth(study)
    complete = _truth_complete(store, study, truth)
    order = {lab: i for i, lab in enumerate(info.labels)}
    rows = [[cid, f.label, float(f.probability), float(f.threshold), f.model_name, f.model_version, f.model_sha256,
             truth.get((cid, f.label), pd.NA), pd.NA if f.ood is None else bool(f.ood.in_distribution),
             float("nan") if f.ood is None else float(f.ood.score)] for cid, f in store.all_model_outputs(study)]
    rows.sort(key=lambda r: (r[0], order[r[1]]))
    df = pd.DataFrame(rows, columns=MODEL_COLUMNS + MODEL_OOD_COLUMNS)
    df = df.astype({"case_id": str, "label": str, "probability": float, "threshold": float, "model_name": str,
                    "model_version": str, "model_sha256": str, "ood_score": float})
    df["truth"] = _truth_series(df["truth"].tolist(), complete)
    df["in_distribution"] = pd.Series(df["in_distribution"].tolist(), dtype="boolean")
    return df


def study_info(store: StudyStore, study: str) -> dict:
    info = store.study(study)
    cases = store.cases(study)
    truth = store.truth(study)
    per_label = {}
    for lab in info.labels:
        vals = [truth.get((c.case_id, lab)) for c in cases]
        per_label[lab] = {"positive": sum(v is True for v in vals), "negative": sum(v is False for v in vals),
                          "unknown": sum(v is None for v in vals)}
    outputs = store.all_model_outputs(study)
    per_model: dict[tuple, dict] = {}
    for cid, f in outputs:
        m = per_model.setdefault((f.model_name, f.model_version, f.model_sha256, f.provider),
                                 {"labels": {}, "cases": set()})
        m["labels"].setdefault(f.label, set()).add(f.threshold)
        m["cases"].add(cid)
    models = []
    for (name, version, sha, provider), m in per_model.items():
        models.append({"name": name, "version": version, "sha256": sha, "provider": provider,
                       "labels": [lab for lab in info.labels if lab in m["labels"]],
                       "thresholds": {lab: (min(v) if len(v) == 1 else sorted(v)) for lab, v in m["labels"].items()},
                       "cases_scored": len(m["cases"])})
    models.sort(key=lambda m: (-len(m["labels"]), -m["cases_scored"], m["name"]))
    model = dict(models[0], all_versions=models) if models else None  # the one scoring most labels and cases
    if model is not None:
        model["cases_outside"] = sorted({cid for cid, f in outputs if f.outside})
        model["cases_without_verdict"] = sorted({cid for cid, f in outputs if f.ood is None})
    return {"name": info.name, "description": info.description, "labels": list(info.labels),
            "n_cases": len(cases), "readers": store.readers(study), "arms": list(info.arms),
            "reference_standard": info.reference_standard, "cases_per_label": per_label, "model": model,
            "score_kind": info.score_kind, "design": DESIGN, "unit_of_analysis": "case (scan level), per label",
            "truth_complete": _truth_complete(store, study, truth), "created": info.created_at.isoformat(),
            "min_seconds": info.min_seconds}


@dataclass
class StudyFrames:
    """Everything core.study.stats and core.study.export need, detached from the database."""

    info: dict
    reads: pd.DataFrame
    agreement: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AGREEMENT_COLUMNS))
    ratings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RATINGS_COLUMNS))
    model: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MODEL_COLUMNS))


def load_frames(store: StudyStore, study: str) -> StudyFrames:
    return StudyFrames(info=study_info(store, study), reads=reads_frame(store, study),
                       agreement=agreement_frame(store, study), ratings=ratings_frame(store, study),
                       model=model_frame(store, study))
