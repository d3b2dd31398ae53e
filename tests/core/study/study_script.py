"""A scripted reader study (readers x generated cases x both arms) run through the store API, with the
script's own record of every answer so tests can recompute the exported numbers independently."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from core.study import AidedAnswer, Answer, ReaderSession, StudyStore

LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")


@dataclass
class Script:
    truth: dict = field(default_factory=dict)  # (case_id, label) -> bool
    model: dict = field(default_factory=dict)  # (case_id, label) -> probability
    unaided: dict = field(default_factory=dict)  # (reader, case_id, label) -> Answer
    aided: dict = field(default_factory=dict)  # (reader, case_id, label) -> AidedAnswer
    order: dict = field(default_factory=dict)  # reader -> case IDs in the order they were read


def setup_study(store: StudyStore, name: str, n_cases: int = 20, readers=("R1", "R2", "R3"), labels=LABELS,
                seed: int = 0, paths: list[str] | None = None, score_kind: str = "confidence") -> Script:
    rng = np.random.default_rng(seed)
    sc = Script()
    store.create_study(name, labels, score_kind=score_kind, reference_standard="generator masks (synthetic)")
    paths = paths or [f"/data/generated/case_{i:02d}" for i in range(n_cases)]
    ids = store.add_cases(name, paths)
    store.add_readers(name, readers)
    for cid in ids:
        t = {lab: bool(rng.random() < 0.25) for lab in labels[1:]}  # "any" positive in ~3 of 4 cases
        t[labels[0]] = any(t.values())
        for lab in labels:
            sc.truth[(cid, lab)] = t[lab]
            sc.model[(cid, lab)] = float(np.clip(rng.normal(0.72 if t[lab] else 0.28, 0.2), 0.001, 0.999))
        store.add_model_outputs(name, cid, {lab: sc.model[(cid, lab)] for lab in labels}, 0.5,
                                "ich_cnn+ich_bilstm", "0.1.0+0.1.0", "f" * 64, "CPUExecutionProvider")
    store.import_truth(name, [(cid, lab, v) for (cid, lab), v in sc.truth.items()], source="script")
    return sc


def reader_answers(rng, truth: dict, cid: str, labels, skill: float, score_kind: str = "confidence") -> dict:
    out = {}
    for lab in labels:
        right = rng.random() < skill
        present = truth[(cid, lab)] if right else not truth[(cid, lab)]
        if score_kind == "confidence":
            out[lab] = Answer(present, int(rng.integers(1, 6)))
        else:
            out[lab] = Answer(present, probability=float(rng.integers(51, 101) if present else rng.integers(0, 50)))
    if "any" in out:  # a reader who sees a subtype sees "any": the store refuses contradictory reads
        a, anyp = out["any"], any(out[lab].present for lab in labels if lab != "any")
        if score_kind == "confidence":
            out["any"] = Answer(anyp, a.confidence)
        elif anyp != a.present:
            out["any"] = Answer(anyp, probability=100.0 - a.probability)
    return out


def aided_answers(rng, sc: Script, session: ReaderSession, cid: str, skill: float) -> dict:
    found = session.model_findings()
    out = {}
    finals = {}
    for lab in session.labels:
        truth = sc.truth[(cid, lab)]
        finals[lab] = truth if rng.random() < skill else not truth
    if "any" in finals:  # consistent final answers: "any" is the union of the subtypes
        finals["any"] = any(v for lab, v in finals.items() if lab != "any")
    for lab in session.labels:
        final = finals[lab]
        m = found[lab].present
        out[lab] = AidedAnswer(agree=(final == m), final_present=final, confidence=int(rng.integers(1, 6)),
                               rating=(["correct", "partially correct", "incorrect"][int(rng.integers(0, 3))] if m else None))
    return out


def read_all(store: StudyStore, name: str, sc: Script, readers=("R1", "R2", "R3"), seed: int = 1,
             skills=(0.7, 0.85, 0.9), aided_bonus: float = 0.05) -> None:
    """Every reader reads every case: unaided read, then the model, then the aided read."""
    for k, reader in enumerate(readers):
        rng = np.random.default_rng(seed + k)
        s = ReaderSession(store, name, reader)
        sc.order[reader] = []
        while (case := s.current_case()) is not None:
            if case.arm == "unaided":
                ans = reader_answers(rng, sc.truth, case.case_id, s.labels, skills[k % len(skills)])
                s.save_unaided(ans, seconds=float(rng.uniform(20, 90)))
                sc.order[reader].append(case.case_id)
                for lab, a in ans.items():
                    sc.unaided[(reader, case.case_id, lab)] = a
            else:
                ans = aided_answers(rng, sc, s, case.case_id, min(1.0, skills[k % len(skills)] + aided_bonus))
                s.save_aided(ans, seconds=float(rng.uniform(10, 40)))
                for lab, a in ans.items():
                    sc.aided[(reader, case.case_id, lab)] = a
