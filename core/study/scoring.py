"""Run the bundled models on a study's cases and store their outputs (needed for the aided arm and the
model rows of the export). ICH labels come from ich_cnn + ich_bilstm (series level); basal-ganglia labels
`bg_hemorrhage`, `bg_left`, `bg_right` from bg_laterality. Every stored row carries the CT models'
out-of-distribution verdict on the case's volume (the ICH and BG rows of one volume share it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import NeuroReviewError
from core.study.store import StudyError, StudyStore

BG_LABELS = {"bg_hemorrhage": "hemorrhage", "bg_left": "left", "bg_right": "right"}


def scorable(labels) -> tuple[list[str], list[str]]:
    from core.tasks.ct import ICH_LABELS

    ich = [lab for lab in labels if lab in ICH_LABELS]
    bg = [lab for lab in labels if lab in BG_LABELS]
    unknown = [lab for lab in labels if lab not in ich and lab not in bg]
    if unknown:
        raise StudyError(f"no bundled model scores label(s) {', '.join(unknown)} (ICH labels: {', '.join(ICH_LABELS)}; "
                         f"basal ganglia: {', '.join(BG_LABELS)})")
    return ich, bg


@dataclass
class ScoreOutcome:
    case_id: str
    seconds: float
    error: str | None = None
    in_distribution: bool | None = None  # the stored out-of-distribution verdict (None: none stored, or an error)
    ood_reason: str = ""


def score_cases(store: StudyStore, study: str, rescore: bool = False, scorer=None,
                progress: Callable[[ScoreOutcome, int, int], None] | None = None) -> list[ScoreOutcome]:
    """Score every case without stored outputs (all with `rescore`); a case that fails is reported, not fatal."""
    from core.io import load
    from core.tasks import CTScorer

    info = store.study(study)
    ich_labels, bg_labels = scorable(info.labels)
    done = {cid for cid, _ in store.all_model_outputs(study)}
    todo = [c for c in store.cases(study) if rescore or c.case_id not in done]
    scorer = scorer or CTScorer()
    out = []
    for i, c in enumerate(todo, 1):
        t0 = time.perf_counter()
        try:
            vol = load(c.path, series_uid=c.series_uid)
            ood = None
            if ich_labels:
                r = scorer.score_ich(vol)
                cnn, lstm = r.models[:2]  # the CNN and the BiLSTM (then the OOD model)
                thr = lstm_thresholds(scorer, ich_labels)
                ood = r.ood
                store.add_model_outputs(study, c.case_id, {lab: r.series_probs[lab] for lab in ich_labels}, thr,
                                        f"{cnn.name}+{lstm.name}", f"{cnn.version}+{lstm.version}",
                                        f"{cnn.sha256}+{lstm.sha256}", lstm.provider, ood=ood)
            if bg_labels:
                b = scorer.score_bg(vol)
                ood = b.ood if b.ood is not None else ood  # the same verdict (the scorer caches it per volume)
                thr = float(b.threshold)  # the card's, as score_bg read it
                probs = {"hemorrhage": b.p_hemorrhage, "left": b.series_probs["left"], "right": b.series_probs["right"]}
                store.add_model_outputs(study, c.case_id, {lab: probs[BG_LABELS[lab]] for lab in bg_labels}, thr,
                                        b.model.name, b.model.version, b.model.sha256, b.model.provider, ood=ood)
            res = ScoreOutcome(c.case_id, time.perf_counter() - t0, None,
                               None if ood is None else bool(ood.in_distribution), "" if ood is None else ood.reason)
        except NeuroReviewError as exc:
            res = ScoreOutcome(c.case_id, time.perf_counter() - t0, str(exc))
        out.append(res)
        if progress:
            progress(res, i, len(todo))
    return out


def lstm_thresholds(scorer, labels) -> dict[str, float]:
    card = scorer.model("ich_bilstm").card
    return {lab: float(card.thresholds.get(lab, 0.5)) for lab in labels}
